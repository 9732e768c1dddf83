"""What a server is doing: counters the hot paths bump, and the snapshot everyone reads.

Counters are plain integer attributes the hot paths bump (one addition each, no
locks: one event loop). :class:`Stats` is one consistent snapshot of them plus the gauges
(read from the server's state when taken): ``GET /metrics``, ``/admin/state`` and the
optional ``prometheus_client`` collector all render the same snapshot.
Names follow Prometheus conventions: ``peerpyrtc_`` prefix, ``_total`` for
counters, units in names (``_bytes``, ``_seconds``).
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field

__all__ = ["CONNECT_BUCKETS", "DROP_REASONS", "Metrics", "Stats"]

#: Upper bounds (seconds) of the connect-time histogram's buckets.
CONNECT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

DROP_REASONS = ("flood", "slow_consumer", "invalid", "volatile")


class Metrics:
    """This process's counters (reset only by a restart, as Prometheus expects)."""

    __slots__ = (
        "bytes_in",
        "bytes_out",
        "connect_buckets",
        "connect_count",
        "connect_sum",
        "deliveries",
        "drops",
        "frames_in",
        "heartbeat_timeouts",
        "joins",
        "leaves",
        "messages_in",
    )

    def __init__(self) -> None:
        self.frames_in = 0
        self.messages_in = 0
        self.bytes_in = 0
        self.deliveries = 0
        self.bytes_out = 0
        self.joins = 0
        self.leaves = 0
        self.heartbeat_timeouts = 0
        self.drops = dict.fromkeys(DROP_REASONS, 0)
        self.connect_buckets = [0] * (len(CONNECT_BUCKETS) + 1)
        self.connect_sum = 0.0
        self.connect_count = 0

    def connected(self, seconds: float) -> None:
        """One peer's time from its offer to its welcome."""
        self.connect_buckets[bisect_left(CONNECT_BUCKETS, seconds)] += 1
        self.connect_sum += seconds
        self.connect_count += 1

    def removed(self, reason: str, was_open: bool) -> None:
        """Count why a peer was taken out."""
        if reason.startswith("flooding"):
            self.drops["flood"] += 1
        elif reason == "too slow to keep up":
            self.drops["slow_consumer"] += 1
        elif reason == "timeout" and was_open:
            self.heartbeat_timeouts += 1


@dataclass(frozen=True)
class Stats:
    """One snapshot of a server process (``AsyncSignalingManager.stats()``)."""

    frames_in: int
    messages_in: int
    bytes_in: int
    deliveries: int
    bytes_out: int
    joins: int
    leaves: int
    heartbeat_timeouts: int
    drops: dict[str, int]
    #: Cumulative counts per connect-time bucket (``CONNECT_BUCKETS`` then ``+Inf``).
    connect_buckets: tuple[int, ...]
    connect_sum: float
    connect_count: int
    #: Rooms with peers connected to this process.
    rooms: int
    #: Open peers of this process by room topology.
    peers: dict[str, int] = field(default_factory=dict)
    #: Answered offers whose channel is not open yet.
    pending: int = 0
    #: Bytes queued for peers, not yet sent.
    queued_bytes: int = 0
    #: Datagrams on the shared UDP port nobody claimed (None: no shared port).
    mux_dropped: int | None = None
    #: Workers registered in the backplane (None: no backplane).
    workers: int | None = None

    @classmethod
    def of(
        cls,
        m: Metrics,
        *,
        rooms: int,
        peers: dict[str, int],
        pending: int,
        queued_bytes: int,
        mux_dropped: int | None = None,
        workers: int | None = None,
    ) -> Stats:
        running, buckets = 0, []
        for count in m.connect_buckets:
            running += count
            buckets.append(running)
        return cls(
            frames_in=m.frames_in, messages_in=m.messages_in, bytes_in=m.bytes_in,
            deliveries=m.deliveries, bytes_out=m.bytes_out, joins=m.joins, leaves=m.leaves,
            heartbeat_timeouts=m.heartbeat_timeouts, drops=dict(m.drops),
            connect_buckets=tuple(buckets), connect_sum=m.connect_sum,
            connect_count=m.connect_count, rooms=rooms, peers=peers, pending=pending,
            queued_bytes=queued_bytes, mux_dropped=mux_dropped, workers=workers,
        )  # fmt: skip
