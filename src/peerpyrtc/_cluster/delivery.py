"""Delivery across workers: every room frame goes through the room's Redis channel.

One channel per room (``<prefix>room:<room>``); a worker subscribes to the
rooms it holds peers of and delivers what arrives to them (``deliver_local``).
Its own frames come back the same way, so every worker sees one room's frames
in one order (Redis delivers a channel's messages in publish order): per
sender order and one total order of broadcasts, whose numbers are taken in
the same script that publishes them. One publisher task sends frames in the
order they were handed over, pipelined.

While Redis is unreachable, frames are delivered to this worker's own peers
directly (degraded: the room is split until the link is back).

Wire format of a room message: a JSON header line, then the frame:
``[kind, exclude, to, id, skip, lane, binary]`` + ``"\\n"`` + frame, where kind is ``f``
(frame), ``b`` (broadcast: the script prepends ``n`` and a newline), ``j``/``l``
(presence: ``id`` joined / left; mirrors follow them); ``lane`` is the delivery lane and
``binary`` is 1 for a binary frame, which stays one Redis message, as it came.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Collection, Iterable
from typing import Any

from .._rooms.delivery import Delivery, Lane, Member
from .._rooms.metrics import Metrics
from .._wire.binary import stamp_any
from .._wire.protocol import stamp_suffix
from .bus import Bus, Outgoing

__all__ = ["ClusterDelivery"]

logger = logging.getLogger(__name__)

#: Frames handed to the publisher and not yet sent, at most (then: degraded, local only).
MAX_OUTBOX = 100_000


class ClusterDelivery(Delivery):
    """A :class:`Delivery` whose room frames travel through the cluster's :class:`Bus`.

    It also decides which room channels this worker hears: a room is followed from the
    moment a peer of this worker starts joining it until its last peer here has left.
    """

    def __init__(self, bus: Bus, prefix: str, metrics: Metrics) -> None:
        super().__init__(self._no_local_seq, metrics)
        self.bus = bus
        self.prefix = prefix
        #: ``{room: {peer ids}}``: the cluster's members of the rooms this worker serves.
        self.mirror: dict[str, set[str]] = {}
        self.linked = False
        self._outbox: asyncio.Queue[tuple[str, str, bytes]] = asyncio.Queue()
        self._degraded: dict[str, int] = {}
        #: Rooms whose channel is subscribed, and joins under way per room.
        self.followed: set[str] = set()
        self._wanted: dict[str, int] = {}
        self._lock = asyncio.Lock()

    @staticmethod
    def _no_local_seq(room: str) -> int:
        raise AssertionError("a cluster numbers broadcasts in Redis")

    def channel(self, room: str) -> str:
        return f"{self.prefix}room:{room}"

    def _counter(self, room: str) -> str:
        """The key of the room's broadcast numbers."""
        return f"{self.prefix}r:{room}:seq"

    # ---------------------------------------------------------------- rooms
    def room_of(self, channel: str) -> str | None:
        """The room whose channel this is (None for another channel)."""
        prefix = f"{self.prefix}room:"
        return channel[len(prefix) :] if channel.startswith(prefix) else None

    def channels(self) -> list[str]:
        """The room channels this worker must hear (after a lost link: all of them again)."""
        self.followed = set(self.local) | self.followed
        return [self.channel(r) for r in self.followed]

    async def follow(self, room: str) -> None:
        self._wanted[room] = self._wanted.get(room, 0) + 1
        async with self._lock:
            if room not in self.followed:
                await self.bus.subscribe(self.channel(room))
                self.followed.add(room)

    def abandon(self, room: str) -> None:
        self._settled(room)

    def _settled(self, room: str) -> None:
        """A follow ended (in a join or not)."""
        left = self._wanted.get(room, 0) - 1
        if left > 0:
            self._wanted[room] = left
        else:
            self._wanted.pop(room, None)

    async def unfollow_idle(self) -> None:
        """Stop hearing rooms this worker has no peer in and none joining."""
        async with self._lock:
            idle = [r for r in self.followed if r not in self.local and r not in self._wanted]
            if idle:
                await self.bus.unsubscribe(*(self.channel(r) for r in idle))
            for room in idle:
                self.followed.discard(room)
                self.mirror.pop(room, None)

    def attach(self, peer: Member, members: Iterable[str] = ()) -> None:
        super().attach(peer, members)
        self._settled(peer.room)
        self.mirror.setdefault(peer.room, set()).update(members)

    def resync(self, room: str, peers: list[dict[str, Any]]) -> None:
        """The room's members as the store has them now (after a lost link)."""
        self.mirror[room] = {p["id"] for p in peers}

    # ---------------------------------------------------------------- sending
    def deliver(
        self,
        room: str,
        raw: str | bytes,
        *,
        exclude: str | None = None,
        to: str | None = None,
        skip: Collection[str] | None = None,
        lane: Lane = "normal",
    ) -> int:
        if not self._publish(room, "f", raw, exclude, to, None, skip, lane):
            return self.deliver_local(room, raw, exclude, to, skip, lane)
        members = self.mirror.get(room)
        if members is None:
            return 0
        if to is not None:
            return int(to in members)
        return len(members - {exclude, *(skip or ())})

    def broadcast(self, room: str, raw: str | bytes, sender: str, lane: Lane = "normal") -> int:
        if not self._publish(room, "b", raw, None, None, sender, None, lane):
            n = self.degraded_seq(room)
            return self.deliver_local(room, stamp_any(raw, stamp_suffix(sender, n)), lane=lane)
        return len(self.mirror.get(room, ()))

    def presence(self, room: str, raw: str, peer_id: str, joined: bool) -> None:
        """A join or leave notice: the mirrors of every worker follow it."""
        kind = "j" if joined else "l"
        members = self.mirror.get(room)
        if not self._publish(room, kind, raw, peer_id if joined else None, None, peer_id):
            if members is not None:
                (members.add if joined else members.discard)(peer_id)
            self.deliver_local(room, raw, peer_id if joined else None)

    def _publish(
        self,
        room: str,
        kind: str,
        raw: str | bytes,
        exclude: str | None,
        to: str | None,
        subject: str | None = None,
        skip: Collection[str] | None = None,
        lane: Lane = "normal",
    ) -> bool:
        if not self.linked or self._outbox.qsize() >= MAX_OUTBOX:
            return False
        binary = not isinstance(raw, str)
        fields: list[Any] = [kind, exclude or "", to or "", subject or ""]
        if skip or lane != "normal" or binary:
            fields += [sorted(skip) if skip else None, lane, int(binary)]
        head = json.dumps(fields, separators=(",", ":"))
        body = raw.encode() if isinstance(raw, str) else raw
        self._outbox.put_nowait((kind, room, head.encode() + b"\n" + body))
        return True

    async def run_publisher(self) -> None:
        """Send handed-over frames in order, a pipeline per batch, until cancelled."""
        while True:
            first = await self._outbox.get()
            batch = [first]
            while not self._outbox.empty() and len(batch) < 512:
                batch.append(self._outbox.get_nowait())
            try:
                if not self.linked:
                    raise ConnectionError("the backplane link is down")
                out: list[Outgoing] = [
                    (self.channel(room), payload, self._counter(room) if kind == "b" else None)
                    for kind, room, payload in batch
                ]
                await self.bus.publish(out)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the link broke: what was not sent is delivered here
                logger.warning("backplane publish failed (%s); delivering locally", exc)
                self.linked = False
                for item in batch:
                    self.receive(item[1], item[2])
                while not self._outbox.empty():
                    item = self._outbox.get_nowait()
                    self.receive(item[1], item[2])
                    self._outbox.task_done()
            finally:
                for _ in batch:
                    self._outbox.task_done()

    async def flush(self, timeout: float = 5.0) -> None:
        """Wait (bounded) until every handed-over frame was sent or delivered here."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._outbox.join(), timeout)

    # -------------------------------------------------------------- receiving
    def receive(self, room: str, payload: bytes) -> None:
        """One message from the room's channel (or one that could not be sent): deliver it
        to this worker's peers."""
        n = 0
        head_end = payload.index(b"\n")
        head = payload[:head_end]
        if head[:1] != b"[":  # a broadcast, numbered by the script: "n\n[...]\nframe"
            n = int(head)
            payload = payload[head_end + 1 :]
            head_end = payload.index(b"\n")
            head = payload[:head_end]
        kind, exclude, to, subject, *rest = json.loads(head)
        skip, lane_name, binary = rest if rest else (None, "normal", 0)
        frame = payload[head_end + 1 :]
        raw: str | bytes = frame if binary else frame.decode()
        lane: Lane = (
            "bulk" if lane_name == "bulk" else "volatile" if lane_name == "volatile" else "normal"
        )
        if kind == "b":
            if not n:
                n = self.degraded_seq(room)
            raw = stamp_any(raw, stamp_suffix(subject, n))
        elif kind in ("j", "l"):
            members = self.mirror.get(room)
            if members is not None:
                (members.add if kind == "j" else members.discard)(subject)
        self.deliver_local(room, raw, exclude or None, to or None, skip, lane)

    def degraded_seq(self, room: str) -> int:
        """Numbers for broadcasts while Redis is away (this worker's peers only)."""
        n = self._degraded[room] = self._degraded.get(room, 0) + 1
        return n
