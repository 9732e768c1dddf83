"""Helpers for tests in real headless Chromium (Debian's, driven by Playwright)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-gpu",
]

needs_chromium = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None, reason="needs Debian's chromium (apt-get install chromium)"
)

BLANK_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>test</title></head>
<body><script src="/peerpyrtc/peerpyrtc.umd.js"></script>
<script>
  window.log = [];
  window.record = (kind, ...args) => window.log.push([kind, ...args]);
</script></body></html>"""


@asynccontextmanager
async def chromium(*extra_args: str, executable: str = CHROMIUM) -> AsyncIterator[Any]:
    """Debian's Chromium, headless (``executable``: a wrapper, e.g. one that enters a
    network namespace)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        args = [*CHROMIUM_ARGS, *extra_args]
        browser = await p.chromium.launch(executable_path=executable, args=args)
        try:
            yield browser
        finally:
            await browser.close()


JOIN_JS = """async ([room, peerId, options]) => {
  const { WebRTCConnection } = window.WebRTCConnection;
  const rtc = new WebRTCConnection(room, { peerId, ...(options || {}) });
  window.rtc = rtc;
  rtc.onMessage = (from, data, event) => record('message', from, data, event ?? null);
  rtc.onPeerJoined = (p) => record('joined', p.id, p.isHost);
  rtc.onPeerLeft = (p) => record('left', p.id);
  rtc.onStatusChange = (s) => record('status', s);
  rtc.onError = (e) => record('error', e.code, e.message);
  rtc.onOpen = () => record('open', rtc.getPeerCount());
  await rtc.connect();
  return rtc.getRoomPeers().map((p) => [p.id, p.isHost]);
}"""


async def messages(page: Any, count: int, timeout: float = 10_000) -> list[list[Any]]:
    """Wait until the page has recorded ``count`` messages; return them in order."""
    await page.wait_for_function(
        f"window.log.filter((e) => e[0] === 'message').length >= {count}",
        timeout=timeout,
        polling=50,  # rAF polling stalls in background tabs
    )
    got: list[list[Any]] = await page.evaluate(
        "window.log.filter((e) => e[0] === 'message').map((e) => e.slice(1))"
    )
    return got[:count]
