"""HTTP/1.1 heads: what the built-in server refuses on top of h11, and cookies."""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie

__all__ = ["HeadError", "parse_cookies", "screen_head"]

#: Headers that decide where a message ends: a second copy is request smuggling's tool.
_SINGLE = frozenset({"content-length", "transfer-encoding", "host"})


class HeadError(ValueError):
    """A message head that this parser refuses; ``status`` is what a server answers."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def screen_head(head: bytes) -> None:
    """What a lenient parser (h11) lets through and this server refuses, as a smuggling
    precaution: a second copy of a framing header (even an identical one, which h11 merges)
    and folded header lines. Raises :class:`HeadError`."""
    seen: set[str] = set()
    for line in head.split(b"\r\n")[1:]:
        if not line:
            continue
        if line[:1] in (b" ", b"\t"):
            raise HeadError("folded header lines are not accepted")
        name = line.partition(b":")[0].decode("latin-1").lower()
        if name in _SINGLE:
            if name in seen:
                raise HeadError(f"duplicate {name} header")
            seen.add(name)


def parse_cookies(header: str) -> dict[str, str]:
    """The ``Cookie`` header as a dict (malformed cookies are left out)."""
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:
        return {}
    return {name: morsel.value for name, morsel in jar.items()}
