"""AsyncSignalingManager: answers offers, keeps rooms, relays messages, runs hooks.

Signalling and the peers' lifecycle live here; a message's way through the
server is ``_relay`` (decode, limits, moderation, routing, then the handler
hooks); offers are validated in ``_offers`` and candidates in ``_candidates``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from aiortc import RTCPeerConnection, RTCSessionDescription

from . import _patches
from . import _protocol as protocol
from ._candidates import AddressPolicy, candidate_from_json, filter_sdp_candidates
from ._delivery import Delivery
from ._errors import (
    Forbidden,
    InvalidRequest,
    PeerIdTaken,
    RateLimited,
    RoomFull,
    UnknownPeer,
)
from ._hooks import HookRegistry, Hooks
from ._ice import IceServerPool, IceServerSpec, enlarge_socket_buffers, normalize_ice_servers
from ._lifecycle import CLOSE_GRACE, PeerLifecycle
from ._limits import Limits, validate_id, validate_session
from ._logging import enable_debug_logging
from ._offers import EarlyCandidates, validate_offer
from ._peer import ServerPeer
from ._protocol import PROTOCOL_VERSION, SERVER_ID
from ._relay import Relay
from ._room import RoomRegistry

__all__ = ["AsyncSignalingManager"]

logger = logging.getLogger(__name__)

Key = tuple[str, str]


class AsyncSignalingManager(HookRegistry, PeerLifecycle):
    """The relay server's core, running in the caller's event loop.

    Args:
        ice_servers: STUN/TURN servers as URLs or ``{"urls", "username",
            "credential"}`` dicts. None (the default) means none at all.
        debug: log at DEBUG level to stderr (the ``peerpyrtc`` logger only).
        limits: bounds on ids, sizes, rates, rooms and queues.
        admin_token: the bearer token that opens the admin routes (``GET /rooms``);
            None (the default) keeps them closed: no room data leaves the server.
    """

    def __init__(
        self,
        *,
        ice_servers: Iterable[IceServerSpec] | None = None,
        debug: bool = False,
        limits: Limits | None = None,
        admin_token: str | None = None,
    ) -> None:
        _patches.apply()
        if debug:
            enable_debug_logging()
        self.limits = limits or Limits()
        if admin_token is not None and (not isinstance(admin_token, str) or len(admin_token) < 16):
            raise ValueError("admin_token must be a string of at least 16 characters")
        self.admin_token = admin_token
        self._ice = IceServerPool(normalize_ice_servers(ice_servers))
        self._policy = AddressPolicy(self.limits.blocked_candidate_networks)
        self._rooms = RoomRegistry()
        self._hooks = Hooks()
        self._active: dict[Key, ServerPeer] = {}
        self._pending: dict[Key, ServerPeer] = {}
        self._early = EarlyCandidates(self.limits)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._heartbeat: asyncio.TimerHandle | None = None
        self._closed = False
        self._delivery = Delivery(self._rooms, self._active)
        self._relay = Relay(
            self._rooms,
            self._delivery,
            self._hooks,
            self.limits,
            lambda peer, reason: self._spawn(self._remove(peer, reason)),
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
        addr = _remote_addr(metadata)
        if self._hooks.authorizers:
            await self._hooks.authorize(room, peer_id, {**(metadata or {}), "info": info})

        key = (room, peer_id)
        configuration = await self._ice.configuration()
        self._check_open()
        self._claim(key, session, addr)  # no await between the claim and taking the slot
        pc = RTCPeerConnection(configuration)
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
                await pc.setLocalDescription(await pc.createAnswer())
            except InvalidRequest:
                raise
            except Exception as exc:  # aiortc's parser raises ValueError, KeyError, ...
                raise InvalidRequest(f"the offer's SDP was refused: {str(exc)[:200]}") from exc
            enlarge_socket_buffers(pc)
        except BaseException:
            if self._pending.get(key) is peer:
                del self._pending[key]
            await peer.close()
            raise
        if self._pending.get(key) is not peer:  # replaced while we awaited
            await peer.close()
            raise PeerIdTaken(f"peer id {peer_id!r} was claimed again while answering")
        peer.timer = asyncio.get_running_loop().call_later(
            limits.pending_timeout, self._pending_expired, peer
        )
        logger.debug("answered %s/%s", room, peer_id)
        return {
            "sdp": pc.localDescription.sdp,
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
            if parsed is not None:
                self._early.keep(room, peer_id, session, candidate, _remote_addr(metadata))
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
            return False
        await self._remove(peer, reason, notify=True)
        return True

    # ------------------------------------------------------------- room info
    def rooms_info(self) -> dict[str, dict[str, Any]]:
        """``{room: {"peer_count", "peers", "host_id"}}`` for every room."""
        return self._rooms.info()

    def get_room_peers(self, room: str) -> list[dict[str, Any]]:
        """Peers of ``room`` (``id``, ``isHost``, ``joinedAt``, client info), in join order."""
        r = self._rooms.get(room)
        return r.peers() if r is not None else []

    # ------------------------------------------------------- server speaking
    async def send_message(self, room: str, message: str) -> int:
        """Send a plain message from ``"server"`` to every peer of ``room``; returns how many."""
        if not isinstance(message, str):
            raise InvalidRequest("message must be a string")
        self._check_open()
        return self._relay.speak(room, protocol.message(message, SERVER_ID), None)

    async def emit(self, room: str, event: str, data: Any = None, to: str | None = None) -> int:
        """Emit ``event`` from ``"server"`` to every peer of ``room``, or only to ``to``."""
        if not isinstance(event, str) or not event:
            raise InvalidRequest("event must be a non-empty string")
        self._check_open()
        return self._relay.speak(room, protocol.event(event, data, SERVER_ID, to), to)

    # ------------------------------------------------------------ lifecycle
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
        self._rooms.rooms.clear()
        self._early.clear()
        await asyncio.gather(*(p.wait_remote_close(CLOSE_GRACE) for p in peers))
        await asyncio.gather(*(p.close() for p in peers), return_exceptions=True)
        await self._hooks.close()
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self._ice.close()

    async def __aenter__(self) -> AsyncSignalingManager:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------- internals
    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this AsyncSignalingManager is closed")

    def _claim(self, key: Key, session: str, addr: str | None) -> None:
        room, peer_id = key
        for table in (self._pending, self._active):
            holder = table.get(key)
            if holder is not None and holder.session != session:
                raise PeerIdTaken(f"peer id {peer_id!r} is already in use in room {room!r}")
        limits = self.limits
        if len(self._pending) >= limits.max_pending_offers:
            raise RateLimited("too many connections are being set up; try again shortly")
        if addr is not None:
            same = sum(1 for p in self._pending.values() if p.remote_addr == addr)
            if same >= limits.max_pending_per_address:
                raise RateLimited("too many connections from this address are being set up")
        if key not in self._active and key not in self._pending:
            r = self._rooms.get(room)
            count = (len(r) if r else 0) + sum(1 for k in self._pending if k[0] == room)
            if count >= self.limits.max_peers_per_room:
                raise RoomFull(f"room {room!r} is full ({self.limits.max_peers_per_room} peers)")
            if r is None and len(self._rooms.rooms) >= self.limits.max_rooms:
                raise RoomFull(f"this server holds its maximum of {self.limits.max_rooms} rooms")

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


def _remote_addr(metadata: dict[str, Any] | None) -> str | None:
    addr = (metadata or {}).get("remote_addr")
    return addr if isinstance(addr, str) else None
