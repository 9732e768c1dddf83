"""Mesh rooms against relay rooms, in headless Chromium, on this machine, in one run.

    python benchmarks/mesh.py            # 3 repeats
    python benchmarks/mesh.py --quick    # 1 repeat, shorter

Per repeat, interleaved: a relay server and a mesh server (``peerpyrtc serve --topology``).
* latency: 4 pages in a room, one sends 100 msg/s for N seconds, the other 3 record
  page-to-page latency (one browser: pages share a clock, performance.timeOrigin + now()).
* server CPU per delivered message during that phase, minus the server's CPU over as long
  a quiet phase with the same pages (/proc of the server process; 10 ms ticks).
* mesh only: 8 pages call connect() at once; time until every page has 7 direct links.
Reports min/median/max across repeats; writes benchmarks/results/mesh.{json,md}.
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
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))

from workloads import pct, server_cpu  # noqa: E402

from browser_support import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

JOIN = """async ([room, peerId]) => {
  const { WebRTCConnection } = window.WebRTCConnection;
  const rtc = new WebRTCConnection(room, { peerId });
  window.rtc = rtc;
  window.lat = [];
  rtc.on('t', (from, sent) => { lat.push(performance.timeOrigin + performance.now() - sent); });
  const t0 = performance.now();
  await rtc.connect();
  window.connectedAt = performance.now() - t0;
  window.t0 = t0;
}"""

SEND = """async ([rate, seconds]) => {
  const total = rate * seconds;
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    rtc.emit('t', performance.timeOrigin + performance.now());
    const next = start + (i + 1) * 1000 / rate;
    await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())));
  }
}"""


async def start(topology: str) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "tests" / "serve_process.py"), topology,
        stdout=asyncio.subprocess.PIPE, cwd=ROOT / "tests",
    )  # fmt: skip
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
    return proc, re.search(r"serving on (\S+)", line).group(1)  # type: ignore[union-attr]


async def stop(proc: asyncio.subprocess.Process) -> None:
    proc.send_signal(signal.SIGTERM)
    await asyncio.wait_for(proc.wait(), 30)


async def pages(browser: Any, url: str, room: str, n: int) -> list[Any]:
    made = []
    for _ in range(n):
        page = await browser.new_page()
        await page.goto(url)
        made.append(page)
    return made


async def latency(browser: Any, topology: str, seconds: int) -> dict[str, float]:
    proc, url = await start(topology)
    try:
        group = await pages(browser, url, "lat", 4)
        for i, page in enumerate(group):
            await page.evaluate(JOIN, ["lat", f"p{i}"])
        if topology == "mesh":
            for page in group:
                await page.wait_for_function(
                    "rtc.getRoomPeers().filter((p) => p.isDirect).length === 3", polling=50
                )
        idle0 = server_cpu(proc.pid)  # the same pages, quiet, as long: heartbeats and timers
        await asyncio.sleep(seconds)
        idle = server_cpu(proc.pid) - idle0
        cpu0 = server_cpu(proc.pid)
        await group[0].evaluate(SEND, [100, seconds])
        expected = 100 * seconds
        for page in group[1:]:
            await page.wait_for_function(f"lat.length >= {expected}", polling=50, timeout=60_000)
        cpu = server_cpu(proc.pid) - cpu0 - idle
        values: list[float] = []
        for page in group[1:]:
            values += await page.evaluate("lat")
        for page in group:
            await page.close()
        delivered = 3 * expected
        return {
            f"{topology}_p50_ms": pct(values, 0.5),
            f"{topology}_p99_ms": pct(values, 0.99),
            f"{topology}_server_cpu_us_per_message": cpu / delivered * 1e6,
        }
    finally:
        await stop(proc)


async def mesh_setup(browser: Any, n: int) -> dict[str, float]:
    proc, url = await start("mesh")
    try:
        group = await pages(browser, url, "setup", n)
        started = time.perf_counter()
        await asyncio.gather(*(p.evaluate(JOIN, ["setup", f"s{i}"]) for i, p in enumerate(group)))
        ready = f"rtc.getRoomPeers().filter((p) => p.isDirect).length === {n - 1}"
        await asyncio.gather(
            *(p.wait_for_function(ready, polling=20, timeout=60_000) for p in group)
        )
        elapsed = (time.perf_counter() - started) * 1000
        for page in group:
            await page.close()
        return {f"mesh{n}_all_direct_ms": elapsed}
    finally:
        await stop(proc)


async def main(args: argparse.Namespace) -> None:
    from playwright.async_api import async_playwright

    repeats = 1 if args.quick else args.repeats
    seconds = 2 if args.quick else 5
    runs: list[dict[str, float]] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for repeat in range(repeats):
                result: dict[str, float] = {}
                for topology in ("relay", "mesh"):
                    result.update(await latency(browser, topology, seconds))
                result.update(await mesh_setup(browser, 8))
                runs.append(result)
                print(f"[{repeat + 1}/{repeats}] {json.dumps(result)}", flush=True)
        finally:
            await browser.close()
    rows = ["| metric | median | min | max |", "|---|---:|---:|---:|"]
    for key in runs[0]:
        values = [r[key] for r in runs]
        rows.append(
            f"| {key} | {statistics.median(values):,.2f} | {min(values):,.2f} | {max(values):,.2f} |"
        )
    table = "\n".join(rows)
    print(table)
    out = HERE / "results" / ("mesh-quick" if args.quick else "mesh")
    out.with_suffix(".json").write_text(json.dumps(runs, indent=1))
    out.with_suffix(".md").write_text(table + "\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    asyncio.run(main(parser.parse_args()))
