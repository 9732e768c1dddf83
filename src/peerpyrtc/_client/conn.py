"""One connection of an ``AsyncClient`` to the relay: the offer over HTTP, the peer
connection, the room's channel and its send queue. It moves frames and reports loss;
rooms, reconnection and heartbeats are the client's (``_client``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription

from .._errors import ConnectionFailed, IceServerError
from .._rtc.ice import IceServerPool, normalize_ice_servers
from .._rtc.sendqueue import SendQueue
from .._wire import protocol
from .._wire.protocol import CHANNEL_LABEL, CHANNEL_PROTOCOL, PROTOCOL_VERSION, VOLATILE_LABEL
from .http import Post
from .turn import diagnose, first_turn, rank_turn, turn_first, turn_urls

__all__ = [
    "ClientConnection",
    "apply_policy",
    "check_policy",
    "client_configuration",
    "fetch_ice_servers",
]

logger = logging.getLogger(__name__)

#: What a client may queue before it waits for the channel to drain.
CLIENT_QUEUE_BYTES = 64 * 1024 * 1024
#: A volatile message is dropped while the volatile channel holds more than this.
VOLATILE_HIGH_WATER = 64 * 1024


class ClientConnection:
    """A peer connection and its channel; ``on_frame`` and ``on_lost`` report what happens."""

    def __init__(
        self,
        configuration: RTCConfiguration,
        on_frame: Callable[[str | bytes], None],
        on_lost: Callable[[str], None],
        *,
        next_turn: bool = False,
        silent_turn: str | None = None,
    ) -> None:
        #: Another TURN URL is left to try: give up at once if this one gives no relay.
        self.next_turn = next_turn
        #: A TURN URL the client was given that did not answer the probe (left out).
        self.silent_turn = silent_turn
        self.configuration = configuration
        self._on_lost = on_lost
        #: Why the configured TURN server gave no relay candidate (None: it did, or none).
        self.ice_error: IceServerError | None = None
        self.pc = pc = RTCPeerConnection(configuration)
        channel = pc.createDataChannel(CHANNEL_LABEL, ordered=True, protocol=CHANNEL_PROTOCOL)
        self.queue = SendQueue(CLIENT_QUEUE_BYTES)
        self.queue.attach(channel)
        channel.on("message", on_frame)
        channel.on("close", lambda: on_lost("channel closed"))
        #: The unordered channel without retransmissions (volatile messages, both ways).
        self.volatile = pc.createDataChannel(
            VOLATILE_LABEL, ordered=False, maxRetransmits=0, protocol=CHANNEL_PROTOCOL
        )
        self.volatile.on("message", on_frame)

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if pc.connectionState == "failed":
                on_lost("connection failed")

    async def offer(
        self,
        server_url: str,
        room: str,
        peer_id: str,
        session: str,
        info: dict[str, Any],
        post: Post,
    ) -> None:
        """Post the offer to ``server_url``/offer and apply the answer."""
        pc = self.pc
        await pc.setLocalDescription(await pc.createOffer())
        await self._check_turn()
        offer = {
            "sdp": pc.localDescription.sdp,
            "type": "offer",
            "session": session,
            "protocol": PROTOCOL_VERSION,
            "info": info,
        }
        reply = await post(
            urljoin(server_url, "offer"), {"room": room, "peer_id": peer_id, "offer": offer}
        )
        answer = reply.get("answer") if isinstance(reply, dict) else None
        if not isinstance(answer, dict) or "sdp" not in answer:
            raise ConnectionFailed(f"the server's /offer reply has no answer: {reply!r}")
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))

    async def _check_turn(self) -> None:
        """A TURN URL that gave no relay candidate: say why (and give up if relay-only)."""
        chosen = first_turn(self.configuration.iceServers or [])
        if chosen is None and self.silent_turn is not None:
            why = f"TURN server {self.silent_turn} did not answer; it was left out"
            self.ice_error = IceServerError("ERR_ICE_SERVER_UNREACHABLE", why, self.silent_turn)
        elif chosen is None or self.pc.sctp is None:
            return
        elif any(c.type == "relay" for c in self._gathered()):
            return
        else:
            self.ice_error = await diagnose(*chosen)
        if self.ice_error is not None:
            logger.warning("%s", self.ice_error)
            policy = getattr(self.configuration, "iceTransportPolicy", None)
            relay_only = getattr(policy, "value", policy) == "relay"
            if relay_only or self.next_turn:
                raise self.ice_error

    def _gathered(self) -> list[Any]:
        sctp = self.pc.sctp
        return list(sctp.transport.transport.iceGatherer.getLocalCandidates()) if sctp else []

    def explain(self, failure: ConnectionFailed) -> ConnectionFailed:
        """A failed connection: the TURN server's refusal, if there was one, says why."""
        if self.ice_error is None or isinstance(failure, IceServerError):
            return failure
        error = self.ice_error
        return IceServerError(error.code, f"{failure}: {error}", error.url, error.ice_status)

    def send_volatile(self, frame: str | bytes) -> bool:
        """Send now on the volatile channel, or drop (False) while it is behind; before the
        server opened it (an older server never does), by the room channel when idle."""
        channel = self.volatile
        if channel.readyState == "open":
            if channel.bufferedAmount > VOLATILE_HIGH_WATER:
                return False
            channel.send(frame)
            return True
        if self.queue.queued or self.queue.congested:
            return False
        self.queue.put(frame)
        return True

    def stop_sending(self) -> None:
        """Drop what is queued and queue nothing more (the connection is being retired)."""
        self.queue.close()

    async def goodbye(self, timeout: float) -> bool:
        """Say ``bye`` and wait (bounded) for the server to close the channel, which it does
        once it has read everything sent before; False when it did not in time."""
        channel = self.queue.channel
        if channel is None:
            return False
        closed = asyncio.Event()
        channel.on("close", closed.set)
        self.queue.put(protocol.BYE)
        self.queue.flush()
        try:
            await asyncio.wait_for(closed.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    def fail(self, reason: str) -> None:
        """Report this connection lost, as its transport breaking would (the client then
        reconnects or closes, by its rules)."""
        self._on_lost(reason)

    async def close(self) -> None:
        self.queue.close()
        await self.pc.close()


async def client_configuration(
    pool: IceServerPool,
    fetch: bool,
    where: tuple[str, str, str, str],
    post: Post,
    policy: str,
    turn_choice: int,
) -> tuple[RTCConfiguration, int, str | None]:
    """The configuration for one attempt, how many TURN URLs there are to try, and a TURN
    URL of the client's own that the probe left out (it did not answer), if any.

    ``where``: (server_url, room, peer_id, session). The server's ICE servers come first
    (``fetch``), then the client's own; the ``turn_choice``-th TURN URL goes first (aiortc
    uses one).
    """
    configuration = await pool.configuration()
    servers = list(configuration.iceServers or [])
    silent = next(iter(turn_urls([s for s in pool.servers if s not in servers])), None)
    if fetch:
        servers = [*await fetch_ice_servers(*where, post), *servers]
    servers = await rank_turn(servers)  # the TURN URLs that answer first
    configuration.iceServers = turn_first(servers, turn_choice)
    apply_policy(configuration, policy)
    return configuration, len(turn_urls(servers)), silent[1] if silent else None


async def fetch_ice_servers(
    server_url: str,
    room: str,
    peer_id: str,
    session: str,
    post: Post,
) -> list[RTCIceServer]:
    """The server's ICE servers for one peer (``POST /ice``); none from a server without it."""
    try:
        reply = await post(
            urljoin(server_url, "ice"), {"room": room, "peer_id": peer_id, "session": session}
        )
        return normalize_ice_servers(reply.get("iceServers") or [])
    except Exception as exc:  # an older server, a refusal (the offer will say why), garbage
        logger.debug("%s: no ICE servers from the server: %r", peer_id, exc)
        return []


def check_policy(policy: str) -> None:
    """Refuse an ICE transport policy this aiortc cannot apply (``"relay"`` needs 1.16)."""
    if policy not in ("all", "relay"):
        raise ValueError("ice_transport_policy must be 'all' or 'relay'")
    if policy == "relay" and not hasattr(RTCConfiguration(), "iceTransportPolicy"):
        raise ValueError("ice_transport_policy='relay' needs aiortc >= 1.16")


def apply_policy(configuration: RTCConfiguration, policy: str) -> None:
    """``"relay"``: gather TURN relay candidates only."""
    if policy == "relay":
        from aiortc import RTCIceTransportPolicy  # aiortc >= 1.16 (check_policy)

        configuration.iceTransportPolicy = RTCIceTransportPolicy.RELAY
