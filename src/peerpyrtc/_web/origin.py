"""Which web pages may drive the signalling routes (a browser's ``Origin``).

A browser sends ``Origin`` on every cross-origin request and on same-origin POSTs; a
Python client or ``curl`` sends none. So a request that carries an ``Origin`` comes from a
page, and only pages of the allowed origins (by default the server's own: the ``Host`` the
request was sent to) may post offers, candidates, ICE requests and admin actions, and only
as ``application/json`` (a cross-site form or ``text/plain`` post cannot). ``/leave`` also
takes the ``text/plain`` beacon a closing page sends (``navigator.sendBeacon``), from an
allowed origin.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from .._errors import Forbidden, UnsupportedMediaType

__all__ = ["OriginPolicy"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
#: Routes a closing page may reach with a ``text/plain`` beacon.
BEACON_ROUTES = ("/leave",)


def _origin(value: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(value.strip())
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 0)
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.scheme, parts.hostname.lower(), port


class OriginPolicy:
    """``allowed``: origins (``"https://app.example.org"``) whose pages may use the routes,
    besides the server's own; ``"*"`` allows every origin (no check at all)."""

    def __init__(self, allowed: Iterable[str] = ()) -> None:
        allowed = list(allowed)
        self.any = "*" in allowed
        self.allowed: set[tuple[str, str, int]] = set()
        for origin in allowed:
            if origin == "*":
                continue
            parsed = _origin(origin) if isinstance(origin, str) else None
            if parsed is None:
                raise ValueError(f"allowed_origins: {origin!r} is not like https://host[:port]")
            self.allowed.add(parsed)

    def check(self, path: str, headers: dict[str, Any]) -> None:
        """Raise for a page of another origin, or a page's non-JSON post (``headers``:
        lower-case names)."""
        origin = headers.get("origin")
        if origin is None or self.any:
            return  # not a page (a page always says where it is), or every page is allowed
        parsed = _origin(str(origin))
        if parsed is None or not (parsed in self.allowed or self._same(parsed, headers)):
            raise Forbidden(f"pages of {str(origin)[:100]} may not use this server's routes")
        kind = str(headers.get("content-type", "")).split(";", 1)[0].strip().lower()
        if kind != "application/json" and not (path in BEACON_ROUTES and kind == "text/plain"):
            raise UnsupportedMediaType("send signalling requests as application/json")

    @staticmethod
    def _same(origin: tuple[str, str, int], headers: dict[str, Any]) -> bool:
        scheme, host, port = origin
        target = _origin(f"{scheme}://{headers.get('host', '')}")
        return target is not None and target[1:] == (host, port)
