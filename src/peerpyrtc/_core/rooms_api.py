"""What a backend asks of rooms: who is in them, how they talk, and speaking into them.

:class:`~peerpyrtc.AsyncSignalingManager` delegates its room methods here; this object
receives the store, the relay and (with one) the backplane, and reads nothing else.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from .._cluster.backplane import RedisBackplane
from .._errors import InvalidRequest, UnknownPeer
from .._rooms.delivery import Lane
from .._rooms.store import MemoryStore, RoomStore
from .._wire.protocol import MAX_EVENT_LENGTH
from .relay import Relay

__all__ = ["TOPOLOGIES", "RoomsAPI", "check_topology"]

logger = logging.getLogger(__name__)

TOPOLOGIES = ("relay", "mesh")


def check_topology(topology: object) -> None:
    if not callable(topology) and topology not in TOPOLOGIES:
        raise ValueError(f"topology must be one of {TOPOLOGIES} or a callable")


class RoomsAPI:
    """Room info, topology and the server's speech.

    Args:
        is_closed: whether the server is closed.
        start: connects the backplane (the server's ``start``).
    """

    def __init__(
        self,
        topology: str | Callable[[str], str],
        store: RoomStore,
        relay: Relay,
        backplane: RedisBackplane | None,
        is_closed: Callable[[], bool],
        start: Callable[[], Awaitable[None]],
    ) -> None:
        check_topology(topology)
        self.topology = topology
        self._store = store
        self._relay = relay
        self._backplane = backplane
        self._is_closed = is_closed
        self._start = start

    def _check_open(self) -> None:
        if self._is_closed():
            raise RuntimeError("this AsyncSignalingManager is closed")

    def room_topology(self, room: str) -> str:
        """``"relay"`` or ``"mesh"``: how the peers of ``room`` exchange messages."""
        topology = self.topology
        if not callable(topology):
            return topology
        try:
            decided = topology(room)
        except Exception:
            logger.exception("the topology callable raised for room %r: relay", room)
            return "relay"
        if decided not in TOPOLOGIES:
            logger.error("the topology callable answered %r for room %r: relay", decided, room)
            return "relay"
        return decided

    def health(self) -> tuple[int, dict[str, str]]:
        """``GET /health``: 200 while this server takes offers, 503 once closed. With a
        backplane, ``backplane`` says whether the Redis link is up (without it, this
        worker keeps serving its own peers: still 200)."""
        if self._is_closed():
            return 503, {"status": "closed", "code": "ERR_UNAVAILABLE"}
        body = {"status": "ok"}
        if self._backplane is not None:
            body["backplane"] = "linked" if self._backplane.delivery.linked else "lost"
        return 200, body

    # ------------------------------------------------------------- room info
    def rooms_info(self) -> dict[str, dict[str, Any]]:
        """``{room: {"peer_count", "peers", "host_id"}}`` for every room.

        Reads the in-process store; with a backplane, ``await fetch_rooms_info()``.
        """
        return self._memory_store().registry.info()

    def get_room_peers(self, room: str) -> list[dict[str, Any]]:
        """Peers of ``room`` (``id``, ``isHost``, ``joinedAt``, client info), in join order.

        Reads the in-process store; with a backplane, ``await fetch_room_peers(room)``.
        """
        return self._memory_store().room_peers_nowait(room)

    async def fetch_rooms_info(self) -> dict[str, dict[str, Any]]:
        """:meth:`rooms_info` from the room store (every worker's peers, with a backplane)."""
        return await self._store.rooms_info()

    async def fetch_room_peers(self, room: str) -> list[dict[str, Any]]:
        """:meth:`get_room_peers` from the room store (every worker's, with a backplane)."""
        return await self._store.room_peers(room)

    # ------------------------------------------------------- server speaking
    async def send_message(self, room: str, message: str | bytes) -> int:
        """Send a plain message from ``"server"`` to every peer of ``room``; returns how many."""
        if not isinstance(message, (str, bytes, bytearray, memoryview)):
            raise InvalidRequest("message must be a string or bytes")
        self._check_open()
        return await self._speak(room, self._relay.frames("msg", None, message, None), None)

    async def emit(
        self,
        room: str,
        event: str,
        data: Any = None,
        to: str | None = None,
        *,
        volatile: bool = False,
    ) -> int:
        """Emit ``event`` from ``"server"`` to every peer of ``room``, or only to ``to``."""
        if not isinstance(event, str) or not 0 < len(event) <= MAX_EVENT_LENGTH:
            raise InvalidRequest(f"event must be a string of 1 to {MAX_EVENT_LENGTH} characters")
        self._check_open()
        frames = self._relay.frames("emit", event, data, to, volatile=volatile)
        return await self._speak(room, frames, to)

    async def _speak(
        self, room: str, frames: list[tuple[str | bytes, Lane]], to: str | None
    ) -> int:
        if self._backplane is None:
            return self._relay.speak(room, frames, to)
        await self._start()
        ids = [p["id"] for p in await self._store.room_peers(room)]  # every worker's peers
        if to is not None and to not in ids:
            raise UnknownPeer(f"no peer {to!r} in room {room!r}")
        self._relay.speak(room, frames, to, known=True)
        return 1 if to is not None else len(ids)

    def _memory_store(self) -> MemoryStore:
        store = self._store
        if not isinstance(store, MemoryStore):
            raise RuntimeError("rooms live in a shared store here: await the fetch_* methods")
        return store
