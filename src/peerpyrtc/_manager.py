"""AsyncSignalingManager: answers offers, keeps rooms, relays messages, runs hooks.

Signalling lives here, the peers' lifecycle in ``_lifecycle``, what the backend reads
and says into rooms in ``_rooms_api``; a message's way through the
server is ``_relay`` (decode, limits, moderation, routing, then the handler
hooks); offers are validated in ``_offers`` and candidates in ``_candidates``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from typing import Any

from aiortc import RTCPeerConnection, RTCSessionDescription

from ._cluster.backplane import RedisBackplane
from ._core.hooks import HookRegistry, Hooks
from ._core.lifecycle import CLOSE_GRACE, PeerLifecycle
from ._core.offers import (
    AddressRate,
    EarlyCandidates,
    limit_connections,
    remote_addr,
    validate_offer,
)
from ._core.peer import ServerPeer
from ._core.relay import Relay
from ._core.rooms_api import TOPOLOGIES, RoomsAPI
from ._errors import (
    Forbidden,
    InvalidRequest,
    PeerIdTaken,
    PeerPyRTCError,
    RateLimited,
    UnknownPeer,
)
from ._limits import Limits, validate_id, validate_session
from ._logging import enable_debug_logging
from ._rooms.delivery import Delivery
from ._rooms.store import MemoryStore, RoomStore
from ._rtc import patches as _patches
from ._rtc.candidates import AddressPolicy, candidate_from_json, filter_sdp_candidates
from ._rtc.ice import IceServerPool, IceServerSpec, enlarge_socket_buffers, normalize_ice_servers
from ._rtc.network import ServerNetwork
from ._rtc.turn import TurnCredentials, client_ice_servers
from ._web.origin import OriginPolicy
from ._wire import protocol
from ._wire.protocol import PROTOCOL_VERSION

__all__ = ["AsyncSignalingManager"]

logger = logging.getLogger(__name__)

Key = tuple[str, str]

_BACKPLANES = ("redis://", "rediss://", "unix://")


class AsyncSignalingManager(HookRegistry, PeerLifecycle, RoomsAPI):
    """The relay server's core, running in the caller's event loop.

    Args:
        ice_servers: STUN/TURN servers as URLs or ``{"urls", "username",
            "credential"}`` dicts. None (the default) means none at all.
        debug: log at DEBUG level to stderr (the ``peerpyrtc`` logger only).
        limits: bounds on ids, sizes, rates, rooms and queues.
        admin_token: the bearer token that opens the admin routes (``GET /rooms``);
            None (the default) keeps them closed: no room data leaves the server.
        turn_secret: coturn's ``static-auth-secret``: clients get TURN credentials minted
            for them (``POST /ice``, ``turn_ttl`` seconds) for ``turn_urls``; the secret
            never leaves the server. None (the default): no TURN for clients.
        topology: ``"relay"`` (the default: every message goes through the server) or
            ``"mesh"`` (peers also connect directly to each other; messages travel peer
            to peer, server hooks do not see them), or a callable taking a room name and
            returning one of these (per room; it must answer the same on every worker).
        backplane: ``"redis://host:6379/0"`` (or ``unix://``, ``rediss://``) to share
            rooms with every worker using the same Redis (``pip install
            'peerpyrtc[redis]'``); None (the default) keeps rooms in this process.
        public_ip: the address clients reach this server at when it sits behind 1:1 NAT
            (a cloud VM): answers announce it instead of the private address.
        keep_private_candidates: with ``public_ip``, announce the private addresses too
            (after it): for a TURN server on the same VM, which relays to them.
        udp_ports: ``(low, high)`` or ``"low-high"``: bind every ICE socket in this range.
        udp_port: one UDP port shared by every peer connection (single-port mode).
        allowed_origins: web origins (``"https://app.example.org"``) whose pages may use
            the routes besides the server's own; ``["*"]``: any (docs/security.md).
    """

    def __init__(
        self,
        *,
        ice_servers: Iterable[IceServerSpec] | None = None,
        debug: bool = False,
        limits: Limits | None = None,
        admin_token: str | None = None,
        topology: str | Callable[[str], str] = "relay",
        backplane: str | None = None,
        turn_secret: str | None = None,
        turn_urls: Iterable[str] = (),
        turn_ttl: int = 600,
        public_ip: str | None = None,
        udp_ports: str | tuple[int, int] | None = None,
        udp_port: int | None = None,
        keep_private_candidates: bool = False,
        allowed_origins: Iterable[str] = (),
    ) -> None:
        _patches.apply()
        if debug:
            enable_debug_logging()
        self.limits = limits or Limits()
        if admin_token is not None and (not isinstance(admin_token, str) or len(admin_token) < 16):
            raise ValueError("admin_token must be a string of at least 16 characters")
        self.admin_token = admin_token
        self.origins = OriginPolicy(allowed_origins)
        self._ice = IceServerPool(normalize_ice_servers(ice_servers))
        self._turn = TurnCredentials(turn_secret, turn_urls, turn_ttl) if turn_secret else None
        self._network = ServerNetwork(
            public_ip=public_ip, udp_ports=udp_ports, udp_port=udp_port,
            keep_private=keep_private_candidates,
        )  # fmt: skip
        self._policy = AddressPolicy(self.limits.blocked_candidate_networks)
        self._backplane: RedisBackplane | None = None
        self._store: RoomStore
        if backplane is not None:
            if not isinstance(backplane, str) or not backplane.startswith(_BACKPLANES):
                raise ValueError(f"backplane must be a URL starting with one of {_BACKPLANES}")
            self._backplane = RedisBackplane(backplane, self.limits)
            self._store = self._backplane.store
        else:
            self._store = MemoryStore(self.limits)
        self._hooks = Hooks()
        self._active: dict[Key, ServerPeer] = {}
        self._pending: dict[Key, ServerPeer] = {}
        self._early = EarlyCandidates(self.limits)
        self._ice_rate = AddressRate(self.limits.max_ice_requests_per_minute)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._heartbeat: asyncio.TimerHandle | None = None
        self._closed = False
        if not callable(topology) and topology not in TOPOLOGIES:
            raise ValueError(f"topology must be one of {TOPOLOGIES} or a callable")
        self.topology = topology
        self._delivery = self._make_delivery()
        #: Counters and gauges for ``GET /metrics``.
        self.metrics = self._delivery.metrics
        self._relay = Relay(
            self._delivery,
            self._hooks,
            self.limits,
            lambda peer, reason: self._spawn(self._remove(peer, reason)),
            self.room_topology,
        )

    # -------------------------------------------------------------- signalling
    async def offer(
        self,
        room: str,
        peer_id: str,
        offer: dict[str, Any],
        *,
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Answer a client's offer; returns ``{"sdp", "type", "session", ...}``.

        Raises:
            InvalidRequest: a malformed room, peer id or offer.
            Forbidden: an ``authorize`` hook refused.
            PeerIdTaken: another session holds ``peer_id`` in ``room``.
            RoomFull: the room or server is at its configured size.
            RateLimited: too many offers wait to connect (server-wide or from this address).
        """
        self._check_open()
        limits = self.limits
        validate_id(room, "room", limits)
        validate_id(peer_id, "peer_id", limits)
        sdp, session, info = validate_offer(offer, limits)
        await self.start()
        addr = remote_addr(metadata)
        if self._hooks.authorizers:
            await self._hooks.authorize(room, peer_id, {**(metadata or {}), "info": info})

        key = (room, peer_id)
        configuration = await self._ice.configuration()
        self._check_open()
        limit_connections(self.limits, self._pending, self._active, addr, key)
        previous = await self._store.claim(room, peer_id, session)
        try:  # from here on, any failure gives the claim back (unless a newer offer holds it)
            if self._backplane is not None:
                if previous is not None:  # the session moved here: its old worker lets go
                    self._spawn(self._backplane.let_go(previous, room, peer_id, session))
                for parked in await self._backplane.take_parked(room, peer_id, session):
                    self._early.keep(room, peer_id, session, parked, addr)
            self._check_open()
            pc = RTCPeerConnection(configuration)
        except BaseException:
            await self._release_claim(room, peer_id, session)
            raise
        peer = ServerPeer(room, peer_id, session, pc, info, addr, limits.max_queue_bytes)
        old_pending = self._pending.get(key)
        self._pending[key] = peer
        if old_pending is not None:
            self._spawn(self._discard(old_pending))
        self._wire(peer)
        try:
            try:
                screened = filter_sdp_candidates(sdp, self._policy)
                await pc.setRemoteDescription(RTCSessionDescription(sdp=screened, type="offer"))
                for candidate in self._early.take(room, peer_id, session):
                    await self._add_candidate(peer, candidate)
                peer.remote_set = True
                await self._network.prepare(pc)
                await pc.setLocalDescription(await pc.createAnswer())
            except PeerPyRTCError:
                raise
            except Exception as exc:  # aiortc's parser raises ValueError, KeyError, ...
                raise InvalidRequest(f"the offer's SDP was refused: {str(exc)[:200]}") from exc
            enlarge_socket_buffers(pc)
        except BaseException:
            if self._pending.get(key) is peer:
                del self._pending[key]
            await peer.close()
            await self._release(peer)
            raise
        if self._pending.get(key) is not peer:  # replaced while we awaited
            await peer.close()
            raise PeerIdTaken(f"peer id {peer_id!r} was claimed again while answering")
        peer.timer = asyncio.get_running_loop().call_later(
            limits.pending_timeout, self._pending_expired, peer
        )
        logger.debug("answered %s/%s", room, peer_id)
        return {
            "sdp": self._network.announce(pc.localDescription.sdp),
            "type": pc.localDescription.type,
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
        *,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Add a trickled ICE candidate (the browser's ``RTCIceCandidate.toJSON()``).

        The candidate object carries the session secret (``session``). Candidates
        that arrive before their offer are kept for a while and applied then.
        Candidates for addresses the server must not probe (``Limits.
        blocked_candidate_networks``), host names and mDNS names are skipped.

        Raises:
            InvalidRequest: malformed candidate.
            Forbidden: the session does not match the peer's.
            UnknownPeer: no such peer and no session to keep the candidate for.
            RateLimited: more candidates than ``Limits.max_candidates_per_peer``.
        """
        self._check_open()
        validate_id(room, "room", self.limits)
        validate_id(peer_id, "peer_id", self.limits)
        parsed = candidate_from_json(candidate, self._policy)  # validates shape and address
        session = validate_session(candidate.get("session"))
        key = (room, peer_id)
        peer = self._pending.get(key) or self._active.get(key)
        if peer is not None and (session is None or session != peer.session):
            raise Forbidden(f"this candidate does not carry {peer_id!r}'s session")
        if peer is None:
            if session is None:
                raise UnknownPeer(f"no peer {peer_id!r} in room {room!r}")
            if parsed is None:
                return
            plane = self._backplane
            addr = remote_addr(metadata)
            if plane is not None and await plane.route_candidate(
                room, peer_id, candidate, session, addr
            ):
                return
            self._early.keep(room, peer_id, session, candidate, addr)
            return
        if parsed is None:
            return
        if peer.remote_set:
            await self._add_candidate(peer, candidate)
        else:  # its offer is being applied: keep it for that
            self._early.keep(room, peer_id, peer.session, candidate, peer.remote_addr)

    async def leave(self, room: str, peer_id: str, *, session: str | None = None) -> None:
        """Remove a peer, if ``session`` proves the caller is that peer.

        Without proof this is a quiet no-op: a client leaves by saying goodbye
        over its own DataChannel, whose DTLS session is its identity. With
        proof, an open peer's channel is drained first (bounded), so what it
        sent before leaving is delivered.
        """
        validate_id(room, "room", self.limits)
        validate_id(peer_id, "peer_id", self.limits)
        key = (room, peer_id)
        for table in (self._pending, self._active):
            peer = table.get(key)
            if peer is not None and session is not None and session == peer.session:
                if peer.state == "open":  # the channel may still carry its last messages
                    await peer.wait_remote_close(CLOSE_GRACE)
                await self._remove(peer, "left")
                return
        if key in self._active or key in self._pending:
            logger.debug("leave for %s/%s without its session: ignored", room, peer_id)
        elif session is not None and self._backplane is not None:
            owner = await self._backplane.elsewhere(room, peer_id)
            if owner is not None:
                await self._backplane.forward(owner, "leave", room, peer_id, session)

    async def kick(self, room: str, peer_id: str, reason: str = "removed by the server") -> bool:
        """Remove a peer on the backend's authority; it sees ``reason`` and does not reconnect.

        Returns False when there is no such peer.
        """
        if not isinstance(reason, str) or len(reason) > 256:
            raise InvalidRequest("reason must be a string of at most 256 characters")
        protocol.close_notice(reason, reconnect=False)  # refuses what a client cannot decode
        key = (room, peer_id)
        peer = self._active.get(key) or self._pending.get(key)
        if peer is None:
            owner = self._backplane and await self._backplane.elsewhere(room, peer_id)
            if owner:
                return bool(await self._backplane.forward(owner, "kick", room, peer_id, reason))  # type: ignore[union-attr]
            return False
        await self._remove(peer, reason, notify=True)
        return True

    async def client_ice_servers(
        self,
        room: str,
        peer_id: str,
        *,
        session: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The ICE servers a client should use (``POST /ice``): ``{"iceServers", "ttl"}``.

        STUN servers as configured, and TURN credentials minted for ``peer_id`` when a
        ``turn_secret`` is set: only for clients the ``authorize`` hooks admit, only for an
        id that is free or held by ``session``, and at most
        ``Limits.max_ice_requests_per_minute`` per address.

        Raises:
            RateLimited: too many requests from this address.
            PeerIdTaken: another session holds ``peer_id`` (nothing is minted for it).
        """
        self._check_open()
        validate_id(room, "room", self.limits)
        validate_id(peer_id, "peer_id", self.limits)
        session = validate_session(session)
        self._ice_rate.take(remote_addr(metadata), "ICE server requests")
        if self._turn is not None:
            await self.start()
            held = await self._store.holder(room, peer_id)
            if held is not None and held != session:
                raise PeerIdTaken(f"peer id {peer_id!r} is in use in room {room!r}")
        if self._hooks.authorizers:
            await self._hooks.authorize(room, peer_id, {**(metadata or {}), "info": {}})
        usable = await self._ice.usable()  # a STUN server that does not answer is left out
        servers = client_ice_servers(usable, self._turn, peer_id)
        return {"iceServers": servers, "ttl": self._turn.ttl if self._turn else None}

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Connect to the backplane now (else on first use); nothing to do without one.

        Raises:
            Unavailable: the backplane cannot be reached.
        """
        self._check_open()
        await self._network.start()
        if self._backplane is not None:
            await self._backplane.start(self)

    async def close(self) -> None:
        """Close every peer connection and end every task and timer."""
        if self._closed:
            return
        self._closed = True
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            self._heartbeat = None
        bye = protocol.close_notice("server shutting down", reconnect=True)
        peers = list(self._pending.values()) + list(self._active.values())
        for peer in peers:
            if peer.state == "open":
                peer.queue.send_last(bye)
        self._pending.clear()
        self._active.clear()
        self._delivery.local.clear()
        self._early.clear()
        await self._vacate(peers)
        await asyncio.gather(*(p.wait_remote_close(CLOSE_GRACE) for p in peers))
        await asyncio.gather(*(p.close() for p in peers), return_exceptions=True)
        await self._hooks.close()
        await self._network.close()
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self._ice.close()
        if self._backplane is not None:
            await self._backplane.close()
        await self._store.close()

    async def __aenter__(self) -> AsyncSignalingManager:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------- internals
    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this AsyncSignalingManager is closed")

    async def _vacate(self, peers: list[ServerPeer]) -> None:
        """Take this process's peers out of the room store (they are being closed); with a
        backplane the other workers' peers are told they left."""
        for peer in peers:
            if peer.state == "pending":
                await self._store.release(peer.room, peer.id, peer.session)
                continue
            with contextlib.suppress(Exception):  # a backplane may be unreachable
                left = await self._store.leave(peer.room, peer.id, peer.session)
                if left is not None and self._backplane is not None:
                    raw = protocol.left(left.member, left.host_id, "server shutting down")
                    self._delivery.presence(peer.room, raw, peer.id, False)
                    if left.new_host:
                        self._delivery.deliver(peer.room, protocol.host_changed(left.new_host))
        if self._backplane is not None:
            await self._backplane.delivery.flush()

    def _make_delivery(self) -> Delivery:
        if self._backplane is not None:
            return self._backplane.delivery
        return Delivery(self._memory_store().next_seq_nowait)

    async def _add_candidate(self, peer: ServerPeer, candidate: dict[str, Any]) -> None:
        parsed = candidate_from_json(candidate, self._policy)
        if parsed is None:
            return
        peer.candidates += 1
        if peer.candidates > self.limits.max_candidates_per_peer:
            raise RateLimited(f"more than {self.limits.max_candidates_per_peer} candidates")
        try:
            await peer.pc.addIceCandidate(parsed)
        except Exception as exc:  # aiortc raises ValueError/others for unusable ones
            raise InvalidRequest(f"the candidate was refused: {exc}") from exc
