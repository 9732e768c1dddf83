"""The server-side transport seam: what the server needs of a WebRTC stack.

The server core (signalling, lifecycle, relay) is written against these protocols only;
:mod:`.aiortc_transport` is the one implementation today (aiortc + aioice, with our
patches, tuning, UDP mux and ICE server pool behind it). A native DataChannel stack, media
tracks or a second reliability class plug in here, not into the core.

* :class:`Channel`: one DataChannel as the send queue drives it (aiortc's
  ``RTCDataChannel`` satisfies it structurally: text or bytes out, the buffered amount, a
  low-threshold wake-up, ``on(event, handler)`` for ``open``/``close``/``message``).
* :class:`PeerLink`: one answered peer connection: apply the remote offer, add trickled
  candidates, produce the answer, hand over the client's channels by reliability class,
  report its connection state, close.
* :class:`Transport`: makes links (with the ICE servers, ports and address policy it was
  configured with), starts and stops what they share (a UDP mux), and reports its counters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, Protocol

__all__ = ["Channel", "PeerLink", "Reliability", "Transport", "TransportStats"]

#: How a channel delivers: ``"reliable"`` (ordered, retransmitted: the room channel) or
#: ``"volatile"`` (unordered, no retransmissions: fresh state over old).
Reliability = Literal["reliable", "volatile"]


class Channel(Protocol):
    """One DataChannel."""

    @property
    def label(self) -> str: ...

    @property
    def readyState(self) -> str: ...

    @property
    def bufferedAmount(self) -> int: ...

    @property
    def bufferedAmountLowThreshold(self) -> int: ...

    @bufferedAmountLowThreshold.setter
    def bufferedAmountLowThreshold(self, value: int) -> None: ...

    def send(self, data: str | bytes) -> None: ...

    def close(self) -> None: ...

    def on(self, event: str, f: Callable[..., Any]) -> Any: ...


class TransportStats(Protocol):
    #: Datagrams on a shared UDP port that no connection claimed (None: no shared port).
    @property
    def mux_dropped(self) -> int | None: ...


class PeerLink(Protocol):
    """One peer connection, answered by the server."""

    @property
    def state(self) -> str:
        """``new``, ``connecting``, ``connected``, ``failed`` or ``closed``."""
        ...

    async def accept_offer(self, sdp: str) -> None:
        """Apply the client's offer (already screened). Raises ``InvalidRequest``."""
        ...

    async def add_candidate(self, candidate: dict[str, Any]) -> bool:
        """Add one trickled candidate (the browser's ``toJSON()``); False when it is one
        the server does not probe. Raises ``InvalidRequest``."""
        ...

    async def answer(self) -> dict[str, str]:
        """``{"sdp", "type"}``: the answer, as the client must see it (announced addresses)."""
        ...

    def on_channel(self, handler: Callable[[Channel, Reliability], None]) -> None:
        """Call ``handler`` with each channel the client opens."""
        ...

    def on_state(self, handler: Callable[[str], None]) -> None:
        """Call ``handler`` with each new connection state."""
        ...

    async def close(self) -> None: ...


class Transport(Protocol):
    """Makes the server's peer links."""

    async def start(self) -> None: ...

    async def link(self) -> PeerLink:
        """A new, unanswered peer link."""
        ...

    def screen_candidate(self, candidate: Any) -> bool:
        """Check a trickled candidate's shape and address before any lookup: False for one
        the server skips (end of candidates, mDNS, a blocked network). Raises
        ``InvalidRequest`` when it is malformed."""
        ...

    def stats(self) -> TransportStats: ...

    async def close(self) -> None: ...
