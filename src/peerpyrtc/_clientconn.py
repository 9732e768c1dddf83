"""One connection of an ``AsyncClient`` to the relay: the offer over HTTP, the peer
connection, the room's channel and its send queue. It moves frames and reports loss;
rooms, reconnection and heartbeats are the client's (``_client``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription

from ._errors import ConnectionFailed
from ._httpclient import post_json
from ._ice import normalize_ice_servers
from ._protocol import CHANNEL_LABEL, CHANNEL_PROTOCOL, PROTOCOL_VERSION
from ._sendqueue import SendQueue

__all__ = ["ClientConnection", "apply_policy", "check_policy", "fetch_ice_servers"]

logger = logging.getLogger(__name__)

#: What a client may queue before it waits for the channel to drain.
CLIENT_QUEUE_BYTES = 64 * 1024 * 1024


class ClientConnection:
    """A peer connection and its channel; ``on_frame`` and ``on_lost`` report what happens."""

    def __init__(
        self,
        configuration: RTCConfiguration,
        on_frame: Callable[[str | bytes], None],
        on_lost: Callable[[str], None],
    ) -> None:
        self.pc = pc = RTCPeerConnection(configuration)
        channel = pc.createDataChannel(CHANNEL_LABEL, ordered=True, protocol=CHANNEL_PROTOCOL)
        self.queue = SendQueue(CLIENT_QUEUE_BYTES)
        self.queue.attach(channel)
        channel.on("message", on_frame)
        channel.on("close", lambda: on_lost("channel closed"))

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
        timeout: float,
        headers: dict[str, str],
    ) -> None:
        """Post the offer to ``server_url``/offer and apply the answer."""
        pc = self.pc
        await pc.setLocalDescription(await pc.createOffer())
        offer = {
            "sdp": pc.localDescription.sdp,
            "type": "offer",
            "session": session,
            "protocol": PROTOCOL_VERSION,
            "info": info,
        }
        reply = await post_json(
            urljoin(server_url, "offer"),
            {"room": room, "peer_id": peer_id, "offer": offer},
            timeout,
            headers,
        )
        answer = reply.get("answer") if isinstance(reply, dict) else None
        if not isinstance(answer, dict) or "sdp" not in answer:
            raise ConnectionFailed(f"the server's /offer reply has no answer: {reply!r}")
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))

    def stop_sending(self) -> None:
        """Drop what is queued and queue nothing more (the connection is being retired)."""
        self.queue.close()

    async def close(self) -> None:
        self.queue.close()
        await self.pc.close()


async def fetch_ice_servers(
    server_url: str, room: str, peer_id: str, timeout: float, headers: dict[str, str]
) -> list[RTCIceServer]:
    """The server's ICE servers for one peer (``POST /ice``); none from a server without it."""
    try:
        reply = await post_json(
            urljoin(server_url, "ice"), {"room": room, "peer_id": peer_id}, timeout, headers
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
