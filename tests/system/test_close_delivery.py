"""Closing delivers everything sent before it: pages and Python peers, every adapter, the seed.

The loss was a race (about 1 close in 10 on a quiet machine): the session-carrying
HTTP /leave removed the peer before the server had read the channel's last
data. So each case runs several times, in several sizes, and no test here
intercepts requests (Playwright's route() slows them and hides the race).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from adapters import ADAPTERS, serve_adapter
from browser_support import chromium, needs_chromium
from conftest import TIMEOUT, Recorder, until
from peerpyrtc import AsyncClient, client_dir
from seedapp import Served, load

#: (messages, bytes each): one, a burst of small ones, many, a few near the size limit
CASES = [(1, 10), (20, 1000), (200, 100), (4, 30_000)]
REPEATS = 3
TARGETS = [*ADAPTERS, "seed-quickstart", "seed-production"]

SEND_THEN_CLOSE = """async ([room, id, n, size, signalingUrl]) => {
  const { WebRTCConnection } = window.WebRTCConnection;
  const rtc = new WebRTCConnection(room, { peerId: id, signalingUrl });
  await rtc.connect();
  for (let i = 0; i < n; i++) rtc.sendMessage(i + ':' + 'x'.repeat(size));
  await rtc.closeConnection();
}"""


@asynccontextmanager
async def serve_target(name: str) -> AsyncIterator[str]:
    """The base URL of the signalling routes of an adapter or of a seed README app."""
    if name.startswith("seed-"):
        served = Served(load(name[len("seed-") :] + "_app"))
        try:
            yield served.url
        finally:
            await asyncio.to_thread(served.close)
    else:
        async with serve_adapter(name) as (url, _):
            yield url


async def expect_all(rec: Recorder, sender: str, n: int, size: int) -> None:
    got = [await rec.expect("message", lambda m: m[0] == sender) for _ in range(n)]
    assert [m[1] for m in got] == [f"{i}:" + "x" * size for i in range(n)]
    assert (await rec.expect("left", lambda p: p["id"] == sender))["id"] == sender


@pytest.mark.browser
@needs_chromium
@pytest.mark.parametrize("target", TARGETS)
async def test_a_page_that_closes_right_after_sending_delivers_everything(target: str) -> None:
    umd = (client_dir() / "peerpyrtc.umd.js").read_text()
    async with serve_target(target) as url, chromium() as browser:
        bot = AsyncClient(url, "close-room", "bot")
        rec = Recorder(bot)
        await bot.connect()
        try:
            page = await browser.new_page()
            await page.goto(url + "/offer")  # any page of the routes' origin (a 405 is fine)
            await page.add_script_tag(content=umd)
            for rep in range(REPEATS):
                for n, size in CASES:
                    sender = f"page-{rep}-{n}"
                    await page.evaluate(SEND_THEN_CLOSE, ["close-room", sender, n, size, url])
                    await expect_all(rec, sender, n, size)
        finally:
            await bot.close()


@pytest.mark.parametrize("target", TARGETS)
async def test_a_python_peer_that_closes_right_after_sending_delivers_everything(
    target: str,
) -> None:
    async with serve_target(target) as url:
        bot = AsyncClient(url, "close-room", "bot")
        rec = Recorder(bot)
        await bot.connect()
        try:
            for rep in range(REPEATS):
                for n, size in CASES:
                    sender = f"py-{rep}-{n}"
                    async with AsyncClient(url, "close-room", sender) as client:
                        for i in range(n):
                            await client.send_message(f"{i}:" + "x" * size)
                    await expect_all(rec, sender, n, size)
        finally:
            await bot.close()


@pytest.mark.browser
@needs_chromium
async def test_a_closing_tab_says_goodbye_in_a_form_the_seed_routes_accept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The beacon to /leave is JSON on the same origin: the seed's request.json takes it."""
    umd = (client_dir() / "peerpyrtc.umd.js").read_text()
    async with serve_target("seed-production") as url, chromium() as browser:
        bot = AsyncClient(url, "tabs", "bot")
        rec = Recorder(bot)
        await bot.connect()
        try:
            page = await browser.new_page()
            await page.goto(url + "/offer")
            await page.add_script_tag(content=umd)
            await page.evaluate(
                """async (url) => {
                  const { WebRTCConnection } = window.WebRTCConnection;
                  window.rtc = new WebRTCConnection('tabs', { peerId: 'tab', signalingUrl: url });
                  await window.rtc.connect();
                }""",
                url,
            )
            with caplog.at_level(logging.INFO, logger="werkzeug"):
                await page.close()  # pagehide: bye over the channel and a beacon to /leave
                assert (await rec.expect("left", timeout=TIMEOUT))["id"] == "tab"

                await until(lambda: "/leave" in caplog.text)  # the beacon was answered
            leave_lines = [r.getMessage() for r in caplog.records if "/leave" in r.getMessage()]
            assert leave_lines and all('" 200 ' in line for line in leave_lines), leave_lines
        finally:
            await bot.close()
