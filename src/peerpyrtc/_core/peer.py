"""One server-side peer: its peer link, its channels by reliability class, its send queue."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from .._rooms.delivery import Lane
from .._rtc.sendqueue import SendQueue
from .._rtc.transport import Channel, PeerLink, Reliability
from .._wire.binary import Reassembly
from .._wire.protocol import stamp_suffix

__all__ = ["VOLATILE_HIGH_WATER", "ServerPeer"]

#: A volatile frame is dropped, not queued, while the receiver's volatile channel holds more.
VOLATILE_HIGH_WATER = 64 * 1024


class ServerPeer:
    """A browser's (or AsyncClient's) connection as the server holds it."""

    def __init__(
        self,
        room: str,
        peer_id: str,
        session: str,
        link: PeerLink,
        info: dict[str, Any],
        remote_addr: str | None,
        max_queue_bytes: int,
        streams: Reassembly | None = None,
    ) -> None:
        self.room = room
        self.id = peer_id
        self.session = session
        #: The peer connection, behind the transport seam.
        self.link = link
        self.info = info
        #: The HTTP client address the offer came from (per-address limits).
        self.remote_addr = remote_addr
        #: Candidates added to this connection (bounded).
        self.candidates = 0
        #: The client's channels by reliability class (the room channel is ``reliable``).
        self.channels: dict[Reliability, Channel] = {}
        #: Its volatile messages in moderation hooks right now (bounded by the relay).
        self.volatile_hooks: set[asyncio.Future[None]] = set()
        self.state = "pending"  # pending -> joining -> open -> closed
        #: Loop time of its offer (the connect-time histogram).
        self.created = asyncio.get_running_loop().time()
        #: Its place in the room's join order (from the room store).
        self.order = 0
        self.joined_at = 0
        #: Why it was removed (once closed).
        self.close_reason = ""
        #: Frames that arrived while joining, relayed once open.
        self.held: list[str | bytes] = []
        self.remote_set = False
        #: Ends a pending connection that never opens.
        self.timer: asyncio.TimerHandle | None = None
        #: Pre-encoded sender stamp for relayed envelopes.
        self.stamp = stamp_suffix(peer_id)
        self.queue = SendQueue(max_queue_bytes)
        #: Envelopes waiting for the moderation worker (only used with a hook).
        self.inbox: deque[Any] = deque()
        self.worker: asyncio.Task[None] | None = None
        #: Loop time of the last frame from this peer (heartbeat).
        self.last_seen = 0.0
        #: Token buckets for the message and byte rate limits.
        self.tokens = 0.0
        self.byte_tokens = 0.0
        self.tokens_at = 0.0
        self.bytes_at = 0.0
        #: Bytes of envelopes in ``inbox``.
        self.inbox_bytes = 0
        #: Its large messages in progress (followed; held only when a hook needs them).
        self.streams = streams if streams is not None else Reassembly(8, 32 << 20)
        #: Token bucket of large-message bytes.
        self.transfer_tokens = 0.0
        self.transfer_at = 0.0
        #: Ids of its large messages that wait, whole, for the moderation hooks.
        self.moderated: set[int] = set()
        self._remote_closed = asyncio.Event()

    def __repr__(self) -> str:
        return f"<ServerPeer {self.room}/{self.id} {self.state}>"

    @property
    def channel(self) -> Channel | None:
        """The room channel (reliable, ordered), once the client opened it."""
        return self.channels.get("reliable")

    def attach(self, channel: Channel, reliability: Reliability = "reliable") -> None:
        """Adopt one of the client's channels (the reliable one carries the send queue)."""
        self.channels[reliability] = channel
        if reliability == "volatile":
            channel.bufferedAmountLowThreshold = 0
        if reliability == "reliable":
            self.queue.attach(channel)
            channel.on("close", self._remote_closed.set)

    async def wait_remote_close(self, grace: float, limit: float = 10.0) -> None:
        """Wait for the client to close the channel after a close notice: ``grace`` seconds,
        renewed while what is buffered ahead of the notice is still draining (a slow client
        must read it all before it reads why), ``limit`` seconds at most."""
        channel = self.channel
        if channel is None or channel.readyState == "closed":
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while True:
            before = channel.bufferedAmount
            try:
                await asyncio.wait_for(
                    self._remote_closed.wait(), max(0.0, min(grace, deadline - loop.time()))
                )
                return
            except asyncio.TimeoutError:
                pass
            if loop.time() >= deadline or not 0 < before > channel.bufferedAmount:
                return  # nothing was left to drain, or nothing drained: the client is not reading

    def send(self, raw: str | bytes, lane: Lane = "normal") -> bool:
        """Queue one encoded envelope (or binary frame) for this peer, in ``lane``; a volatile
        one is sent now or dropped (False): never queued behind others."""
        if lane == "normal":
            self.queue.put(raw)
        elif lane == "bulk":
            self.queue.put_bulk(raw)  # type: ignore[arg-type]
        else:
            return self.send_volatile(raw)
        return True

    def send_volatile(self, raw: str | bytes) -> bool:
        channel = self.channels.get("volatile")
        if channel is not None and channel.readyState == "open":
            if channel.bufferedAmount > VOLATILE_HIGH_WATER:
                return False
            try:
                channel.send(raw)
            except Exception:  # the transport went away under us
                return False
            return True
        queue = self.queue  # a client without the volatile channel: reliable, only when idle
        if self.state == "open" and queue.queued == 0 and not queue.congested:
            queue.put(raw)
            return True
        return False

    async def close(self) -> None:
        """Close the peer connection (idempotent)."""
        self.state = "closed"
        if self.timer is not None:
            self.timer.cancel()
        self.queue.close()
        if self.worker is not None and self.worker is not asyncio.current_task():
            self.worker.cancel()
        for task in self.volatile_hooks:
            task.cancel()
        await self.link.close()
