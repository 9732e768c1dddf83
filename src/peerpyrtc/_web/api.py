"""What the HTTP layer needs of a server: :class:`Served` (the routes) and :class:`Responder`
(the built-in HTTP server); and the one request-body parser every route uses.

``AsyncSignalingManager`` satisfies both; the HTTP layer never imports it.
"""

from __future__ import annotations

from typing import Any, Protocol

from .._errors import InvalidRequest, PayloadTooLarge, ProtocolError
from .._limits import Limits
from .._rooms.metrics import Stats
from .._wire.protocol import loads

__all__ = ["Responder", "Served", "parse_body"]


class Origins(Protocol):
    def check(self, path: str, headers: dict[str, Any]) -> None: ...


class Served(Protocol):
    """The server as its routes see it."""

    @property
    def limits(self) -> Limits: ...

    @property
    def admin_token(self) -> str | None: ...

    @property
    def origins(self) -> Origins: ...

    async def offer(
        self,
        room: str,
        peer_id: str,
        offer: dict[str, Any],
        *,
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]: ...

    async def candidate(
        self,
        room: str,
        peer_id: str,
        candidate: dict[str, Any],
        *,
        metadata: dict[str, Any] | None = None,
    ) -> None: ...

    async def leave(self, room: str, peer_id: str, *, session: str | None = None) -> None: ...

    async def kick(self, room: str, peer_id: str, reason: str = ...) -> bool: ...

    async def client_ice_servers(
        self,
        room: str,
        peer_id: str,
        *,
        session: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]: ...

    def health(self) -> tuple[int, dict[str, str]]: ...

    def room_topology(self, room: str) -> str: ...

    async def fetch_rooms_info(self) -> dict[str, dict[str, Any]]: ...

    def stats(self) -> Stats: ...


class Responder(Protocol):
    """The server as the built-in HTTP server sees it."""

    @property
    def limits(self) -> Limits: ...

    async def respond(
        self, method: str, path: str, body: bytes, metadata: dict[str, Any] | None = None
    ) -> tuple[int, str, bytes]: ...


def parse_body(body: bytes, limits: Limits, fields: tuple[str, ...]) -> dict[str, Any]:
    """A route's JSON object body, with its required ``fields``; raises a 4xx error."""
    if len(body) > limits.max_body_bytes:
        raise PayloadTooLarge(f"request body is larger than {limits.max_body_bytes} bytes")
    try:
        data = loads(body)
    except ProtocolError as exc:
        raise InvalidRequest(f"request body: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidRequest("request body must be a JSON object")
    missing = [f for f in fields if f not in data]
    if missing:
        raise InvalidRequest(f"missing required field(s): {', '.join(missing)}")
    return data
