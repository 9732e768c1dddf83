"""The room store: who holds which id, who is in which room, who is host, the broadcast order.

Everything a room needs to agree on lives behind :class:`RoomStore`, so a
cluster can share it (``_redis_store``) while one process keeps it in memory
(:class:`MemoryStore`, plain data, no I/O). Connections are not here: a
store knows ids, sessions, presence data and which worker owns a peer, never
a socket. Every implementation passes the same contract suite
(``tests/integration/test_store_contract.py``).

The life of an id in a store::

    claim(room, id, session)   # at /offer: unique id, room and server caps
    join(room, id, session, info)  # the channel opened: a member, maybe host
    leave(room, id, session)   # gone: host handed to the longest present
    release(room, id, session) # a claim that never joined (failed, expired)

Calls with a session that does not hold the id change nothing, so a stale
worker or a late duplicate can never evict the current holder.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any

from .._errors import PeerIdTaken, RoomFull
from .._limits import Limits
from .room import Member, RoomRegistry

__all__ = ["Joined", "Left", "MemoryStore", "RoomStore"]


@dataclass(frozen=True)
class Joined:
    """What a join changed and what the joiner is told."""

    #: The joiner's public description (``id``, ``isHost``, ``joinedAt``, info).
    member: dict[str, Any]
    #: The room's host after the join.
    host_id: str
    #: Every member's description, in join order (the joiner included).
    peers: list[dict[str, Any]]
    #: True when the id was already a member (the same session reconnected).
    rejoined: bool
    #: The member's place in the join order (larger joined later).
    order: int = 0


@dataclass(frozen=True)
class Left:
    """What a leave changed."""

    #: The member's description as it was (``isHost`` is the role it had).
    member: dict[str, Any]
    #: The host after the leave (None once the room is empty).
    host_id: str | None
    #: The new host when the leaver was host and someone remains, else None.
    new_host: str | None


class RoomStore(abc.ABC):
    """Room membership, id claims, host election, broadcast sequence and presence.

    Implementations are async (a shared store does I/O) and must be safe under
    concurrent calls from one event loop; a shared store must also be atomic
    across processes (exactly one host, one holder per id).
    """

    def __init__(self, limits: Limits | None = None, *, worker_id: str = "local") -> None:
        self.limits = limits or Limits()
        #: Which worker this store speaks for (the owner of peers it claims).
        self.worker_id = worker_id

    @abc.abstractmethod
    async def claim(self, room: str, peer_id: str, session: str) -> str | None:
        """Reserve ``peer_id`` in ``room`` for ``session`` (again, if it holds it already),
        owned by this store's worker. Returns the worker that owned it before when that was
        another one (the session moved: that worker must let its connection go), else None.

        Raises:
            PeerIdTaken: another session holds the id.
            RoomFull: the room has ``max_peers_per_room`` claims, or the store
                ``max_rooms`` rooms and this one is new.
        """

    @abc.abstractmethod
    async def release(
        self, room: str, peer_id: str, session: str, *, owner: str | None = None
    ) -> None:
        """Give up a claim that is not (or no longer) a member; no-op for another session,
        or when ``owner`` (default: this store's worker) no longer owns it."""

    @abc.abstractmethod
    async def join(self, room: str, peer_id: str, session: str, info: dict[str, Any]) -> Joined:
        """Make a claimed id a member (the first member is host); a member rejoins in place.

        Raises:
            PeerIdTaken: the id is not claimed by ``session``.
        """

    @abc.abstractmethod
    async def leave(
        self, room: str, peer_id: str, session: str, *, owner: str | None = None
    ) -> Left | None:
        """Take a member out and release its claim; None when ``session`` is not a member or
        ``owner`` (default: this store's worker; the reaper names a dead one) does not own
        it: every change is conditional on the owner that made it."""

    @abc.abstractmethod
    async def next_seq(self, room: str) -> int:
        """The next broadcast number of a room with members: 1, 2, 3, ... one order for all.

        The sequence starts again at 1 once a room has emptied.
        """

    @abc.abstractmethod
    async def owner(self, room: str, peer_id: str) -> str | None:
        """The worker that claimed ``peer_id`` (None when unclaimed)."""

    @abc.abstractmethod
    async def holder(self, room: str, peer_id: str) -> str | None:
        """The session that holds ``peer_id`` (None when unclaimed)."""

    @abc.abstractmethod
    async def room_peers(self, room: str) -> list[dict[str, Any]]:
        """Every member's description, in join order ([] for an unknown room)."""

    @abc.abstractmethod
    async def rooms_info(self) -> dict[str, dict[str, Any]]:
        """``{room: {"peer_count", "peers", "host_id"}}`` for every room with members."""

    async def close(self) -> None:  # noqa: B027 - most stores hold nothing to let go of
        """Let go of any connection the store holds."""


class MemoryStore(RoomStore):
    """One process's rooms, as plain data (the default store)."""

    def __init__(self, limits: Limits | None = None, *, worker_id: str = "local") -> None:
        super().__init__(limits, worker_id=worker_id)
        self.registry = RoomRegistry()
        #: ``{room: {peer_id: session}}``: claimed ids, members included.
        self.claims: dict[str, dict[str, str]] = {}

    # The synchronous core; the async methods are this plus the interface.
    def claim_nowait(self, room: str, peer_id: str, session: str) -> None:
        held = self.claims.get(room)
        if held is not None and peer_id in held:
            if held[peer_id] != session:
                raise PeerIdTaken(f"peer id {peer_id!r} is already in use in room {room!r}")
            return
        limits = self.limits
        if held is not None and len(held) >= limits.max_peers_per_room:
            raise RoomFull(f"room {room!r} is full ({limits.max_peers_per_room} peers)")
        if held is None and len(self.claims) >= limits.max_rooms:
            raise RoomFull(f"this server holds its maximum of {limits.max_rooms} rooms")
        self.claims.setdefault(room, {})[peer_id] = session

    def _unclaim(self, room: str, peer_id: str) -> None:
        held = self.claims.get(room)
        if held is not None:
            held.pop(peer_id, None)
            if not held:
                del self.claims[room]

    def next_seq_nowait(self, room: str) -> int:
        r = self.registry.get(room)
        if r is None:
            raise KeyError(f"no room {room!r}")
        return r.next_seq()

    async def claim(self, room: str, peer_id: str, session: str) -> str | None:
        self.claim_nowait(room, peer_id, session)
        return None  # one worker: nobody else can have held it

    def _foreign(self, owner: str | None) -> bool:
        return owner is not None and owner != self.worker_id

    async def release(
        self, room: str, peer_id: str, session: str, *, owner: str | None = None
    ) -> None:
        if self._foreign(owner):
            return
        held = self.claims.get(room)
        if held is None or held.get(peer_id) != session:
            return
        r = self.registry.get(room)
        if r is not None and peer_id in r.members:
            return  # a member leaves through leave()
        self._unclaim(room, peer_id)

    async def join(self, room: str, peer_id: str, session: str, info: dict[str, Any]) -> Joined:
        if self.claims.get(room, {}).get(peer_id) != session:
            raise PeerIdTaken(f"peer id {peer_id!r} is not claimed by this session")
        r = self.registry.get(room)
        if r is not None and peer_id in r.members:
            member = r.members[peer_id]
            member.info = info
            return Joined(r.describe(member), r.host_id or peer_id, r.peers(), True, member.order)
        r, _ = self.registry.join(room, Member(peer_id, info))
        member = r.members[peer_id]
        return Joined(r.describe(member), r.host_id or peer_id, r.peers(), False, member.order)

    async def leave(
        self, room: str, peer_id: str, session: str, *, owner: str | None = None
    ) -> Left | None:
        r = self.registry.get(room)
        if r is None or peer_id not in r.members or self._foreign(owner):
            return None
        if self.claims.get(room, {}).get(peer_id) != session:
            return None
        description = r.describe(r.members[peer_id])  # before the leave: the role it had
        self.registry.leave(room, peer_id)
        new_host = r.host_id if description["isHost"] else None
        self._unclaim(room, peer_id)
        return Left(description, r.host_id, new_host)

    async def next_seq(self, room: str) -> int:
        return self.next_seq_nowait(room)

    async def owner(self, room: str, peer_id: str) -> str | None:
        return self.worker_id if peer_id in self.claims.get(room, {}) else None

    async def holder(self, room: str, peer_id: str) -> str | None:
        return self.claims.get(room, {}).get(peer_id)

    async def room_peers(self, room: str) -> list[dict[str, Any]]:
        return self.room_peers_nowait(room)

    async def rooms_info(self) -> dict[str, dict[str, Any]]:
        return self.registry.info()

    def room_peers_nowait(self, room: str) -> list[dict[str, Any]]:
        r = self.registry.get(room)
        return r.peers() if r is not None else []
