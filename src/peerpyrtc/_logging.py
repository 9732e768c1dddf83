"""The library's logger set-up: never touches the root logger.

Connection events are logged at INFO with structured fields (``event``, ``room``,
``peer``, ``reason``) in ``extra``: the text format appends them as ``key=value``,
the JSON format (``peerpyrtc serve --log-format json``) writes one object per line.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

__all__ = [
    "FIELDS",
    "JsonFormatter",
    "TextFormatter",
    "configure_logging",
    "enable_debug_logging",
    "redact_url",
]

_LOGGER_NAME = "peerpyrtc"
_handler: logging.Handler | None = None

#: Structured fields a record may carry (``logger.info(..., extra={...})``).
FIELDS = ("event", "room", "peer", "reason", "worker")


def redact_url(url: str) -> str:
    """``scheme://user:password@host/...`` with the password (or a lone token) as ``***``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, path = rest.partition("/")
    credentials, at, host = authority.rpartition("@")
    if not at:
        return url
    user, colon, _ = credentials.partition(":")
    shown = f"{user}:***" if colon else "***"
    return f"{scheme}://{shown}@{host}{slash}{path}"


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: getattr(record, k) for k in FIELDS if getattr(record, k, None) is not None}


class TextFormatter(logging.Formatter):
    """``time logger LEVEL message key=value ...``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(name)s %(levelname)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = " ".join(f"{k}={json.dumps(v)}" for k, v in _fields(record).items())
        return f"{line} {extra}" if extra else line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time`` (ISO 8601, UTC), ``level``, ``logger``,
    ``message``, the structured fields, and ``exception`` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        entry: dict[str, Any] = {
            "time": f"{stamp}.{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: int = logging.INFO, fmt: str = "text") -> None:
    """Log ``peerpyrtc`` to stderr at ``level`` as ``text`` or ``json`` (one handler,
    replaced on a second call; the root logger is untouched)."""
    global _handler
    logger = logging.getLogger(_LOGGER_NAME)
    logger.setLevel(level)
    if _handler is None:
        _handler = logging.StreamHandler()
        logger.addHandler(_handler)
    _handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())


def enable_debug_logging() -> None:
    """Log ``peerpyrtc`` at DEBUG level to stderr (idempotent; root logger untouched)."""
    if _handler is not None and isinstance(_handler.formatter, JsonFormatter):
        logging.getLogger(_LOGGER_NAME).setLevel(logging.DEBUG)  # keep the chosen format
        return
    configure_logging(logging.DEBUG)
