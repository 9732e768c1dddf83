"""``GET /metrics`` (Prometheus text format 0.0.4) and a ``prometheus_client`` collector,
both rendered from one :class:`~.._rooms.metrics.Stats` snapshot.

Names follow Prometheus conventions: ``peerpyrtc_`` prefix, ``_total`` for counters, units
in names (``_bytes``, ``_seconds``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from .._rooms.metrics import CONNECT_BUCKETS, Stats

__all__ = ["Family", "families", "make_collector", "render"]

Labels = dict[str, str]


class Family(NamedTuple):
    name: str
    kind: str  # "counter", "gauge" or "histogram"
    help: str
    #: ``(sample name, labels, value)``
    samples: list[tuple[str, Labels, float]]


def _one(name: str, kind: str, help_text: str, value: float) -> Family:
    return Family(name, kind, help_text, [(name, {}, value)])


def families(s: Stats) -> list[Family]:
    """Every metric of one snapshot, in exposition order."""
    out = [
        _one("peerpyrtc_rooms", "gauge", "Rooms with peers connected to this process.", s.rooms),
        Family("peerpyrtc_peers", "gauge", "Open peers of this process, by room topology.",
               [("peerpyrtc_peers", {"topology": t}, n) for t, n in s.peers.items()]),
        _one("peerpyrtc_pending_peers", "gauge",
             "Answered offers whose channel is not open yet.", s.pending),
        _one("peerpyrtc_received_frames_total", "counter", "Frames received from peers.",
             s.frames_in),
        _one("peerpyrtc_received_messages_total", "counter", "Valid envelopes received.",
             s.messages_in),
        _one("peerpyrtc_received_bytes_total", "counter", "Bytes received from peers.",
             s.bytes_in),
        _one("peerpyrtc_delivered_messages_total", "counter",
             "Envelopes queued for peers (one per receiver).", s.deliveries),
        _one("peerpyrtc_delivered_bytes_total", "counter", "Bytes queued for peers.",
             s.bytes_out),
        _one("peerpyrtc_joins_total", "counter", "Peers that joined a room.", s.joins),
        _one("peerpyrtc_leaves_total", "counter", "Peers that left a room, for any reason.",
             s.leaves),
        Family("peerpyrtc_dropped_total", "counter",
               "Peers cut off (flood, slow_consumer) and frames refused (invalid).",
               [("peerpyrtc_dropped_total", {"reason": r}, n) for r, n in s.drops.items()]),
        _one("peerpyrtc_heartbeat_timeouts_total", "counter", "Open peers that fell silent.",
             s.heartbeat_timeouts),
        _one("peerpyrtc_send_queue_bytes", "gauge", "Bytes queued for peers, not yet sent.",
             s.queued_bytes),
    ]  # fmt: skip
    name = "peerpyrtc_connect_seconds"
    bounds = [str(b) for b in CONNECT_BUCKETS] + ["+Inf"]
    samples: list[tuple[str, Labels, float]] = [
        (f"{name}_bucket", {"le": b}, n) for b, n in zip(bounds, s.connect_buckets, strict=True)
    ]
    samples += [(f"{name}_sum", {}, s.connect_sum), (f"{name}_count", {}, s.connect_count)]
    out.append(Family(name, "histogram", "From a peer's offer to its welcome.", samples))
    if s.mux_dropped is not None:
        out.append(_one("peerpyrtc_udp_mux_dropped_total", "counter",
                        "Datagrams on the shared UDP port that no peer connection could claim.",
                        s.mux_dropped))  # fmt: skip
    if s.workers is not None:
        out.append(_one("peerpyrtc_workers", "gauge",
                        "Workers registered in the Redis backplane.", s.workers))  # fmt: skip
    return out


def _value(name: str, value: float) -> str:
    if name.endswith("_sum"):
        return f"{value:.6f}"
    return str(int(value)) if float(value).is_integer() else repr(value)


def render(stats: Stats) -> str:
    """The text exposition of one snapshot."""
    lines: list[str] = []
    for family in families(stats):
        lines.append(f"# HELP {family.name} {family.help}")
        lines.append(f"# TYPE {family.name} {family.kind}")
        for sample, labels, value in family.samples:
            shown = ",".join(f'{k}="{v}"' for k, v in labels.items())
            lines.append(f"{sample}{{{shown}}} {_value(sample, value)}" if shown
                         else f"{sample} {_value(sample, value)}")  # fmt: skip
    return "\n".join(lines) + "\n"


def make_collector(stats: Callable[[], Stats]) -> Any:
    """A ``prometheus_client`` collector of ``stats()`` snapshots, for an application's own
    registry (``pip install prometheus_client``)."""
    try:
        from prometheus_client.core import Metric
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the collector needs prometheus_client: pip install 'peerpyrtc[prometheus]'"
        ) from exc

    class Collector:
        def collect(self) -> Iterator[Any]:
            for family in families(stats()):
                name = family.name
                if family.kind == "counter":
                    name = name.removesuffix("_total")
                metric = Metric(name, family.help, family.kind)
                for sample, labels, value in family.samples:
                    metric.add_sample(sample, labels, value)
                yield metric

        def describe(self) -> list[Any]:
            return []  # unchecked: the families depend on the configuration

    return Collector()
