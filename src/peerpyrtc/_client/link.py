"""One direct peer connection of a mesh room (the browser client's ``peer-link.js``): an
ordered, reliable negotiated channel (id 0) for the mesh's numbered frames and an
unordered one without retransmissions (id 1) for volatile messages. It knows nothing of
the mesh: what it needs and tells arrives as callables (:class:`LinkHost`)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any, NamedTuple

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from .._limits import Limits
from .._rtc.candidates import AddressPolicy, candidate_from_json
from .._rtc.sendqueue import LOW_WATER
from .direct import MAX_EARLY, VOLATILE_CHANNEL_ID, VOLATILE_HIGH_WATER

__all__ = ["Link", "LinkHost"]

logger = logging.getLogger(__name__)

#: A peer's candidates for addresses a direct link never probes (as the server's default).
DIRECT_POLICY = AddressPolicy(Limits().blocked_candidate_networks)


class LinkHost(NamedTuple):
    """What a link needs of the mesh, and what it tells it."""

    configuration: RTCConfiguration
    signal: Callable[[dict[str, Any]], None]
    spawn: Callable[[Coroutine[Any, Any, None]], None]
    on_open: Callable[[], None]
    on_frame: Callable[[str | bytes], None]
    on_volatile: Callable[[str | bytes], None]
    on_drain: Callable[[], None]
    on_closed: Callable[[str], None]


class Link:
    """One direct peer connection to ``peer_id``; ``link_id`` is the same on both sides."""

    def __init__(self, host: LinkHost, peer_id: str, link_id: str, polite: bool) -> None:
        self.host, self.peer_id, self.link_id, self.polite = host, peer_id, link_id, polite
        self.closed = False
        self.pc = RTCPeerConnection(host.configuration)
        self.channel = self.pc.createDataChannel(
            "peerpyrtc-direct", negotiated=True, id=0, ordered=True
        )
        self.volatile = self.pc.createDataChannel(
            "peerpyrtc-direct-volatile", negotiated=True, id=VOLATILE_CHANNEL_ID,
            ordered=False, maxRetransmits=0,
        )  # fmt: skip
        self._early: list[dict[str, Any]] = []
        self.channel.on("open", host.on_open)
        self.channel.on("message", host.on_frame)
        self.channel.on("close", lambda: self.close("channel closed"))
        self.channel.bufferedAmountLowThreshold = LOW_WATER  # the relay channel's backpressure
        self.channel.on("bufferedamountlow", host.on_drain)
        self.volatile.on("message", host.on_volatile)

        @self.pc.on("connectionstatechange")
        def on_state() -> None:
            if self.pc.connectionState in ("failed", "closed"):
                self.close(f"connection {self.pc.connectionState}")

    @property
    def is_open(self) -> bool:
        return not self.closed and self.channel.readyState == "open"

    @property
    def volatile_open(self) -> bool:
        return not self.closed and self.volatile.readyState == "open"

    async def offer(self) -> None:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        self._signal_description()

    def _signal_description(self) -> None:
        desc = self.pc.localDescription
        self.host.signal(
            {"k": "neg", "link": self.link_id, "description": {"type": desc.type, "sdp": desc.sdp}}
        )

    async def receive(self, d: dict[str, Any]) -> None:
        pc = self.pc
        try:
            description = d.get("description")
            if isinstance(description, dict):
                offer = description.get("type") == "offer"
                if offer and pc.signalingState != "stable" and not self.polite:
                    return  # a colliding offer: the impolite side keeps its own
                await pc.setRemoteDescription(
                    RTCSessionDescription(str(description.get("sdp")), str(description.get("type")))
                )
                for candidate in self._early:
                    await self._add(candidate)
                self._early = []
                if offer:
                    await pc.setLocalDescription(await pc.createAnswer())
                    self._signal_description()
            elif isinstance(d.get("candidate"), dict):
                if pc.remoteDescription is None:
                    if len(self._early) < MAX_EARLY:  # a flood of them is dropped
                        self._early.append(d["candidate"])
                else:
                    await self._add(d["candidate"])
        except Exception as exc:  # a bad or hostile signal ends this link only
            logger.debug("direct negotiation with %s failed: %r", self.peer_id, exc)
            self.close("negotiation failed")

    async def _add(self, init: dict[str, Any]) -> None:
        # validated as the server validates a client's; loopback, link-local, metadata and
        # multicast addresses are never probed for another peer
        candidate = candidate_from_json(init, DIRECT_POLICY)
        if candidate is not None:
            await self.pc.addIceCandidate(candidate)

    def send(self, frame: str) -> None:
        self.channel.send(frame)

    def send_volatile(self, frame: str | bytes) -> bool:
        """Send a volatile frame now, or drop it (False) while the channel is behind."""
        if not self.volatile_open or self.volatile.bufferedAmount > VOLATILE_HIGH_WATER:
            return False
        self.volatile.send(frame)
        return True

    def close(self, reason: str = "closed") -> None:
        if self.closed:
            return
        self.closed = True
        self.host.spawn(self.pc.close())
        self.host.on_closed(reason)
