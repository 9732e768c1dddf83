"""Connect time and latency on loopback: AsyncClient and real Chromium pages.

Run: .venv/bin/python benchmarks/basics.py [--browser]
Prints medians and percentiles; asserts nothing (numbers go in issue notes and
docs/benchmarks.md, never in unit tests).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from peerpyrtc import AsyncClient, AsyncSignalingManager, start_server


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def python_numbers(url: str, n: int = 20) -> None:
    connects = []
    for i in range(n):
        client = AsyncClient(url, "bench-connect", f"c{i}")
        started = time.perf_counter()
        await client.connect()
        connects.append((time.perf_counter() - started) * 1000)
        await client.close()
    print(f"AsyncClient connect: median {statistics.median(connects):.1f} ms (n={n})")

    a = await AsyncClient(url, "bench-echo", "a").connect()
    b = await AsyncClient(url, "bench-echo", "b").connect()
    b.on("echo", lambda sender, data: asyncio.ensure_future(b.emit("echo-back", data, to=sender)))
    waiter: asyncio.Future[None] | None = None

    def back(sender: str, data: object) -> None:
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    a.on("echo-back", back)
    rtts, pings = [], []
    payload = "x" * 100
    for _ in range(n):
        waiter = asyncio.get_running_loop().create_future()
        started = time.perf_counter()
        await a.emit("echo", payload, to="b")
        await waiter
        rtts.append((time.perf_counter() - started) * 1000)
        pings.append(await a.ping() * 1000)
    print(
        f"AsyncClient echo A->server->B->server->A (100 B): median {statistics.median(rtts):.2f} ms"
    )
    print(f"AsyncClient ping A->server->A: median {statistics.median(pings):.2f} ms")
    await a.close()
    await b.close()


async def browser_numbers(url: str, n: int = 20) -> None:
    from browser_support import chromium

    async with chromium() as browser:
        connects = []
        for i in range(n):
            page = await browser.new_page()
            await page.goto(url)
            ms = await page.evaluate(
                """async (id) => {
              const { WebRTCConnection } = window.WebRTCConnection;
              const rtc = new WebRTCConnection('bench-browser', { peerId: id });
              const t0 = performance.now();
              await rtc.connect();
              const ms = performance.now() - t0;
              await rtc.closeConnection();
              return ms;
            }""",
                f"page{i}",
            )
            connects.append(ms)
            await page.close()
        print(f"browser connect() to resolve: median {statistics.median(connects):.1f} ms, "
              f"min {min(connects):.1f}, max {max(connects):.1f} (n={n} fresh pages)")  # fmt: skip

        a, b = await browser.new_page(), await browser.new_page()
        for page, name in ((a, "A"), (b, "B")):
            await page.goto(url)
            await page.evaluate(
                """async (id) => {
              const { WebRTCConnection } = window.WebRTCConnection;
              window.rtc = new WebRTCConnection('bench-latency', { peerId: id });
              window.lat = [];
              rtc.on('t', (from, sent) => lat.push(performance.timeOrigin + performance.now() - sent));
              await rtc.connect();
            }""",
                name,
            )
        await a.evaluate(
            """async () => {
          for (let i = 0; i < 500; i++) {
            rtc.emit('t', performance.timeOrigin + performance.now());
            await new Promise((r) => setTimeout(r, 10));
          }
        }"""
        )
        await b.wait_for_function("window.lat.length === 500", polling=50)
        lat = await b.evaluate("window.lat")
        print(f"browser one-way A->server->B (paced 100/s): p50 {pct(lat, 0.5):.2f} ms, "
              f"p99 {pct(lat, 0.99):.2f} ms (n={len(lat)})")  # fmt: skip

        # fairness: small messages every 20 ms while a 10 MiB message is under way
        await b.evaluate(
            "() => { window.lat = []; window.bigAt = null;"
            " rtc.on('big', () => { bigAt = performance.timeOrigin + performance.now(); }); }"
        )
        started = await a.evaluate(
            """async () => {
          const t0 = performance.timeOrigin + performance.now();
          let done = false;
          rtc.emit('big', new Uint8Array(10 * 1024 * 1024)).then(() => { done = true; });
          while (!done) {
            rtc.emit('t', performance.timeOrigin + performance.now());
            await new Promise((r) => setTimeout(r, 20));
          }
          return t0;
        }"""
        )
        await b.wait_for_function("window.bigAt !== null", polling=50, timeout=120_000)
        lat, big_at = await b.evaluate("[window.lat, window.bigAt]")
        print(f"browser A->server->B, 10 MiB with a small message every 20 ms: the 10 MiB in "
              f"{big_at - started:.0f} ms; small messages p50 {pct(lat, 0.5):.1f} ms, "
              f"p99 {pct(lat, 0.99):.1f} ms (n={len(lat)})")  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--browser", action="store_true", help="also measure Chromium pages")
    args = parser.parse_args()
    from browser_support import BLANK_PAGE

    manager = AsyncSignalingManager()
    server = await start_server(manager, index_html=BLANK_PAGE)
    try:
        await python_numbers(server.url)
        if args.browser:
            await browser_numbers(server.url)
    finally:
        await server.close()
        await manager.close()


if __name__ == "__main__":
    asyncio.run(main())
