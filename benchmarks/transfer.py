"""Binary, large and volatile messages: peerpyrtc against python-socketio, in one run.

    python benchmarks/transfer.py            # 3 repeats (about 4 minutes)
    python benchmarks/transfer.py --quick    # 1 repeat, smaller (a smoke run)

Workloads (servers and clients in separate processes on loopback, systems interleaved
per repeat, min/median/max across repeats):

- bulk: A sends 1 MiB binary messages to B (peerpyrtc `emit(event, bytes)`, 16 KiB
  frames; socket.io a binary attachment); MB/s until B has them all.
- fairness: A sends one 20 MiB binary message to B and, while it is in flight, a
  100-byte message every 20 ms; latency p50/p99 of those small messages, and how long
  the transfer took.
- volatile: 60 updates a second for 5 s to 30 receivers (peerpyrtc's volatile channel;
  socket.io has no volatile emit in its Python client, so a normal one); latency p50/p99
  and the fraction lost.

peerpyrtc runs `peerpyrtc serve` with default limits, except `max_message_bytes` raised
to 24 MiB for the 20 MiB message (python-socketio's `max_http_buffer_size` is raised the
same way). The clients share one clock (one machine): latencies are one-way.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from workloads import pct, start_server, volatile_open, write_result  # noqa: E402

_ids = itertools.count()
MiB = 1024 * 1024


class Side:
    """One client of either system: connect, emit (bytes or JSON), receive by event."""

    def __init__(self, system: str, url: str, room: str, name: str) -> None:
        self.system, self.url, self.room, self.name = system, url, room, name
        self.handlers: dict[str, Callable[[Any], None]] = {}
        if system.startswith("peerpyrtc"):
            from peerpyrtc import AsyncClient

            self.rtc = AsyncClient(url, room, name, max_reconnect_attempts=0, timeout=60)
            self.rtc.on_message = lambda sender, data, event: self._got(event, data)
        else:
            import socketio

            # aiohttp refuses WebSocket messages over 4 MiB by default: no limit, as the server
            self.sio = socketio.AsyncClient(
                reconnection=False, websocket_extra_options={"max_msg_size": 0}
            )
            self.sio.on("*", lambda event, data: self._got(event, data))

    def _got(self, event: str | None, data: Any) -> None:
        handler = self.handlers.get(event or "")
        if handler is not None:
            handler(data)

    async def connect(self) -> None:
        if self.system.startswith("peerpyrtc"):
            await self.rtc.connect()
            await volatile_open(self.rtc)
        else:
            await self.sio.connect(self.url, transports=["websocket"], wait_timeout=60)
            await self.sio.call("join", self.room, timeout=60)

    async def emit(self, event: str, data: Any, volatile: bool = False) -> None:
        if self.system.startswith("peerpyrtc"):
            await self.rtc.emit(event, data, volatile=volatile)
        else:
            await self.sio.emit(event, data)

    async def close(self) -> None:
        if self.system.startswith("peerpyrtc"):
            await self.rtc.close()
        else:
            await self.sio.disconnect()


async def joined(system: str, url: str, room: str, n: int) -> list[Side]:
    sides = [Side(system, url, room, f"{room}-{next(_ids)}-{os.getpid()}") for _ in range(n)]
    for side in sides:
        await side.connect()
    await asyncio.sleep(0.3)  # everyone's join announced (a benchmark: no assertion rides on it)
    return sides


async def bulk(system: str, url: str, count: int = 20) -> dict[str, float]:
    a, b = await joined(system, url, "bulk", 2)
    done = asyncio.get_running_loop().create_future()
    got = 0

    def on_blob(data: Any) -> None:
        nonlocal got
        got += 1
        if got == count and not done.done():
            done.set_result(None)

    b.handlers["blob"] = on_blob
    blob = os.urandom(MiB)
    started = time.perf_counter()
    for _ in range(count):
        await a.emit("blob", blob)
    await asyncio.wait_for(done, 300)
    elapsed = time.perf_counter() - started
    await asyncio.gather(a.close(), b.close())
    return {"bulk_mb_per_s": count * MiB / elapsed / 1e6}


async def fairness(system: str, url: str, megabytes: int = 20) -> dict[str, float]:
    a, b = await joined(system, url, "fair", 2)
    loop = asyncio.get_running_loop()
    arrived = loop.create_future()
    latencies: list[float] = []
    b.handlers["big"] = lambda data: arrived.done() or arrived.set_result(time.perf_counter())
    b.handlers["ping"] = lambda data: latencies.append((time.perf_counter() - data["t"]) * 1000)
    started = time.perf_counter()
    transfer = asyncio.ensure_future(a.emit("big", os.urandom(megabytes * MiB)))
    await asyncio.sleep(0.02)
    sent = 0
    while not arrived.done() and time.perf_counter() - started < 120:
        await a.emit("ping", {"t": time.perf_counter(), "pad": "x" * 64})
        sent += 1
        await asyncio.sleep(0.02)
    await transfer
    took = await arrived - started
    await asyncio.sleep(0.5)  # the last pings
    await asyncio.gather(a.close(), b.close())
    return {
        "fair_small_p50_ms": pct(latencies, 0.5),
        "fair_small_p99_ms": pct(latencies, 0.99),
        "fair_transfer_s": took,
        "fair_small_lost": 1 - len(latencies) / max(sent, 1),
    }


async def volatile(
    system: str, url: str, n: int = 30, rate: int = 60, seconds: float = 5
) -> dict[str, float]:
    receivers = await joined(system, url, "vol", n)
    [sender] = await joined(system, url, "vol", 1)
    latencies: list[float] = []

    def on_update(data: Any) -> None:
        latencies.append((time.perf_counter() - data["t"]) * 1000)

    for r in receivers:
        r.handlers["pos"] = on_update
    total = int(rate * seconds)
    start = time.perf_counter()
    for i in range(total):
        update = {"s": i, "t": time.perf_counter(), "x": i % 800, "y": i % 600, "pad": "p" * 60}
        await sender.emit("pos", update, volatile=system == "peerpyrtc")
        await asyncio.sleep(max(0.0, start + (i + 1) / rate - time.perf_counter()))
    await asyncio.sleep(1.0)  # stragglers
    await asyncio.gather(*(s.close() for s in [*receivers, sender]))
    return {
        "vol_p50_ms": pct(latencies, 0.5),
        "vol_p99_ms": pct(latencies, 0.99),
        "vol_lost": 1 - len(latencies) / (total * n),
    }


WORKLOADS: dict[str, Any] = {"bulk": bulk, "fairness": fairness, "volatile": volatile}
METRICS = [
    ("bulk_mb_per_s", "bulk, 1 MiB binary messages (MB/s) ↑"),
    ("fair_small_p50_ms", "small messages during a 20 MiB transfer, p50 (ms) ↓"),
    ("fair_small_p99_ms", "small messages during a 20 MiB transfer, p99 (ms) ↓"),
    ("fair_transfer_s", "the 20 MiB transfer itself (s) ↓"),
    ("vol_p50_ms", "60 Hz to 30 receivers, latency p50 (ms) ↓"),
    ("vol_p99_ms", "60 Hz to 30 receivers, latency p99 (ms) ↓"),
    ("vol_lost", "60 Hz to 30 receivers, fraction lost ↓"),
]


async def start(system: str) -> tuple[asyncio.subprocess.Process, str]:
    if system == "peerpyrtc":
        return await start_server([sys.executable, "-m", "peerpyrtc", "serve", "--port", "0",
                                   "--limit", f"max_message_bytes={24 * MiB}"])  # fmt: skip
    return await start_server([sys.executable, str(HERE / "sio_server.py"), "--port", "0"])


async def run_one(system: str, workload: str, params: dict[str, Any]) -> dict[str, float]:
    server, url = await start(system)
    try:
        client = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--client", system, workload, url, json.dumps(params),
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(client.communicate(), 600)
        if client.returncode != 0:
            raise RuntimeError(f"{system} {workload} failed (exit {client.returncode})")
        return json.loads(out.decode().strip().splitlines()[-1])  # type: ignore[no-any-return]
    finally:
        server.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(server.wait(), 30)
        except asyncio.TimeoutError:
            server.kill()
            await server.wait()


def table(runs: dict[str, list[dict[str, float]]]) -> str:
    rows = ["| metric | peerpyrtc median [min-max] | python-socketio median [min-max] | ratio median [min-max] |",
            "|---|---:|---:|---:|"]  # fmt: skip
    for key, title in METRICS:
        cells = []
        for system in ("peerpyrtc", "socketio"):
            values = [r[key] for r in runs[system] if key in r]
            cells.append(
                f"{statistics.median(values):,.3g} [{min(values):,.3g}-{max(values):,.3g}]"
            )
        ratios = [
            p[key] / s[key]
            for p, s in zip(runs["peerpyrtc"], runs["socketio"], strict=True)
            if s.get(key)
        ]
        cells.append(
            f"{statistics.median(ratios):.2f}x [{min(ratios):.2f}-{max(ratios):.2f}]"
            if ratios
            else "-"
        )
        rows.append(f"| {title} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


async def orchestrate(quick: bool, repeats: int) -> str:
    plan = (
        [("bulk", {"count": 4}), ("fairness", {"megabytes": 4}),
         ("volatile", {"n": 5, "seconds": 1})]
        if quick
        else [("bulk", {}), ("fairness", {}), ("volatile", {})]
    )  # fmt: skip
    runs: dict[str, list[dict[str, float]]] = {"peerpyrtc": [], "socketio": []}
    for repeat in range(repeats):
        merged: dict[str, dict[str, float]] = {"peerpyrtc": {}, "socketio": {}}
        order = ["peerpyrtc", "socketio"] if repeat % 2 == 0 else ["socketio", "peerpyrtc"]
        for workload, params in plan:
            for system in order:
                result = await run_one(system, workload, params)
                merged[system].update(result)
                print(f"repeat {repeat + 1}/{repeats} {system} {workload}: {json.dumps(result)}",
                      flush=True)  # fmt: skip
        for system, result in merged.items():
            runs[system].append(result)
    return table(runs)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        system, workload, url, params = sys.argv[2:6]
        result = asyncio.run(WORKLOADS[workload](system, url, **json.loads(params)))
        print(json.dumps(result), flush=True)
        os._exit(0)  # the numbers are out
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    text = asyncio.run(orchestrate(args.quick, 1 if args.quick else args.repeats))
    write_result("transfer-quick.md" if args.quick else "transfer.md", text)


if __name__ == "__main__":
    main()
