"""Rooms across worker processes: peerpyrtc's Redis backplane beside python-socketio's
AsyncRedisManager, on this machine, in one run.

    python benchmarks/cluster.py            # 3 repeats (about 3 minutes)
    python benchmarks/cluster.py --quick    # 1 repeat, fewer messages

Configurations, run interleaved per repeat: one process without Redis; one worker
through Redis; two workers through Redis (separate ports, the sender and half of the
receivers on worker 0, the other half on worker 1). Per configuration: fan-out 1->10
deliveries/s, CPU per delivery of the servers plus redis-server, and one-way latency at
100 msg/s to receivers on the sender's worker and on the other worker. Reports
min/median/max across repeats. The clients run in their own process; this machine
has 2 cores, shared by servers, Redis and clients: compare rows, not absolutes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from workloads import RTCPeer, SIOPeer, pct, server_cpu, spread_table  # noqa: E402

CONFIGS = [
    ("peerpyrtc", 0),
    ("peerpyrtc", 1),
    ("peerpyrtc", 2),
    ("socketio", 0),
    ("socketio", 1),
    ("socketio", 2),
]


def label(system: str, workers: int) -> str:
    return f"{system}, " + (
        "1 process, no Redis" if not workers else f"{workers} worker(s) + Redis"
    )


# ------------------------------------------------------------------ client side
def make_peer(system: str, url: str, room: str) -> Any:
    return RTCPeer(url, room) if system == "peerpyrtc" else SIOPeer(url, room, batched=False)


async def client_main(
    system: str, urls: list[str], pids: list[int], params: dict[str, Any]
) -> None:
    n, messages = params["n"], params["messages"]
    # receivers alternate between workers; the sender is on worker 0
    receivers = [make_peer(system, urls[i % len(urls)], "fan") for i in range(n)]
    await asyncio.gather(*(r.connect() for r in receivers))
    sender = make_peer(system, urls[0], "fan")
    await sender.connect()
    await asyncio.sleep(0.5)  # presence settles everywhere
    got = [0] * n
    done = asyncio.get_running_loop().create_future()
    latencies: dict[str, list[float]] = {"same": [], "other": []}
    phase = {"name": "fanout"}

    def on_data_for(i: int) -> Any:
        where = "same" if i % len(urls) == 0 else "other"

        def on_data(data: str) -> None:
            if phase["name"] == "paced":
                latencies[where].append((time.perf_counter() - float(data.split("|", 1)[0])) * 1e3)
                if sum(map(len, latencies.values())) == params["paced"] * n and not done.done():
                    done.set_result(None)
                return
            got[i] += 1
            if all(g >= messages for g in got) and not done.done():
                done.set_result(None)

        return on_data

    for i, r in enumerate(receivers):
        r.on_data = on_data_for(i)
    cpu0, t0 = sum(map(server_cpu, pids)), time.perf_counter()
    for _ in range(messages):
        await sender.send("x" * 100)
    await asyncio.wait_for(done, 300)
    elapsed, cpu = time.perf_counter() - t0, sum(map(server_cpu, pids)) - cpu0
    result: dict[str, Any] = {
        "fanout_deliveries_per_s": n * messages / elapsed,
        "fanout_cpu_us_per_delivery": cpu / (n * messages) * 1e6,
    }
    await asyncio.sleep(0.3)
    phase["name"] = "paced"
    done = asyncio.get_running_loop().create_future()
    start = time.perf_counter()
    for i in range(params["paced"]):
        await sender.send(f"{time.perf_counter()}|" + "x" * 80)
        await asyncio.sleep(max(0.0, start + (i + 1) / 100 - time.perf_counter()))
    await asyncio.wait_for(done, 60)
    for where, values in latencies.items():
        if values:
            result[f"latency_{where}_p50_ms"] = pct(values, 0.5)
            result[f"latency_{where}_p99_ms"] = pct(values, 0.99)
    await asyncio.gather(*(p.close() for p in [*receivers, sender]), return_exceptions=True)
    print(json.dumps(result), flush=True)
    os._exit(0)


# ------------------------------------------------------------------ orchestration
async def start(cmd: list[str]) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
    return proc, re.search(r"(http://\S+)", line).group(1)  # type: ignore[union-attr]


async def run_config(
    system: str, workers: int, redis_url: str, redis_pid: int, params: dict[str, Any]
) -> dict[str, Any]:
    flush = await asyncio.create_subprocess_exec(
        "redis-cli",
        "-s",
        redis_url[len("unix://") :],
        "flushall",
        stdout=asyncio.subprocess.DEVNULL,
    )
    assert await flush.wait() == 0
    procs, urls = [], []
    for _ in range(max(1, workers)):
        if system == "peerpyrtc":
            cmd = [sys.executable, "-m", "peerpyrtc", "serve", "--port", "0"]
            cmd += ["--redis", redis_url] if workers else []
        else:
            cmd = [sys.executable, str(HERE / "sio_server.py"), "--port", "0"]
            cmd += ["--redis", redis_url] if workers else []
        proc, url = await start(cmd)
        procs.append(proc)
        urls.append(url)
    pids = [p.pid for p in procs] + ([redis_pid] if workers else [])
    try:
        client = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--client", system, json.dumps(urls), json.dumps(pids),
            json.dumps(params), stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(client.communicate(), 600)
        if client.returncode != 0:
            raise RuntimeError(f"{label(system, workers)} failed")
        return json.loads(out.decode().strip().splitlines()[-1])  # type: ignore[no-any-return]
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except asyncio.TimeoutError:
                proc.kill()


def summarize(runs: dict[str, list[dict[str, Any]]]) -> str:
    metrics = [
        ("fanout_deliveries_per_s", "fan-out 1->10 deliveries/s ↑"),
        ("fanout_cpu_us_per_delivery", "CPU us/delivery (servers + Redis) ↓"),
        ("latency_same_p50_ms", "latency p50, same worker (ms) ↓"),
        ("latency_same_p99_ms", "latency p99, same worker (ms) ↓"),
        ("latency_other_p50_ms", "latency p50, other worker (ms) ↓"),
        ("latency_other_p99_ms", "latency p99, other worker (ms) ↓"),
    ]
    rows = spread_table(runs, metrics)
    return "\n".join(rows)


async def measure(args: argparse.Namespace, sock: str, redis_pid: int) -> None:
    params = {
        "n": 10,
        "messages": 1000 if args.quick else 4000,
        "paced": 100 if args.quick else 300,
    }
    repeats = 1 if args.quick else args.repeats
    runs: dict[str, list[dict[str, Any]]] = {label(s, w): [] for s, w in CONFIGS}
    for repeat in range(repeats):
        for system, workers in CONFIGS:
            result = await run_config(system, workers, f"unix://{sock}", redis_pid, params)
            runs[label(system, workers)].append(result)
            print(f"[{repeat + 1}/{repeats}] {label(system, workers)}: {result}", flush=True)
    table = summarize(runs)
    print(table)
    out = HERE / "results" / ("cluster-quick" if args.quick else "cluster")
    out.with_suffix(".json").write_text(json.dumps({"params": params, "runs": runs}, indent=1))
    out.with_suffix(".md").write_text(table + "\n")


def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        sock = f"{tmp}/redis.sock"
        command = ["redis-server", "--port", "0", "--unixsocket", sock, "--save", "", "--dir", tmp]
        redis = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        try:
            while not os.path.exists(sock):
                time.sleep(0.01)
            asyncio.run(measure(args, sock, redis.pid))
        finally:
            redis.terminate()
            redis.wait()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--client"]:
        _, _, system, urls, pids, params = sys.argv
        asyncio.run(client_main(system, json.loads(urls), json.loads(pids), json.loads(params)))
    else:
        parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
        parser.add_argument("--quick", action="store_true")
        parser.add_argument("--repeats", type=int, default=3)
        main(parser.parse_args())
