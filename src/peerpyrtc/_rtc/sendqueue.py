"""A DataChannel send queue that coalesces and respects backpressure.

Whatever is queued during one event-loop iteration leaves as one DataChannel
message (a batch frame capped at the SCTP message size), so a busy sender
pays one SCTP/DTLS round per iteration instead of one per envelope. An idle
sender sends a batch of one at once: nothing waits for a timer.

Items are measured in UTF-8 bytes when queued; one that UTF-8 cannot carry is
refused there (logged, dropped), so nothing at the head of the queue can ever
wedge it. Binary items (``bytes``) leave as frames of their own, never batched
with text.

Frames of large messages go in a second lane (``put(frame, bulk=True)``), handed to the
channel only while it holds less than :data:`BULK_HIGH_WATER` and only after everything in
the first lane: a large transfer never delays small messages by more than that much.
A bulk frame may carry a callback told whether it left (True) or was dropped (False).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable

from .._wire.protocol import MAX_FRAME_BYTES, batch
from .transport import Channel

__all__ = ["BULK_HIGH_WATER", "BULK_LOW_WATER", "HIGH_WATER", "LOW_WATER", "SendQueue", "Sent"]

logger = logging.getLogger(__name__)

#: Stop handing frames to SCTP above this many buffered bytes...
HIGH_WATER = 1 << 20
#: ...and resume below this.
LOW_WATER = 256 << 10
#: Bulk frames (large messages) are handed over only below this many buffered bytes, and
#: resume below BULK_LOW_WATER. aiortc hands SCTP one message at a time from a FIFO shared by
#: every channel of the connection, so whatever bulk bytes wait there delay a small message
#: sent behind them: a few frames keep SCTP busy (measured: benchmarks/transfer.py), more
#: only add latency.
BULK_HIGH_WATER = 64 << 10
BULK_LOW_WATER = 32 << 10

#: Told whether a bulk frame left (True) or was dropped (False).
Sent = Callable[[bool], None]


class SendQueue:
    """Queue of encoded envelopes bound for one channel."""

    def __init__(self, max_bytes: int, on_overflow: Callable[[], None] | None = None) -> None:
        self.channel: Channel | None = None
        self.max_bytes = max_bytes
        #: Called once when more than ``max_bytes`` wait (a consumer too slow).
        self.on_overflow = on_overflow
        self.closed = False
        self._queue: deque[tuple[str | bytes, int]] = deque()
        self._bulk: deque[tuple[bytes, Sent | None]] = deque()
        self._bytes = 0
        self._scheduled = False
        self._blocked = False
        #: The bulk lane waits for the channel to drain (the first lane may still send).
        self._bulk_blocked = False
        self._bulk_bytes = 0
        self._drained: asyncio.Event | None = None
        self._loop = asyncio.get_running_loop()

    @property
    def queued(self) -> int:
        """Bytes queued and not yet handed to the channel."""
        return self._bytes

    def attach(self, channel: Channel) -> None:
        """Start sending into ``channel`` (queued envelopes leave once it is open)."""
        self.channel = channel
        channel.bufferedAmountLowThreshold = LOW_WATER
        channel.on("bufferedamountlow", self._unblock)
        channel.on("open", self._schedule)

    @property
    def congested(self) -> bool:
        """True while the channel holds more than the high-water mark."""
        return self._blocked or self._bytes - self._bulk_bytes > HIGH_WATER

    @property
    def bulk_queued(self) -> int:
        """Bytes of large messages' frames queued."""
        return self._bulk_bytes

    def put_bulk(self, frame: bytes, sent: Sent | None = None) -> None:
        """Queue one frame of a large message in the bulk lane."""
        if self.closed:
            if sent is not None:
                sent(False)
            return
        self._bulk.append((frame, sent))
        self._bytes += len(frame)
        self._bulk_bytes += len(frame)
        if self._bytes > self.max_bytes:
            self._overflow()
            return
        self._schedule()

    def _overflow(self) -> None:
        self.clear()
        callback, self.on_overflow = self.on_overflow, None
        if callback is not None:
            callback()

    def put(self, raw: str | bytes) -> None:
        """Queue one encoded envelope (or binary frame); it leaves at the end of this turn."""
        if self.closed:
            return
        if type(raw) is not str or raw.isascii():  # bytes, or ASCII text: its length is its size
            size = len(raw)
        else:
            try:
                size = len(raw.encode("utf-8"))
            except UnicodeEncodeError:
                logger.error("dropped an envelope that UTF-8 cannot carry: %.80r", raw)
                return
        self._queue.append((raw, size))
        self._bytes += size
        if self._bytes > self.max_bytes:
            self._overflow()
            return
        self._schedule()

    def send_last(self, raw: str) -> None:
        """Send a final envelope (a close notice) now, behind what is queued if the channel
        takes it all, else instead of that backlog: a peer being cut off for flooding or
        slowness must still read why."""
        self.put(raw)
        self.flush()
        channel = self.channel
        if self._queue and channel is not None and channel.readyState == "open":
            self.clear()
            try:
                channel.send(raw)
            except Exception:  # the transport went away under us
                logger.debug("final send failed", exc_info=True)

    async def wait_drained(self) -> None:
        """Wait until the channel is below its low-water mark again."""
        while self.congested and not self.closed:
            if self._drained is None:
                self._drained = asyncio.Event()
            await self._drained.wait()

    def clear(self) -> None:
        self._queue.clear()
        self._bytes = self._bulk_bytes = 0
        bulk, self._bulk = self._bulk, deque()
        for _, sent in bulk:
            if sent is not None:
                sent(False)

    def close(self) -> None:
        self.closed = True
        self.clear()
        self._wake()

    def _schedule(self) -> None:
        if self._scheduled:
            return
        if (self._queue and not self._blocked) or (self._bulk and not self._bulk_blocked):
            self._scheduled = True
            self._loop.call_soon(self.flush)

    def _unblock(self) -> None:
        self._blocked = self._bulk_blocked = False
        if self.channel is not None:
            self.channel.bufferedAmountLowThreshold = LOW_WATER
        self._schedule()
        if not self._queue and not self._bulk:
            self._wake()

    def _wake(self) -> None:
        if self._drained is not None:
            self._drained.set()
            self._drained = None

    def flush(self) -> None:
        """Hand what is queued to the channel now, as few frames as fit."""
        self._scheduled = False
        channel = self.channel
        if channel is None or channel.readyState != "open" or self.closed:
            return
        queue = self._queue
        while queue:
            if channel.bufferedAmount > HIGH_WATER:
                self._blocked = True
                return
            item, length = queue[0]
            if isinstance(item, bytes):
                queue.popleft()
                self._bytes -= length
                data: str | bytes = item
            else:
                frame: list[str] = []
                size = 2
                while queue:
                    item, length = queue[0]
                    if isinstance(item, bytes) or (frame and size + length + 1 > MAX_FRAME_BYTES):
                        break
                    queue.popleft()
                    self._bytes -= length
                    frame.append(item)
                    size += length + 1
                data = batch(frame)
            try:
                channel.send(data)
            except Exception:  # the transport went away under us
                logger.debug("send failed", exc_info=True)
                self.clear()
                return
        bulk = self._bulk
        while bulk:
            if channel.bufferedAmount > BULK_HIGH_WATER:
                self._bulk_blocked = True
                if not self._blocked:  # only the bulk lane waits: wake it lower down
                    channel.bufferedAmountLowThreshold = BULK_LOW_WATER
                return
            chunk, sent = bulk.popleft()
            self._bytes -= len(chunk)
            self._bulk_bytes -= len(chunk)
            try:
                channel.send(chunk)
            except Exception:  # the transport went away under us
                logger.debug("send failed", exc_info=True)
                if sent is not None:
                    sent(False)
                self.clear()
                return
            if sent is not None:
                sent(True)
        if channel.bufferedAmount <= HIGH_WATER:
            self._wake()
