"""The one way frames leave the server for a room's peers.

Everything sent to peers by room (relayed messages, broadcasts, the server's
speech, join, leave and host notices) goes through :meth:`Delivery.deliver`
or :meth:`Delivery.broadcast`. Nothing else walks a room's members to send.
The delivery holds this process's open connections by room (``attach`` /
``detach``); the room store holds who is in the room.

It is the seam a backplane overrides: a Redis-backed delivery publishes the
frame for the workers that hold the other members and hands what arrives to
:meth:`deliver_local` (python-socketio's ``emit`` / ``_publish`` split). A
frame's *lane* is a keyword here, not a second path: ``"normal"`` (the reliable
queue), ``"bulk"`` (frames of large messages: the reliable queue's second lane, behind
small messages) or ``"volatile"`` (the unordered channel: sent now or dropped).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import Literal, Protocol

from .._wire.binary import stamp_any
from .._wire.protocol import stamp_suffix
from .metrics import Metrics

__all__ = ["Delivery", "Lane", "Member"]

#: Which way a frame leaves for a peer (see the module's text).
Lane = Literal["normal", "bulk", "volatile"]


class Member(Protocol):
    """A connection the delivery sends to (the server's peer)."""

    @property
    def room(self) -> str: ...

    @property
    def id(self) -> str: ...

    def send(self, raw: str | bytes, lane: Lane = "normal") -> bool:
        """Queue (or, volatile, send) one frame; False when a volatile frame was dropped."""
        ...


class Delivery:
    """Queues frames for the connected peers of a room (in one process: all of them).

    Args:
        metrics: the counters it bumps (one per delivery, bytes out).
        next_seq: the room store's broadcast sequence, synchronous (an
            in-memory store's ``next_seq_nowait``).
    """

    def __init__(self, next_seq: Callable[[str], int], metrics: Metrics) -> None:
        self.next_seq = next_seq
        #: Counters for /metrics (the server's).
        self.metrics = metrics
        #: ``{room: {peer_id: peer}}``: this process's open peers, in join order.
        self.local: dict[str, dict[str, Member]] = {}

    async def follow(self, room: str) -> None:
        """Be ready to receive ``room``'s frames (before a peer of this process joins it)."""

    def abandon(self, room: str) -> None:
        """A :meth:`follow` that did not end in :meth:`attach`."""

    def attach(self, peer: Member, members: Iterable[str] = ()) -> None:
        """Start delivering to ``peer`` (replacing an older connection of the same id in place).

        ``members`` are the room's members as the store saw them at the join.
        """
        self.local.setdefault(peer.room, {})[peer.id] = peer

    def detach(self, peer: Member) -> None:
        """Stop delivering to ``peer`` (no-op if a newer connection took its place)."""
        members = self.local.get(peer.room)
        if members is not None and members.get(peer.id) is peer:
            del members[peer.id]
            if not members:
                del self.local[peer.room]

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
        """Queue ``raw`` for every member of ``room`` but ``exclude`` and ``skip`` (peers its
        sender reached directly), or for ``to`` only.

        Returns how many peers it was queued for (0 for an unknown room or target).
        """
        return self.deliver_local(room, raw, exclude, to, skip, lane)

    def broadcast(self, room: str, raw: str | bytes, sender: str, lane: Lane = "normal") -> int:
        """Stamp a broadcast (text, or a binary frame) with its sender and the room's next
        number; queue it for all."""
        suffix = stamp_suffix(sender, self.next_seq(room))
        return self.deliver_local(room, stamp_any(raw, suffix), lane=lane)

    def presence(self, room: str, raw: str, peer_id: str, joined: bool) -> None:
        """Send a join notice (to all but ``peer_id``) or a leave notice (to all)."""
        self.deliver_local(room, raw, peer_id if joined else None)

    def deliver_local(
        self,
        room: str,
        raw: str | bytes,
        exclude: str | None = None,
        to: str | None = None,
        skip: Collection[str] | None = None,
        lane: Lane = "normal",
    ) -> int:
        """Queue ``raw`` for this process's peers of ``room`` (the only member loop)."""
        members = self.local.get(room)
        if members is None:
            return 0
        metrics = self.metrics
        if to is not None:
            peer = members.get(to)
            if peer is None:
                return 0
            if not peer.send(raw, lane):
                metrics.drops["volatile"] += 1
                return 1
            metrics.deliveries += 1
            metrics.bytes_out += len(raw)
            return 1
        count = 0
        dropped = 0
        for member_id, peer in members.items():
            if member_id != exclude and (skip is None or member_id not in skip):
                if not peer.send(raw, lane):
                    dropped += 1
                count += 1
        if dropped:
            metrics.drops["volatile"] += dropped
            count -= dropped
            metrics.deliveries += count
            metrics.bytes_out += len(raw) * count
            return count + dropped
        metrics.deliveries += count
        metrics.bytes_out += len(raw) * count
        return count
