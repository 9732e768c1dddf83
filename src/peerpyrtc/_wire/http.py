"""HTTP/1.1 message heads: one strict parser for the built-in server and the HTTP client."""

from __future__ import annotations

import re
from http.cookies import CookieError, SimpleCookie
from typing import NamedTuple

__all__ = ["HeadError", "ParsedHead", "body_length", "parse_cookies", "parse_head", "screen_head"]

#: Headers that decide where a message ends: a second copy is request smuggling's tool.
_SINGLE = frozenset({"content-length", "transfer-encoding", "host"})
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_DIGITS = re.compile(r"[0-9]{1,12}")


class HeadError(ValueError):
    """A message head that this parser refuses; ``status`` is what a server answers."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class ParsedHead(NamedTuple):
    #: The start line's three parts: method, target, version (or version, status, reason).
    start: tuple[str, str, str]
    #: Header names lower-cased; repeated ones (other than the framing ones) joined by ", ".
    headers: dict[str, str]


def parse_head(head: bytes) -> ParsedHead:
    """Parse a head ending in CRLF CRLF. Raises :class:`HeadError` when it is malformed."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) == 2:  # a status line may omit its reason phrase
        parts.append("")
    if len(parts) != 3 or not all(parts[:2]):
        raise HeadError("malformed start line")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN.fullmatch(name):  # no space before the colon, no folding
            raise HeadError(f"malformed header line {line[:60]!r}")
        key = name.lower()
        value = value.strip(" \t")
        if key in headers:
            if key in _SINGLE:
                raise HeadError(f"duplicate {name} header")
            headers[key] += ", " + value
        else:
            headers[key] = value
    return ParsedHead((parts[0], parts[1], parts[2]), headers)


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


def body_length(headers: dict[str, str]) -> int:
    """The body's length from ``Content-Length`` (0 if absent); digits only, nothing else."""
    if "transfer-encoding" in headers:
        raise HeadError("Transfer-Encoding is not accepted: send a Content-Length body", 411)
    value = headers.get("content-length")
    if value is None:
        return 0
    if not _DIGITS.fullmatch(value):  # int() would take "+5", " 5" and "1_0"
        raise HeadError("bad Content-Length")
    return int(value)


def parse_cookies(header: str) -> dict[str, str]:
    """The ``Cookie`` header as a dict (malformed cookies are left out)."""
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:
        return {}
    return {name: morsel.value for name, morsel in jar.items()}
