"""Signalling: offers answered, candidates trickled, leaves and kicks, ICE servers for clients.

Written against the transport seam (:mod:`.._rtc.transport`), never against aiortc: a peer
link is made, given the offer and its early candidates, and asked for the answer. Every
failure after an offer claimed its id gives the claim back (unless a newer offer holds it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from .._cluster.backplane import RedisBackplane
from .._errors import Forbidden, InvalidRequest, PeerIdTaken, RateLimited, UnknownPeer
from .._limits import Limits, validate_id, validate_session
from .._rooms.store import RoomStore
from .._rtc.ice import IceServerPool
from .._rtc.transport import Transport
from .._rtc.turn import TurnCredentials, client_ice_servers
from .._wire import protocol
from .._wire.binary import Reassembly
from .._wire.protocol import PROTOCOL_VERSION
from .hooks import Hooks
from .lifecycle import CLOSE_GRACE, Lifecycle
from .offers import AddressRate, EarlyCandidates, remote_addr, validate_offer
from .peer import ServerPeer
from .peers import PeerTable
from .tasks import TaskGroup

__all__ = ["Signaling"]

logger = logging.getLogger(__name__)


class Signaling:
    """The HTTP side of a peer's life: what ``/offer``, ``/candidate``, ``/leave`` and
    ``/ice`` do, and ``kick``.

    Args:
        check_open: raises once the server is closed.
        start: connects what the server shares (the backplane, the UDP mux).
    """

    def __init__(
        self,
        limits: Limits,
        store: RoomStore,
        hooks: Hooks,
        peers: PeerTable,
        lifecycle: Lifecycle,
        tasks: TaskGroup,
        transport: Transport,
        ice: IceServerPool,
        turn: TurnCredentials | None,
        backplane: RedisBackplane | None,
        check_open: Callable[[], None],
        start: Callable[[], Awaitable[None]],
    ) -> None:
        self.limits = limits
        self._store = store
        self._hooks = hooks
        self._peers = peers
        self._lifecycle = lifecycle
        self._tasks = tasks
        self._transport = transport
        self._ice = ice
        self._turn = turn
        self._backplane = backplane
        self._check_open = check_open
        self._start = start
        self.early = EarlyCandidates(limits)
        self._ice_rate = AddressRate(limits.max_ice_requests_per_minute)

    async def offer(
        self,
        room: str,
        peer_id: str,
        offer: dict[str, Any],
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        self._check_open()
        limits = self.limits
        validate_id(room, "room", limits)
        validate_id(peer_id, "peer_id", limits)
        sdp, session, info = validate_offer(offer, limits)
        await self._start()
        addr = remote_addr(metadata)
        if self._hooks.authorizers:
            await self._hooks.authorize(room, peer_id, {**(metadata or {}), "info": info})

        key = (room, peer_id)
        self._peers.check_room_for(addr, key)
        previous = await self._store.claim(room, peer_id, session)
        try:  # from here on, any failure gives the claim back (unless a newer offer holds it)
            if self._backplane is not None:
                if previous is not None:  # the session moved here: its old worker lets go
                    self._tasks.spawn(self._backplane.let_go(previous, room, peer_id, session))
                for parked in await self._backplane.take_parked(room, peer_id, session):
                    self.early.keep(room, peer_id, session, parked, addr)
            self._check_open()
            link = await self._transport.link()
        except BaseException:
            await self._lifecycle.release_claim(room, peer_id, session)
            raise
        streams = Reassembly(limits.max_streams_per_peer, limits.max_reassembly_bytes)
        peer = ServerPeer(room, peer_id, session, link, info, addr, limits.max_queue_bytes, streams)
        pending = self._peers.pending
        old_pending = pending.get(key)
        pending[key] = peer
        if old_pending is not None:
            self._tasks.spawn(self._lifecycle.discard(old_pending))
        self._lifecycle.wire(peer)
        try:
            await link.accept_offer(sdp)
            for candidate in self.early.take(room, peer_id, session):
                await self._add_candidate(peer, candidate)
            peer.remote_set = True
            answer = await link.answer()
        except BaseException:
            if pending.get(key) is peer:
                del pending[key]
            await peer.close()
            await self._lifecycle.release(peer)
            raise
        if pending.get(key) is not peer:  # replaced while we awaited
            await peer.close()
            raise PeerIdTaken(f"peer id {peer_id!r} was claimed again while answering")
        peer.timer = asyncio.get_running_loop().call_later(
            limits.pending_timeout, self._lifecycle.pending_expired, peer
        )
        logger.debug("answered %s/%s", room, peer_id)
        return {
            **answer,
            "session": session,
            "room": room,
            "peer_id": peer_id,
            "protocol": PROTOCOL_VERSION,
        }

    async def candidate(
        self,
        room: str,
        peer_id: str,
        candidate: dict[str, Any],
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._check_open()
        validate_id(room, "room", self.limits)
        validate_id(peer_id, "peer_id", self.limits)
        usable = self._transport.screen_candidate(candidate)  # validates shape and address
        session = validate_session(candidate.get("session"))
        key = (room, peer_id)
        peer = self._peers.get(key)
        if peer is not None and (session is None or session != peer.session):
            raise Forbidden(f"this candidate does not carry {peer_id!r}'s session")
        if peer is None:
            if session is None:
                raise UnknownPeer(f"no peer {peer_id!r} in room {room!r}")
            if not usable:
                return
            plane = self._backplane
            addr = remote_addr(metadata)
            if plane is not None and await plane.route_candidate(
                room, peer_id, candidate, session, addr
            ):
                return
            self.early.keep(room, peer_id, session, candidate, addr)
            return
        if not usable:
            return
        if peer.remote_set:
            await self._add_candidate(peer, candidate)
        else:  # its offer is being applied: keep it for that
            self.early.keep(room, peer_id, peer.session, candidate, peer.remote_addr)

    async def leave(self, room: str, peer_id: str, session: str | None = None) -> None:
        validate_id(room, "room", self.limits)
        validate_id(peer_id, "peer_id", self.limits)
        key = (room, peer_id)
        for table in (self._peers.pending, self._peers.active):
            peer = table.get(key)
            if peer is not None and session is not None and session == peer.session:
                if peer.state == "open":  # the channel may still carry its last messages
                    await peer.wait_remote_close(CLOSE_GRACE)
                await self._lifecycle.remove(peer, "left")
                return
        if self._peers.holds(key):
            logger.debug("leave for %s/%s without its session: ignored", room, peer_id)
        elif session is not None and self._backplane is not None:
            owner = await self._backplane.elsewhere(room, peer_id)
            if owner is not None:
                await self._backplane.forward(owner, "leave", room, peer_id, session)

    async def kick(self, room: str, peer_id: str, reason: str) -> bool:
        if not isinstance(reason, str) or len(reason) > 256:
            raise InvalidRequest("reason must be a string of at most 256 characters")
        protocol.close_notice(reason, reconnect=False)  # refuses what a client cannot decode
        key = (room, peer_id)
        peer = self._peers.active.get(key) or self._peers.pending.get(key)
        if peer is None:
            plane = self._backplane
            owner = plane and await plane.elsewhere(room, peer_id)
            if plane is not None and owner:
                return bool(await plane.forward(owner, "kick", room, peer_id, reason))
            return False
        await self._lifecycle.remove(peer, reason, notify=True)
        return True

    async def client_ice_servers(
        self,
        room: str,
        peer_id: str,
        session: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        self._check_open()
        validate_id(room, "room", self.limits)
        validate_id(peer_id, "peer_id", self.limits)
        session = validate_session(session)
        self._ice_rate.take(remote_addr(metadata), "ICE server requests")
        if self._turn is not None:
            await self._start()
            held = await self._store.holder(room, peer_id)
            if held is not None and held != session:
                raise PeerIdTaken(f"peer id {peer_id!r} is in use in room {room!r}")
        if self._hooks.authorizers:
            await self._hooks.authorize(room, peer_id, {**(metadata or {}), "info": {}})
        usable = await self._ice.usable()  # a STUN server that does not answer is left out
        servers = client_ice_servers(usable, self._turn, peer_id)
        return {"iceServers": servers, "ttl": self._turn.ttl if self._turn else None}

    async def serve(self, op: str, args: list[Any]) -> Any:
        """Run an operation another worker forwarded for a peer this one holds."""
        if op == "candidate":
            return await self.candidate(*args)
        if op == "leave":
            return await self.leave(args[0], args[1], session=args[2])
        if op == "kick":
            return await self.kick(*args)
        if op == "let_go":
            return await self._lifecycle.let_go(*args)
        raise InvalidRequest(f"unknown forwarded operation {op!r}")

    async def _add_candidate(self, peer: ServerPeer, candidate: dict[str, Any]) -> None:
        if not self._transport.screen_candidate(candidate):
            return
        peer.candidates += 1
        if peer.candidates > self.limits.max_candidates_per_peer:
            raise RateLimited(f"more than {self.limits.max_candidates_per_peer} candidates")
        await peer.link.add_candidate(candidate)
