"""Client-side workloads, run in their own process against a running server.

    python benchmarks/workloads.py SYSTEM WORKLOAD URL SERVER_PID PARAMS_JSON

SYSTEM is peerpyrtc, socketio or socketio-batched. Prints one JSON object.
The same workload code drives every system through the small Peer interface.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

_ids = itertools.count()


def server_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by process ``pid``."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100.0  # USER_HZ is 100 on Linux


def server_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def spread_table(
    runs: dict[str, list[dict[str, Any]]], metrics: list[tuple[str, str]]
) -> list[str]:
    """Markdown rows: one per metric, a column per configuration, median [min-max]."""
    names = list(runs)
    rows = ["| metric (median [min-max]) | " + " | ".join(names) + " |",
            "|---|" + "---:|" * len(names)]  # fmt: skip
    for key, title in metrics:
        cells = []
        for name in names:
            values = [r[key] for r in runs[name] if key in r]
            cells.append(
                f"{statistics.median(values):,.2f} [{min(values):,.2f}-{max(values):,.2f}]"
                if values
                else "-"
            )
        rows.append(f"| {title} | " + " | ".join(cells) + " |")
    return rows


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def start_server(cmd: list[str]) -> tuple[asyncio.subprocess.Process, str]:
    """Start a server process that prints its URL on its first line; (process, URL)."""
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
    match = re.search(r"(http://\S+)", line)
    assert match, line
    return proc, match.group(1)


def write_result(name: str, text: str) -> None:
    """Print a result table and keep it in benchmarks/results/<name>."""
    print(text)
    out = Path(__file__).resolve().parent / "results" / name
    out.parent.mkdir(exist_ok=True)
    out.write_text(text + "\n")


async def volatile_open(client: Any) -> None:
    """Wait until an AsyncClient's volatile channel is open (just after the room one)."""
    conn = client.connection
    if conn is None or conn.volatile.readyState == "open":
        return
    opened = asyncio.Event()
    conn.volatile.on("open", opened.set)
    if conn.volatile.readyState != "open":
        await asyncio.wait_for(opened.wait(), 60)


class Peer:
    """What a workload needs of a client: connect, send a string, receive strings."""

    on_data: Callable[[str], None] = staticmethod(lambda data: None)  # type: ignore[assignment]

    async def connect(self) -> None: ...
    async def send(self, data: str) -> None: ...
    async def close(self) -> None: ...


class RTCPeer(Peer):
    def __init__(self, url: str, room: str) -> None:
        from peerpyrtc import AsyncClient

        self.client = AsyncClient(
            url, room, f"b{os.getpid()}-{next(_ids)}", max_reconnect_attempts=0, timeout=60
        )
        self.client.on("message", lambda sender, data: self.on_data(data))

    async def connect(self) -> None:
        await self.client.connect()

    async def send(self, data: str) -> None:
        await self.client.send_message(data)

    async def close(self) -> None:
        await self.client.close()


class SIOPeer(Peer):
    def __init__(self, url: str, room: str, batched: bool) -> None:
        import socketio

        self.url, self.room, self.batched = url, room, batched
        self.sio = socketio.AsyncClient(reconnection=False)
        self.sio.on("msg", lambda data: self.on_data(data))
        self.sio.on("batch", lambda items: [self.on_data(d) for d in items])
        self._pending: list[str] = []

    async def connect(self) -> None:
        await self.sio.connect(self.url, transports=["websocket"], wait_timeout=60)
        await self.sio.call("join", self.room, timeout=60)

    async def send(self, data: str) -> None:
        if not self.batched:
            await self.sio.emit("msg", data)
            return
        self._pending.append(data)  # flushed once per loop iteration, like peerpyrtc does
        if len(self._pending) == 1:
            asyncio.get_running_loop().call_soon(lambda: asyncio.ensure_future(self._flush()))

    async def _flush(self) -> None:
        items, self._pending = self._pending, []
        if items:
            await self.sio.emit("batch", items)

    async def close(self) -> None:
        await self.sio.disconnect()


class Factory:
    """Makes a system's peers for a room (and remembers which system and URL)."""

    def __init__(self, system: str, url: str) -> None:
        self.system, self.url = system, url

    def __call__(self, room: str) -> Peer:
        if self.system == "peerpyrtc":
            return RTCPeer(self.url, room)
        return SIOPeer(self.url, room, batched=self.system == "socketio-batched")


def factory(system: str, url: str) -> Callable[[str], Peer]:
    return Factory(system, url)


async def connected(make: Callable[[str], Peer], room: str, n: int) -> list[Peer]:
    peers = [make(room) for _ in range(n)]
    await asyncio.gather(*(p.connect() for p in peers))
    return peers


async def close_all(peers: list[Peer]) -> None:
    await asyncio.gather(*(p.close() for p in peers), return_exceptions=True)


# ------------------------------------------------------------------ workloads
async def connect_one(make: Callable[[str], Peer], pid: int, count: int = 10) -> dict[str, Any]:
    times = []
    for i in range(count):
        peer = make(f"c1-{i}")
        started = time.perf_counter()
        await peer.connect()
        times.append((time.perf_counter() - started) * 1000)
        await peer.close()
    return {"connect_ms": statistics.median(times)}


async def connect_many(make: Callable[[str], Peer], pid: int, n: int = 20) -> dict[str, Any]:
    started = time.perf_counter()
    peers = await connected(make, "cN", n)
    elapsed = (time.perf_counter() - started) * 1000
    await close_all(peers)
    return {"connect_all_ms": elapsed}


async def echo(make: Callable[[str], Peer], pid: int, count: int = 300) -> dict[str, Any]:
    a, b = await connected(make, "echo", 2)
    b.on_data = lambda data: asyncio.ensure_future(b.send(data))
    waiter: asyncio.Future[None] | None = None

    def back(data: str) -> None:
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    a.on_data = back
    payload = "x" * 100
    rtts = []
    for i in range(count + 20):
        waiter = asyncio.get_running_loop().create_future()
        started = time.perf_counter()
        await a.send(payload)
        await asyncio.wait_for(waiter, 30)
        if i >= 20:  # warm-up
            rtts.append((time.perf_counter() - started) * 1000)
    await close_all([a, b])
    return {"echo_p50_ms": pct(rtts, 0.5), "echo_p99_ms": pct(rtts, 0.99)}


async def fanout(
    make: Callable[[str], Peer], pid: int, n: int = 10, messages: int = 10000
) -> dict[str, Any]:
    receivers = await connected(make, f"fan{n}", n)
    [sender] = await connected(make, f"fan{n}", 1)
    got = [0] * n
    remaining = n
    done = asyncio.get_running_loop().create_future()

    def counter(i: int) -> Callable[[str], None]:
        def on_data(data: str) -> None:
            nonlocal remaining
            got[i] += 1
            if got[i] == messages:
                remaining -= 1
                if remaining == 0 and not done.done():
                    done.set_result(None)

        return on_data

    for i, r in enumerate(receivers):
        r.on_data = counter(i)
    payload = "x" * 100
    cpu0, started = server_cpu(pid), time.perf_counter()
    for _ in range(messages):
        await sender.send(payload)
    await asyncio.wait_for(done, 300)
    elapsed, cpu = time.perf_counter() - started, server_cpu(pid) - cpu0
    await close_all([*receivers, sender])
    deliveries = n * messages
    return {
        f"fanout{n}_deliveries_per_s": deliveries / elapsed,
        f"fanout{n}_server_cpu_us_per_delivery": cpu / deliveries * 1e6,
    }


async def paced(
    make: Callable[[str], Peer], pid: int, n: int = 10, rate: int = 100, seconds: float = 5
) -> dict[str, Any]:
    receivers = await connected(make, f"paced{n}", n)
    [sender] = await connected(make, f"paced{n}", 1)
    latencies: list[float] = []
    total = int(rate * seconds)
    done = asyncio.get_running_loop().create_future()

    def on_data(data: str) -> None:
        latencies.append((time.perf_counter() - float(data.split("|", 1)[0])) * 1000)
        if len(latencies) == total * n and not done.done():
            done.set_result(None)

    for r in receivers:
        r.on_data = on_data
    start = time.perf_counter()
    for i in range(total):
        await sender.send(f"{time.perf_counter()}|" + "x" * 80)
        await asyncio.sleep(max(0.0, start + (i + 1) / rate - time.perf_counter()))
    await asyncio.wait_for(done, 60)
    await close_all([*receivers, sender])
    return {f"paced{n}_p50_ms": pct(latencies, 0.5), f"paced{n}_p99_ms": pct(latencies, 0.99)}


async def bulk(
    make: Callable[[str], Peer], pid: int, megabytes: int = 20, size: int = 16384
) -> dict[str, Any]:
    a, b = await connected(make, "bulk", 2)
    count = megabytes * 1024 * 1024 // size
    received = 0
    done = asyncio.get_running_loop().create_future()

    def on_data(data: str) -> None:
        nonlocal received
        received += 1
        if received == count and not done.done():
            done.set_result(None)

    b.on_data = on_data
    payload = "x" * size
    started = time.perf_counter()
    for _ in range(count):
        await a.send(payload)
    await asyncio.wait_for(done, 600)
    elapsed = time.perf_counter() - started
    await close_all([a, b])
    return {"bulk_mb_per_s": count * size / elapsed / 1e6}


async def hold(system: str, url: str, room: str, count: int) -> None:
    """Connect ``count`` idle peers, say "ready", and keep them until stdin closes."""
    make = factory(system, url)
    peers: list[Peer] = []
    for start in range(0, count, 50):  # in waves, as real clients arrive
        peers += await connected(make, room, min(50, count - start))
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    await close_all(peers)


async def idle(
    make: Callable[[str], Peer], pid: int, n: int = 200, seconds: float = 10
) -> dict[str, Any]:
    # Peers are spread over processes of at most 250: one Python process cannot keep
    # thousands of WebRTC clients answering their heartbeats in time.
    system, url = make.system, make.url  # type: ignore[attr-defined]
    rss0 = server_rss_kib(pid)
    holders = []
    per = 250
    for start in range(0, n, per):
        proc = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--hold", system, url, f"idle{n}", str(min(per, n - start)),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert proc.stdout is not None
        if await asyncio.wait_for(proc.stdout.readline(), 600) != b"ready\n":
            raise RuntimeError("a holder process failed to connect its peers")
        holders.append(proc)
    await asyncio.sleep(3)  # settle
    rss1 = server_rss_kib(pid)
    cpu0 = server_cpu(pid)
    await asyncio.sleep(seconds)
    cpu = server_cpu(pid) - cpu0
    for proc in holders:
        assert proc.stdin is not None
        proc.stdin.close()
    await asyncio.gather(*(proc.wait() for proc in holders))
    return {
        f"idle{n}_kib_per_peer": (rss1 - rss0) / n,
        f"idle{n}_server_cpu_percent": cpu / seconds * 100,
    }


WORKLOADS = {f.__name__: f for f in (connect_one, connect_many, echo, fanout, paced, bulk, idle)}


async def main() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if sys.argv[1] == "--hold":
        await hold(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
        os._exit(0)
    system, workload, url, pid, params = sys.argv[1:6]
    result = await WORKLOADS[workload](factory(system, url), int(pid), **json.loads(params))
    print(json.dumps(result), flush=True)
    # The numbers are out. With thousands of aiortc connections, loop shutdown can wait on
    # tasks that ignore cancellation (seen once with 2,000 peers); measuring is done.
    os._exit(0)


if __name__ == "__main__":
    try:  # the clients may be as fast as they can: every system gets the same
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())
