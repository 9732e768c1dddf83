"""The library's logger set-up: never touches the root logger."""

from __future__ import annotations

import logging

__all__ = ["enable_debug_logging"]

_LOGGER_NAME = "peerpyrtc"
_handler: logging.Handler | None = None


def enable_debug_logging() -> None:
    """Log ``peerpyrtc`` at DEBUG level to stderr (idempotent; root logger untouched)."""
    global _handler
    logger = logging.getLogger(_LOGGER_NAME)
    logger.setLevel(logging.DEBUG)
    if _handler is None:
        _handler = logging.StreamHandler()
        _handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        logger.addHandler(_handler)
