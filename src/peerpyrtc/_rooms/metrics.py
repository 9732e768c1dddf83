"""What a server is doing, for ``GET /metrics`` (Prometheus text format 0.0.4).

Counters are plain integer attributes the hot paths bump (one addition each, no
locks: one event loop); gauges are read from the manager's state when scraped.
Names follow Prometheus conventions: ``peerpyrtc_`` prefix, ``_total`` for
counters, units in names (``_bytes``, ``_seconds``).
"""

from __future__ import annotations

from bisect import bisect_left
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .._manager import AsyncSignalingManager

__all__ = ["CONNECT_BUCKETS", "Metrics", "render"]

#: Upper bounds (seconds) of the connect-time histogram's buckets.
CONNECT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

DROP_REASONS = ("flood", "slow_consumer", "invalid")


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


def _line(out: list[str], name: str, kind: str, help_text: str, samples: list[str]) -> None:
    out.append(f"# HELP {name} {help_text}")
    out.append(f"# TYPE {name} {kind}")
    out.extend(samples)


async def render(manager: AsyncSignalingManager) -> str:
    """The exposition of one scrape."""
    m = manager.metrics
    local = manager._delivery.local
    peers = {"relay": 0, "mesh": 0}
    queued = 0
    for room, members in local.items():
        peers[manager.room_topology(room)] += len(members)
        for peer in members.values():
            queued += peer.queue.queued
    out: list[str] = []
    _line(out, "peerpyrtc_rooms", "gauge", "Rooms with peers connected to this process.",
          [f"peerpyrtc_rooms {len(local)}"])  # fmt: skip
    _line(out, "peerpyrtc_peers", "gauge", "Open peers of this process, by room topology.",
          [f'peerpyrtc_peers{{topology="{t}"}} {n}' for t, n in peers.items()])  # fmt: skip
    _line(out, "peerpyrtc_pending_peers", "gauge", "Answered offers whose channel is not open yet.",
          [f"peerpyrtc_pending_peers {len(manager._pending)}"])  # fmt: skip
    _line(out, "peerpyrtc_received_frames_total", "counter", "Frames received from peers.",
          [f"peerpyrtc_received_frames_total {m.frames_in}"])  # fmt: skip
    _line(out, "peerpyrtc_received_messages_total", "counter", "Valid envelopes received.",
          [f"peerpyrtc_received_messages_total {m.messages_in}"])  # fmt: skip
    _line(out, "peerpyrtc_received_bytes_total", "counter", "Bytes received from peers.",
          [f"peerpyrtc_received_bytes_total {m.bytes_in}"])  # fmt: skip
    _line(out, "peerpyrtc_delivered_messages_total", "counter",
          "Envelopes queued for peers (one per receiver).",
          [f"peerpyrtc_delivered_messages_total {m.deliveries}"])  # fmt: skip
    _line(out, "peerpyrtc_delivered_bytes_total", "counter", "Bytes queued for peers.",
          [f"peerpyrtc_delivered_bytes_total {m.bytes_out}"])  # fmt: skip
    _line(out, "peerpyrtc_joins_total", "counter", "Peers that joined a room.",
          [f"peerpyrtc_joins_total {m.joins}"])  # fmt: skip
    _line(out, "peerpyrtc_leaves_total", "counter", "Peers that left a room, for any reason.",
          [f"peerpyrtc_leaves_total {m.leaves}"])  # fmt: skip
    _line(out, "peerpyrtc_dropped_total", "counter",
          "Peers cut off (flood, slow_consumer) and frames refused (invalid).",
          [f'peerpyrtc_dropped_total{{reason="{r}"}} {n}' for r, n in m.drops.items()])  # fmt: skip
    _line(out, "peerpyrtc_heartbeat_timeouts_total", "counter", "Open peers that fell silent.",
          [f"peerpyrtc_heartbeat_timeouts_total {m.heartbeat_timeouts}"])  # fmt: skip
    _line(out, "peerpyrtc_send_queue_bytes", "gauge", "Bytes queued for peers, not yet sent.",
          [f"peerpyrtc_send_queue_bytes {queued}"])  # fmt: skip
    buckets, running = [], 0
    for bound, count in zip((*CONNECT_BUCKETS, "+Inf"), m.connect_buckets, strict=True):
        running += count
        buckets.append(f'peerpyrtc_connect_seconds_bucket{{le="{bound}"}} {running}')
    buckets += [f"peerpyrtc_connect_seconds_sum {m.connect_sum:.6f}",
                f"peerpyrtc_connect_seconds_count {m.connect_count}"]  # fmt: skip
    _line(out, "peerpyrtc_connect_seconds", "histogram", "From a peer's offer to its welcome.",
          buckets)  # fmt: skip
    mux = manager._network.mux
    if mux is not None:
        _line(out, "peerpyrtc_udp_mux_dropped_total", "counter",
              "Datagrams on the shared UDP port that no peer connection could claim.",
              [f"peerpyrtc_udp_mux_dropped_total {mux.dropped}"])  # fmt: skip
    plane = manager._backplane
    if plane is not None:
        workers = await plane.redis.scard(f"{plane.prefix}workers")
        _line(out, "peerpyrtc_workers", "gauge", "Workers registered in the Redis backplane.",
              [f"peerpyrtc_workers {workers}"])  # fmt: skip
    return "\n".join(out) + "\n"
