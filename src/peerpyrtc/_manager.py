"""AsyncSignalingManager: the composition root of the server.

It builds the server's objects from one :class:`~peerpyrtc.ServerOptions` and wires them
through narrow interfaces: the transport (:mod:`._rtc.transport`, aiortc today), the room
store and delivery (in memory, or the Redis backplane's), the peer table and task group,
signalling (:mod:`._core.signaling`), the peers' lifecycle (:mod:`._core.lifecycle`), the
relay (:mod:`._core.relay`) and the rooms API (:mod:`._core.rooms_api`). Its public methods
delegate to them; :meth:`respond` serves HTTP through :mod:`._web.routes`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ._cluster.backplane import RedisBackplane
from ._cluster.host import HostedPeer
from ._core.hooks import HookRegistry, Hooks
from ._core.lifecycle import CLOSE_GRACE, Lifecycle
from ._core.offers import EarlyCandidates
from ._core.peer import ServerPeer
from ._core.peers import PeerTable
from ._core.relay import Relay
from ._core.rooms_api import RoomsAPI
from ._core.signaling import Signaling
from ._core.tasks import TaskGroup
from ._limits import Limits
from ._logging import enable_debug_logging
from ._options import ServerOptions
from ._rooms.delivery import Delivery
from ._rooms.metrics import Metrics, Stats
from ._rooms.store import Left, MemoryStore, RoomStore
from ._rtc import patches as _patches
from ._rtc.aiortc_transport import AiortcTransport
from ._rtc.ice import IceServerPool, IceServerSpec, normalize_ice_servers
from ._rtc.turn import TurnCredentials
from ._web import prometheus, routes
from ._web.origin import OriginPolicy
from ._wire import protocol

__all__ = ["AsyncSignalingManager", "ServerParts"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerParts:
    """The objects a server is composed of, for diagnostics and tests (not a stable API:
    their types are private and change between releases)."""

    peers: PeerTable
    store: RoomStore
    delivery: Delivery
    transport: AiortcTransport
    backplane: RedisBackplane | None
    early: EarlyCandidates
    tasks: TaskGroup


class AsyncSignalingManager(HookRegistry):
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
        options: a :class:`~peerpyrtc.ServerOptions` instead of the keywords above.
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
        options: ServerOptions | None = None,
    ) -> None:
        if options is None:
            options = ServerOptions(
                ice_servers=tuple(ice_servers) if ice_servers is not None else None,
                debug=debug, limits=limits or Limits(), admin_token=admin_token,
                topology=topology, backplane=backplane, turn_secret=turn_secret,
                turn_urls=tuple(turn_urls), turn_ttl=turn_ttl, public_ip=public_ip,
                udp_ports=udp_ports, udp_port=udp_port,
                keep_private_candidates=keep_private_candidates,
                allowed_origins=tuple(allowed_origins),
            )  # fmt: skip
        _patches.apply()
        if options.debug:
            enable_debug_logging()
        #: The validated options this server was built from.
        self.options = options
        self.limits = limits = options.limits
        self.admin_token = options.admin_token
        self.origins = OriginPolicy(options.allowed_origins)
        self.hooks = Hooks()
        #: Counters for ``GET /metrics`` (read them through :meth:`stats`).
        self.metrics = Metrics()
        #: This process's pending and open connections (for diagnostics and tests).
        self.peers = PeerTable(limits)
        self._tasks = TaskGroup()
        self._closed = False
        ice = IceServerPool(normalize_ice_servers(options.ice_servers))
        self._transport = AiortcTransport(ice, options.network(), limits.blocked_candidate_networks)
        turn = None
        if options.turn_secret:
            turn = TurnCredentials(options.turn_secret, options.turn_urls, options.turn_ttl)
        self._backplane: RedisBackplane | None = None
        self._store: RoomStore
        delivery: Delivery
        if options.backplane is not None:
            self._backplane = RedisBackplane(options.backplane, limits, self.metrics)
            self._store, delivery = self._backplane.store, self._backplane.delivery
        else:
            memory = MemoryStore(limits)
            self._store, delivery = memory, Delivery(memory.next_seq_nowait, self.metrics)
        self._delivery = delivery
        self._lifecycle = lifecycle = Lifecycle(
            limits, self._store, self.hooks, delivery, self.metrics, self.peers, self._tasks,
            self.room_topology,
        )  # fmt: skip
        self._relay = Relay(
            delivery, self.hooks, limits,
            lambda peer, reason: self._tasks.spawn(lifecycle.remove(peer, reason)),
            self.room_topology, self.metrics,
        )  # fmt: skip
        lifecycle.on_frame = self._relay.on_frame
        lifecycle.on_volatile = self._relay.on_volatile
        lifecycle.on_removed = self._relay.forget
        self._signaling = Signaling(
            limits, self._store, self.hooks, self.peers, lifecycle, self._tasks,
            self._transport, ice, turn, self._backplane, self._check_open, self.start,
        )  # fmt: skip
        #: The composed objects (:class:`ServerParts`).
        self.parts = ServerParts(
            self.peers, self._store, delivery, self._transport, self._backplane,
            self._signaling.early, self._tasks,
        )  # fmt: skip
        self._rooms = RoomsAPI(
            options.topology, self._store, self._relay, self._backplane,
            lambda: self._closed, self.start,
        )  # fmt: skip

    @property
    def topology(self) -> str | Callable[[str], str]:
        """``"relay"``, ``"mesh"`` or the callable deciding per room."""
        return self._rooms.topology

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
        return await self._signaling.offer(room, peer_id, offer, metadata)

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
        await self._signaling.candidate(room, peer_id, candidate, metadata)

    async def leave(self, room: str, peer_id: str, *, session: str | None = None) -> None:
        """Remove a peer, if ``session`` proves the caller is that peer.

        Without proof this is a quiet no-op: a client leaves by saying goodbye
        over its own DataChannel, whose DTLS session is its identity. With
        proof, an open peer's channel is drained first (bounded), so what it
        sent before leaving is delivered.
        """
        await self._signaling.leave(room, peer_id, session)

    async def kick(self, room: str, peer_id: str, reason: str = "removed by the server") -> bool:
        """Remove a peer on the backend's authority; it sees ``reason`` and does not reconnect.

        Returns False when there is no such peer.
        """
        return await self._signaling.kick(room, peer_id, reason)

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
        return await self._signaling.client_ice_servers(room, peer_id, session, metadata)

    async def respond(
        self,
        method: str,
        path: str,
        body: bytes,
        metadata: dict[str, Any] | None = None,
    ) -> tuple[int, str, bytes]:
        """Serve one HTTP request of the package's routes (what every adapter calls):
        ``(status, content type, body)``; see :func:`peerpyrtc.dispatch` for the JSON routes.
        """
        return await routes.respond(self, method, path, body, metadata)

    # ------------------------------------------------------------ rooms
    def room_topology(self, room: str) -> str:
        """``"relay"`` or ``"mesh"``: how the peers of ``room`` exchange messages."""
        return self._rooms.room_topology(room)

    def health(self) -> tuple[int, dict[str, str]]:
        """``GET /health``: 200 while this server takes offers, 503 once closed. With a
        backplane, ``backplane`` says whether the Redis link is up (without it, this
        worker keeps serving its own peers: still 200)."""
        return self._rooms.health()

    def rooms_info(self) -> dict[str, dict[str, Any]]:
        """``{room: {"peer_count", "peers", "host_id"}}`` for every room.

        Reads the in-process store; with a backplane, ``await fetch_rooms_info()``.
        """
        return self._rooms.rooms_info()

    def get_room_peers(self, room: str) -> list[dict[str, Any]]:
        """Peers of ``room`` (``id``, ``isHost``, ``joinedAt``, client info), in join order.

        Reads the in-process store; with a backplane, ``await fetch_room_peers(room)``.
        """
        return self._rooms.get_room_peers(room)

    async def fetch_rooms_info(self) -> dict[str, dict[str, Any]]:
        """:meth:`rooms_info` from the room store (every worker's peers, with a backplane)."""
        return await self._rooms.fetch_rooms_info()

    async def fetch_room_peers(self, room: str) -> list[dict[str, Any]]:
        """:meth:`get_room_peers` from the room store (every worker's, with a backplane)."""
        return await self._rooms.fetch_room_peers(room)

    async def send_message(self, room: str, message: str | bytes) -> int:
        """Send a plain message (text or bytes) from ``"server"`` to every peer of ``room``;
        returns how many."""
        return await self._rooms.send_message(room, message)

    async def emit(
        self,
        room: str,
        event: str,
        data: Any = None,
        to: str | None = None,
        *,
        volatile: bool = False,
    ) -> int:
        """Emit ``event`` from ``"server"`` to every peer of ``room``, or only to ``to``.

        ``data`` may hold ``bytes`` anywhere and be up to ``Limits.max_message_bytes``;
        ``volatile``: on the unordered channel, dropped for a receiver that is behind.
        """
        return await self._rooms.emit(room, event, data, to, volatile=volatile)

    # ------------------------------------------------------------ what it is doing
    def stats(self) -> Stats:
        """One snapshot of this process: counters and gauges (what ``/metrics`` renders)."""
        peers = {"relay": 0, "mesh": 0}
        queued = 0
        rooms = set()
        for peer in self.peers.active.values():
            if peer.state == "open":
                peers[self.room_topology(peer.room)] += 1
                queued += peer.queue.queued
                rooms.add(peer.room)
        return Stats.of(
            self.metrics, rooms=len(rooms), peers=peers, pending=len(self.peers.pending),
            queued_bytes=queued, mux_dropped=self._transport.stats().mux_dropped,
            workers=self._backplane.workers if self._backplane is not None else None,
        )  # fmt: skip

    def prometheus_collector(self) -> Any:
        """A ``prometheus_client`` collector of :meth:`stats`, to register in an application's
        own registry (``registry.register(manager.prometheus_collector())``) instead of
        serving ``/metrics``. Collect it on the manager's event loop thread."""
        return prometheus.make_collector(self.stats)

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Connect to the backplane now (else on first use); nothing to do without one.

        Raises:
            Unavailable: the backplane cannot be reached.
        """
        self._check_open()
        await self._transport.start()
        if self._backplane is not None:
            await self._backplane.start(_ClusterHost(self.peers, self._lifecycle,
                                                     self._signaling, self._tasks))  # fmt: skip

    async def close(self) -> None:
        """Close every connection and end every task and timer."""
        if self._closed:
            return
        self._closed = True
        self._lifecycle.stop()
        bye = protocol.close_notice("server shutting down", reconnect=True)
        peers = list(self.peers)
        for peer in peers:
            if peer.state == "open":
                peer.queue.send_last(bye)
        self.peers.clear()
        self._delivery.local.clear()
        self._signaling.early.clear()
        await self._vacate(peers)
        await asyncio.gather(*(p.wait_remote_close(CLOSE_GRACE) for p in peers))
        await asyncio.gather(*(p.close() for p in peers), return_exceptions=True)
        await self.hooks.close()
        await self._tasks.wait()
        await self._transport.close()
        if self._backplane is not None:
            await self._backplane.close()
        await self._store.close()

    async def __aenter__(self) -> AsyncSignalingManager:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

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


class _ClusterHost:
    """What the backplane receives of this server (:class:`~._cluster.host.ClusterHost`)."""

    def __init__(
        self, peers: PeerTable, lifecycle: Lifecycle, signaling: Signaling, tasks: TaskGroup
    ) -> None:
        self._peers, self._lifecycle, self._signaling, self._tasks = (
            peers, lifecycle, signaling, tasks
        )  # fmt: skip

    def open_peers(self) -> Sequence[HostedPeer]:
        live = [p for p in self._peers.active.values() if p.state == "open"]
        return sorted(live, key=lambda p: p.order)

    def drop(self, peer: HostedPeer, reason: str) -> None:
        held = self._peers.active.get((peer.room, peer.id))
        if held is peer:
            self._tasks.spawn(self._lifecycle.remove(held, reason))

    def announce_left(self, room: str, peer_id: str, left: Left, reason: str) -> None:
        self._lifecycle.announce_left(room, peer_id, left, reason)

    async def serve(self, op: str, args: list[Any]) -> Any:
        return await self._signaling.serve(op, args)
