"""Soak test: many Python peers chatting through `peerpyrtc serve`, with joins, leaves and kills.

    python benchmarks/soak.py                      # 50 peers, 10 minutes
    python benchmarks/soak.py --duration 30 --peers 10 --workers 2   # a short run
    python benchmarks/soak.py --redis redis://127.0.0.1:6379/0 --server-workers 2 --strangers 50
                                                   # two server workers sharing rooms through
                                                   # Redis, with strangers posting candidates

The server runs as `peerpyrtc serve` with default settings; peers live in worker
processes, several per process. Each peer sends numbered messages; every
receiver checks that each sender's numbers arrive consecutively (a gap is a lost
message, a step back a reordered one) for as long as both are connected.
Workers are killed with SIGKILL now and then and started again. The server's
memory (RSS, every server process) is sampled throughout, and with ``--redis`` Redis's
``used_memory``; ``--strangers N`` has N unauthenticated ``/candidate`` posts a second
(fresh sessions, 10 KB of junk each) hit the server meanwhile. Prints one JSON summary
line last.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Stats:
    sent: int = 0
    received: int = 0
    lost: int = 0
    reordered: int = 0
    joins: int = 0
    failed_joins: int = 0


# ----------------------------------------------------------------- worker side
async def run_peer(url: str, room: str, base: str, stats: Stats, stop: asyncio.Event) -> None:
    from peerpyrtc import AsyncClient

    incarnation = 0
    while not stop.is_set():
        peer_id = f"{base}-{incarnation}"
        incarnation += 1
        last: dict[str, int] = {}

        def on_message(
            sender: str, text: Any, event: str | None, last: dict[str, int] = last
        ) -> None:
            if event is not None or sender == "server" or not isinstance(text, str):
                return
            _, _, number = text.rpartition(":")
            seq = int(number)
            stats.received += 1
            previous = last.get(sender)
            if previous is not None:
                if seq > previous + 1:
                    stats.lost += seq - previous - 1
                elif seq <= previous:
                    stats.reordered += 1
            last[sender] = max(seq, previous if previous is not None else -1)

        client = AsyncClient(url, room, peer_id, max_reconnect_attempts=0)
        client.on_message = on_message
        try:
            await client.connect()
        except Exception:
            stats.failed_joins += 1
            await asyncio.sleep(1)
            continue
        stats.joins += 1
        seq = 0
        leave_at = time.monotonic() + random.uniform(20, 120)
        while client.connected and not stop.is_set() and time.monotonic() < leave_at:
            await client.send_message(f"{peer_id}:{seq}")
            seq += 1
            stats.sent += 1
            await asyncio.sleep(random.uniform(0.1, 0.5))
        await client.close()


async def worker(url: str, rooms: int, peers: int, name: str) -> None:
    stats = Stats()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    tasks = [
        asyncio.create_task(run_peer(url, f"soak-{i % rooms}", f"{name}p{i}", stats, stop))
        for i in range(peers)
    ]
    while not stop.is_set():
        print(json.dumps(asdict(stats)), flush=True)
        try:
            await asyncio.wait_for(stop.wait(), 2)
        except asyncio.TimeoutError:
            pass
    await asyncio.gather(*tasks, return_exceptions=True)
    print(json.dumps(asdict(stats)), flush=True)


# ----------------------------------------------------------- orchestrator side
def rss_kib(pid: int) -> int:
    """The RSS of a server process and of its worker processes (``serve --workers N``)."""
    with open(f"/proc/{pid}/status") as f:
        own = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))  # type: ignore[union-attr]
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            children = [int(c) for c in f.read().split()]
    except OSError:
        children = []
    return own + sum(rss_kib(c) for c in children)


async def redis_used(client: Any) -> int:
    return int((await client.info("memory"))["used_memory"]) if client is not None else 0


async def strangers(url: str, per_second: float, stop: asyncio.Event) -> int:
    """Unauthenticated candidates for random ids, fresh sessions and junk, as in the attack
    of hardening round 3 (finding 3); returns how many were posted."""
    import secrets

    from peerpyrtc._client.http import post_json

    posted = 0
    while not stop.is_set():
        session = secrets.token_urlsafe(24)
        body = {"room": "soak-0", "peer_id": f"stranger{posted}", "candidate": {
            "candidate": "candidate:1 1 udp 2122260223 192.0.2.7 5000 typ host",
            "sdpMid": "0", "session": session, "junk": "j" * 10_000}}  # fmt: skip
        try:
            await post_json(url + "/candidate", body, 5)
        except Exception:  # refused (429 past the bounds): that is the point
            pass
        posted += 1
        await asyncio.sleep(1 / per_second)
    return posted


@dataclass
class Worker:
    name: str
    proc: asyncio.subprocess.Process
    last: dict[str, int] = field(default_factory=dict)
    reader: asyncio.Task[None] | None = None


async def spawn(url: str, rooms: int, peers: int, name: str) -> Worker:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--worker", url, str(rooms), str(peers), name,
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    w = Worker(name, proc)

    async def read() -> None:
        assert proc.stdout is not None
        async for line in proc.stdout:
            try:
                w.last = json.loads(line)
            except ValueError:
                pass

    w.reader = asyncio.create_task(read())
    return w


async def orchestrate(args: argparse.Namespace) -> dict[str, Any]:
    cluster: list[str] = []
    redis_client = None
    if args.redis:
        import redis.asyncio as aioredis

        cluster = ["--redis", args.redis, "--workers", str(args.server_workers)]
        redis_client = aioredis.Redis.from_url(args.redis)
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "peerpyrtc", "serve", "--port", "0", *cluster,
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert server.stdout is not None
    line = (await server.stdout.readline()).decode()
    url = re.search(r"(http://[^\s,]+)", line).group(1)  # type: ignore[union-attr]
    stop_strangers = asyncio.Event()
    stranger_task = (
        asyncio.ensure_future(strangers(url, args.strangers, stop_strangers))
        if args.strangers > 0 else None
    )  # fmt: skip
    redis_memory: list[tuple[float, int]] = []
    per_worker = max(1, args.peers // args.workers)
    workers = [await spawn(url, args.rooms, per_worker, f"w{i}.0-") for i in range(args.workers)]
    finished: list[dict[str, int]] = []
    memory: list[tuple[float, int]] = []
    started = time.monotonic()
    next_kill = started + args.kill_every
    kills = 0
    while (now := time.monotonic()) - started < args.duration:
        memory.append((round(now - started, 1), rss_kib(server.pid)))
        if redis_client is not None:
            redis_memory.append((round(now - started, 1), await redis_used(redis_client)))
        if now >= next_kill:
            victim = random.randrange(len(workers))
            old = workers[victim]
            old.proc.send_signal(signal.SIGKILL)
            await old.proc.wait()
            finished.append(old.last)  # what it reported before it died
            kills += 1
            name = old.name.split(".")[0] + f".{kills}-"
            workers[victim] = await spawn(url, args.rooms, per_worker, name)
            next_kill = now + args.kill_every
        await asyncio.sleep(args.sample_every)
    for w in workers:
        w.proc.send_signal(signal.SIGTERM)
    for w in workers:
        await w.proc.wait()
        if w.reader is not None:
            await w.reader
        finished.append(w.last)
    memory.append((round(time.monotonic() - started, 1), rss_kib(server.pid)))
    stop_strangers.set()
    posted = await stranger_task if stranger_task is not None else 0
    server.send_signal(signal.SIGINT)
    await server.wait()
    total = {k: sum(s.get(k, 0) for s in finished) for k in asdict(Stats())}
    warm = [kib for t, kib in memory if t >= args.warmup] or [memory[-1][1]]
    redis_warm = [b for t, b in redis_memory if t >= args.warmup] or [0]
    if redis_client is not None:
        await redis_client.aclose()
    return {
        "stranger_posts": posted,
        "redis_used_after_warmup_first": redis_warm[0],
        "redis_used_after_warmup_max": max(redis_warm),
        "redis_used_last": redis_warm[-1],
        **total,
        "peers": per_worker * args.workers,
        "duration_s": args.duration,
        "kills": kills,
        "server_rss_kib_after_warmup_first": warm[0],
        "server_rss_kib_after_warmup_max": max(warm),
        "server_rss_kib_last": memory[-1][1],
        "server_rss_kib_samples": memory,
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        url, rooms, peers, name = sys.argv[2:6]
        asyncio.run(worker(url, int(rooms), int(peers), name))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=600, help="seconds (default 600)")
    parser.add_argument("--peers", type=int, default=50)
    parser.add_argument("--workers", type=int, default=5, help="peer processes")
    parser.add_argument("--rooms", type=int, default=5)
    parser.add_argument("--kill-every", type=float, default=45, help="SIGKILL a worker every N s")
    parser.add_argument("--warmup", type=float, default=60, help="seconds before memory counts")
    parser.add_argument("--sample-every", type=float, default=1.0)
    parser.add_argument("--redis", help="run the server on this Redis backplane")
    parser.add_argument("--server-workers", type=int, default=2, help="with --redis")
    parser.add_argument("--strangers", type=float, default=0, help="stranger posts per second")
    args = parser.parse_args()
    result = asyncio.run(orchestrate(args))
    samples = result.pop("server_rss_kib_samples")
    print("server RSS (KiB) over time:", samples[:: max(1, len(samples) // 20)], file=sys.stderr)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
