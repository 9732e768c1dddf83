"""peerpyrtc against python-socketio, side by side, on this machine, in one run.

    python benchmarks/bench.py            # the full run (about 10 minutes)
    python benchmarks/bench.py --quick    # a smoke run, under a minute

Servers and clients run in separate processes on loopback. peerpyrtc runs as
users run it (`peerpyrtc serve`, default settings); python-socketio as shipped
(AsyncServer with rooms on aiohttp, AsyncClient over WebSocket), plus a
reference row with the same application-level batching peerpyrtc does. Each
workload runs the systems interleaved (A B C A B C ...), repeats, and reports
medians and ratios against python-socketio as shipped. Writes JSON and a
markdown table to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SYSTEMS = ["peerpyrtc", "socketio", "socketio-batched"]

# metric: (label, better) where better is "higher" or "lower"
METRICS = {
    "connect_ms": ("connect, 1 client (ms)", "lower"),
    "connect_all_ms": ("connect, 20 at once (ms)", "lower"),
    "echo_p50_ms": ("echo RTT p50, 100 B (ms)", "lower"),
    "echo_p99_ms": ("echo RTT p99, 100 B (ms)", "lower"),
    "fanout10_deliveries_per_s": ("fan-out 1->10, deliveries/s", "higher"),
    "fanout10_server_cpu_us_per_delivery": ("fan-out 1->10, server CPU us/delivery", "lower"),
    "fanout30_deliveries_per_s": ("fan-out 1->30, deliveries/s", "higher"),
    "fanout30_server_cpu_us_per_delivery": ("fan-out 1->30, server CPU us/delivery", "lower"),
    "paced10_p50_ms": ("paced 100/s to 10, latency p50 (ms)", "lower"),
    "paced10_p99_ms": ("paced 100/s to 10, latency p99 (ms)", "lower"),
    "paced30_p50_ms": ("paced 100/s to 30, latency p50 (ms)", "lower"),
    "paced30_p99_ms": ("paced 100/s to 30, latency p99 (ms)", "lower"),
    "bulk_mb_per_s": ("bulk 16 KB messages (MB/s)", "higher"),
    "idle50_kib_per_peer": ("memory per idle peer, 50 (KiB)", "lower"),
    "idle50_server_cpu_percent": ("idle server CPU, 50 peers (% of a core)", "lower"),
    "idle200_kib_per_peer": ("memory per idle peer, 200 (KiB)", "lower"),
    "idle200_server_cpu_percent": ("idle server CPU, 200 peers (% of a core)", "lower"),
    "idle2000_kib_per_peer": ("memory per idle peer, 2,000 (KiB)", "lower"),
    "idle2000_server_cpu_percent": ("idle server CPU, 2,000 peers (% of a core)", "lower"),
}


def plan(quick: bool) -> list[tuple[str, dict[str, Any], list[str]]]:
    """(workload, params, systems) in run order."""
    if quick:
        return [
            ("connect_one", {"count": 3}, SYSTEMS[:2]),
            ("echo", {"count": 50}, SYSTEMS[:2]),
            ("fanout", {"n": 10, "messages": 1000}, SYSTEMS),
            ("paced", {"n": 10, "seconds": 1}, SYSTEMS[:2]),
            ("bulk", {"megabytes": 2}, SYSTEMS[:2]),
            ("idle", {"n": 50, "seconds": 2}, SYSTEMS[:2]),
        ]
    return [
        ("connect_one", {"count": 10}, SYSTEMS[:2]),
        ("connect_many", {"n": 20}, SYSTEMS[:2]),
        ("echo", {"count": 300}, SYSTEMS[:2]),
        ("fanout", {"n": 10, "messages": 10000}, SYSTEMS),
        ("fanout", {"n": 30, "messages": 4000}, SYSTEMS),
        ("paced", {"n": 10, "seconds": 5}, SYSTEMS),
        ("paced", {"n": 30, "seconds": 5}, SYSTEMS),
        ("bulk", {"megabytes": 20}, SYSTEMS[:2]),
        ("idle", {"n": 200, "seconds": 10}, SYSTEMS[:2]),
        ("idle", {"n": 2000, "seconds": 10}, SYSTEMS[:2]),
    ]


async def start_server(system: str, workload: str = "") -> tuple[asyncio.subprocess.Process, str]:
    if system == "peerpyrtc":
        cmd = [sys.executable, "-m", "peerpyrtc", "serve", "--port", "0"]
        if workload == "bulk":  # one sender at full speed: the per-sender byte meter is off
            cmd += ["--limit", "max_bytes_per_second=0"]
    else:
        cmd = [sys.executable, str(HERE / "sio_server.py"), "--port", "0"]
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
    return proc, re.search(r"(http://\S+)", line).group(1)  # type: ignore[union-attr]


async def stop_server(proc: asyncio.subprocess.Process) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        await asyncio.wait_for(proc.wait(), 30)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()


async def run_one(system: str, workload: str, params: dict[str, Any]) -> dict[str, float]:
    server, url = await start_server(system, workload)
    try:
        client = await asyncio.create_subprocess_exec(
            sys.executable, str(HERE / "workloads.py"), system, workload, url, str(server.pid),
            json.dumps(params), stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(client.communicate(), 900)
        if client.returncode != 0:
            raise RuntimeError(f"{system} {workload} failed (exit {client.returncode})")
        return json.loads(out.decode().strip().splitlines()[-1])  # type: ignore[no-any-return]
    finally:
        await stop_server(server)


def ratio(value: float | None, base: float | None) -> str:
    if value is None or base is None or base == 0:
        return "-"
    return f"{value / base:.2f}x"


def table(results: dict[str, dict[str, float]]) -> str:
    rows = [
        "| metric | peerpyrtc | python-socketio | peerpyrtc / socketio | socketio + batching |",
        "|---|---:|---:|---:|---:|",
    ]
    for key, (label, better) in METRICS.items():
        values = [results.get(s, {}).get(key) for s in SYSTEMS]
        if values[0] is None and values[1] is None:
            continue
        cells = [f"{v:,.2f}" if v is not None else "-" for v in values]
        arrow = "↑" if better == "higher" else "↓"
        rows.append(
            f"| {label} {arrow} | {cells[0]} | {cells[1]} | {ratio(values[0], values[1])} | {cells[2]} |"
        )
    return "\n".join(rows)


async def main(args: argparse.Namespace) -> None:
    samples: dict[str, dict[str, list[float]]] = {s: {} for s in SYSTEMS}
    failures: list[str] = []
    started = time.monotonic()
    for workload, params, systems in plan(args.quick):
        if args.only and workload not in args.only:
            continue
        for repeat in range(args.repeats):
            for system in systems if repeat % 2 == 0 else systems[::-1]:  # A B, then B A
                try:
                    result = await run_one(system, workload, params)
                except Exception as exc:  # one failed run must not lose the others
                    print(f"{system} {workload} {params} FAILED: {exc}", flush=True)
                    failures.append(f"{system} {workload} {params}: {exc}")
                    continue
                print(
                    f"[{time.monotonic() - started:6.1f}s] {system:17} {workload} {params} {result}",
                    flush=True,
                )
                for key, value in result.items():
                    samples[system].setdefault(key, []).append(value)
    results = {s: {k: statistics.median(v) for k, v in m.items()} for s, m in samples.items()}
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    report = {"medians": results, "samples": samples, "failures": failures}
    (out / f"bench-{stamp}.json").write_text(json.dumps(report, indent=1))
    markdown = table(results)
    if failures:
        markdown += "\n\nFailed runs: " + "; ".join(failures)
    (out / f"bench-{stamp}.md").write_text(markdown + "\n")
    print(markdown)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run under a minute")
    parser.add_argument("--only", nargs="*", help="run only these workloads, e.g. idle fanout")
    parser.add_argument(
        "--repeats", type=int, default=None, help="repeats per workload (default 3, quick 1)"
    )
    arguments = parser.parse_args()
    if arguments.repeats is None:
        arguments.repeats = 1 if arguments.quick else 3
    asyncio.run(main(arguments))
