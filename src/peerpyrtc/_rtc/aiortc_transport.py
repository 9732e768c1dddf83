"""The aiortc implementation of the transport seam (:mod:`.transport`).

Everything that knows aiortc's objects is here or below: the SDP dance, candidate
parsing, the port range and shared UDP port (:mod:`.network`), larger socket buffers
(:mod:`.ice`), the probed ICE server pool.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from aiortc import RTCDataChannel, RTCPeerConnection, RTCSessionDescription

from .._errors import InvalidRequest, PeerPyRTCError
from .candidates import AddressPolicy, candidate_from_json, filter_sdp_candidates
from .ice import IceServerPool, enlarge_socket_buffers
from .network import ServerNetwork
from .transport import Channel, Reliability

__all__ = ["AiortcLink", "AiortcStats", "AiortcTransport", "reliability_of"]

logger = logging.getLogger(__name__)


def reliability_of(channel: RTCDataChannel) -> Reliability:
    """``"reliable"`` for an ordered channel with retransmissions, else ``"volatile"``."""
    if channel.ordered and channel.maxRetransmits is None and channel.maxPacketLifeTime is None:
        return "reliable"
    return "volatile"


class AiortcStats:
    def __init__(self, mux_dropped: int | None) -> None:
        self.mux_dropped = mux_dropped


class AiortcLink:
    """One aiortc ``RTCPeerConnection`` answering a client's offer."""

    def __init__(self, pc: RTCPeerConnection, network: ServerNetwork, policy: AddressPolicy):
        #: The aiortc connection (for tests of this implementation and its patches).
        self.pc = pc
        self._network = network
        self._policy = policy

    @property
    def state(self) -> str:
        return str(self.pc.connectionState)

    async def accept_offer(self, sdp: str) -> None:
        screened = filter_sdp_candidates(sdp, self._policy)
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=screened, type="offer"))
        except PeerPyRTCError:
            raise
        except Exception as exc:  # aiortc's parser raises ValueError, KeyError, ...
            raise InvalidRequest(f"the offer's SDP was refused: {str(exc)[:200]}") from exc

    async def add_candidate(self, candidate: dict[str, Any]) -> bool:
        parsed = candidate_from_json(candidate, self._policy)
        if parsed is None:
            return False
        try:
            await self.pc.addIceCandidate(parsed)
        except Exception as exc:  # aiortc raises ValueError/others for unusable ones
            raise InvalidRequest(f"the candidate was refused: {exc}") from exc
        return True

    async def answer(self) -> dict[str, str]:
        pc = self.pc
        try:
            await self._network.prepare(pc)
            await pc.setLocalDescription(await pc.createAnswer())
        except PeerPyRTCError:
            raise
        except Exception as exc:
            raise InvalidRequest(f"the offer's SDP was refused: {str(exc)[:200]}") from exc
        enlarge_socket_buffers(pc)
        local = pc.localDescription
        return {"sdp": self._network.announce(local.sdp), "type": local.type}

    def on_channel(self, handler: Callable[[Channel, Reliability], None]) -> None:
        self.pc.on("datachannel", lambda channel: handler(channel, reliability_of(channel)))

    def on_state(self, handler: Callable[[str], None]) -> None:
        pc = self.pc
        pc.on("connectionstatechange", lambda: handler(str(pc.connectionState)))

    async def close(self) -> None:
        await self.pc.close()


class AiortcTransport:
    """Makes :class:`AiortcLink` objects with the server's ICE servers, ports and policy."""

    def __init__(
        self,
        ice: IceServerPool,
        network: ServerNetwork,
        blocked_networks: Iterable[str],
    ) -> None:
        self.ice = ice
        self.network = network
        self.policy = AddressPolicy(blocked_networks)

    async def start(self) -> None:
        await self.network.start()

    async def link(self) -> AiortcLink:
        configuration = await self.ice.configuration()
        return AiortcLink(RTCPeerConnection(configuration), self.network, self.policy)

    def screen_candidate(self, candidate: Any) -> bool:
        return candidate_from_json(candidate, self.policy) is not None

    def stats(self) -> AiortcStats:
        mux = self.network.mux
        return AiortcStats(mux.dropped if mux is not None else None)

    async def close(self) -> None:
        await self.network.close()
        await self.ice.close()
