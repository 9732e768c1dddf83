"""The counters behind /metrics count what they name."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from conftest import Recorder, until
from peerpyrtc import AsyncClient, Limits
from peerpyrtc._web.prometheus import render


async def test_drops_are_counted_by_reason(make_server: Any) -> None:
    limits = Limits(
        max_messages_per_second=50, message_burst=50, heartbeat_interval=0.3, heartbeat_timeout=0.8
    )
    server, manager = await make_server(limits=limits)
    m = manager.metrics
    async with AsyncClient(server.url, "r", "ok") as ok:
        rec = Recorder(ok)
        flooder = AsyncClient(server.url, "r", "flooder", max_reconnect_attempts=0)
        await flooder.connect()
        assert flooder.connection is not None
        flooder.connection.queue.put('{"t":"nope"')  # invalid: refused, counted
        await until(lambda: m.drops["invalid"] == 1)
        for i in range(200):  # over the burst: cut off
            if flooder.connection is None:
                break
            flooder.connection.queue.put(f'{{"t":"msg","d":"{i}"}}')
            if i % 10 == 0:
                await asyncio.sleep(0)
        await until(lambda: m.drops["flood"] == 1)
        quiet = AsyncClient(server.url, "r", "quiet", heartbeat_interval=0)
        await quiet.connect()
        conn = quiet.connection
        assert conn is not None
        conn.queue.close()  # it stops answering pings: the server times it out
        assert conn.queue.channel is not None
        conn.queue.channel.remove_all_listeners("message")  # and hears nothing
        await until(lambda: m.heartbeat_timeouts == 1, timeout=10)
        text = render(manager.stats())
        assert 'peerpyrtc_dropped_total{reason="flood"} 1' in text
        assert 'peerpyrtc_dropped_total{reason="invalid"} 1' in text
        assert "peerpyrtc_heartbeat_timeouts_total 1" in text
        assert m.leaves == 2 and m.joins == 3
        await flooder.close()
        await quiet.close()
        del rec


async def test_the_prometheus_collector_exports_what_the_metrics_route_serves(
    make_server: Any,
) -> None:
    """One snapshot, two renderings: an application's own registry gets the same samples as
    ``GET /metrics`` (counters named without ``_total`` as prometheus_client wants)."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    server, manager = await make_server()
    registry = CollectorRegistry()
    registry.register(manager.prometheus_collector())
    async with AsyncClient(server.url, "r", "a") as a, AsyncClient(server.url, "r", "b") as b:
        rec = Recorder(b)
        await a.send_message("hello")
        await rec.expect("message")

        def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
            return {
                (s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(text)
                for s in family.samples
                if not s.name.endswith("_created")
            }

        exported = samples(generate_latest(registry).decode())
        served = samples(render(manager.stats()))
    assert exported.keys() == served.keys()
    for key, value in served.items():  # the text has 6 decimals of the sum
        assert exported[key] == pytest.approx(value, abs=1e-5), key
    assert served[("peerpyrtc_joins_total", ())] == 2
    assert served[("peerpyrtc_peers", (("topology", "relay"),))] == 2
    assert served[("peerpyrtc_delivered_messages_total", ())] >= 1
