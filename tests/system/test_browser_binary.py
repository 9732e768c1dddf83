"""Binary payloads, large messages and the volatile channel in real headless Chromium."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest

from browser_support import BLANK_PAGE, JOIN_JS, chromium, needs_chromium
from conftest import TIMEOUT, Recorder
from peerpyrtc import AsyncClient, AsyncSignalingManager, Limits, SignalingServer, start_server

pytestmark = [pytest.mark.browser, needs_chromium]

MiB = 1024 * 1024
LIMIT = 24 * MiB

#: Helpers every page gets: deterministic bytes, their sha256, and a log of what arrived.
HELPERS = """() => {
  window.pattern = (n, seed) => { const a = new Uint8Array(n);
    for (let i = 0; i < n; i++) a[i] = (i * 31 + seed) & 255; return a; };
  window.hex = async (buf) => [...new Uint8Array(await crypto.subtle.digest('SHA-256', buf))]
    .map((b) => b.toString(16).padStart(2, '0')).join('');
  window.got = [];
  rtc.onAny((event, from, data) => got.push([event, from, data]));
  window.incoming = [];
  rtc.lifecycle.on('incoming', (from, event, n, total) => incoming.push([from, event, n, total]));
}"""


def pattern(n: int, seed: int) -> bytes:
    return bytes((i * 31 + seed) & 255 for i in range(n))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
async def manager() -> AsyncIterator[AsyncSignalingManager]:
    """Messages up to 24 MiB here (the default is 16 MiB): the issue's 20 MiB transfer."""
    m = AsyncSignalingManager(limits=Limits(max_message_bytes=LIMIT, transfer_burst=2 * LIMIT))
    yield m
    await m.close()


@pytest.fixture
async def web(manager: AsyncSignalingManager) -> AsyncIterator[SignalingServer]:
    server = await start_server(manager, index_html=BLANK_PAGE)
    yield server
    await server.close()


@pytest.fixture
async def pages(web: SignalingServer) -> AsyncIterator[list[Any]]:
    async with chromium() as browser:
        made = []
        for peer in ("alice", "bob"):
            page = await browser.new_page()
            await page.goto(web.url)
            await page.evaluate(JOIN_JS, ["room", peer, None])
            await page.evaluate(HELPERS)
            made.append(page)
        await made[0].wait_for_function("rtc.getPeerCount() === 2", polling=50)
        yield made


async def test_binary_between_pages_and_python(pages: list[Any], web: SignalingServer) -> None:
    a, b = pages
    await a.evaluate(
        """async () => {
      await rtc.emit('bin', pattern(1024, 1).buffer);
      await rtc.emit('nested', {name: 'pic', parts: [pattern(3, 2), new DataView(pattern(2, 3).buffer)],
                                blob: new Blob([pattern(5, 4)])});
      await rtc.sendMessage(pattern(7, 5));
    }"""
    )
    await b.wait_for_function("got.length === 3", polling=50)
    summary = await b.evaluate(
        """async () => Promise.all(got.map(async ([event, from, data]) => event === 'nested'
          ? [event, from, data.name, data.parts[0] instanceof ArrayBuffer, await hex(data.parts[0]),
             await hex(data.parts[1]), await hex(data.blob)]
          : [event, from, data instanceof ArrayBuffer, await hex(data)]))"""
    )
    assert summary == [
        ["bin", "alice", True, sha(pattern(1024, 1))],
        [
            "nested",
            "alice",
            "pic",
            True,
            sha(pattern(3, 2)),
            sha(pattern(2, 3)),
            sha(pattern(5, 4)),
        ],
        ["message", "alice", True, sha(pattern(7, 5))],
    ]
    # a Python peer receives the page's bytes as bytes, and its bytes reach the page
    py = AsyncClient(web.url, "room", "py", max_reconnect_attempts=0)
    rec = Recorder(py)
    try:
        await asyncio.wait_for(py.connect(), TIMEOUT)
        await a.evaluate("rtc.emit('to-py', {b: pattern(300 * 1024, 6)}, {to: 'py'})")
        sender, data, event = await rec.expect("message", timeout=TIMEOUT * 2)
        assert (sender, event) == ("alice", "to-py") and data["b"] == pattern(300 * 1024, 6)
        await py.emit("from-py", [b"\x00\x01", pattern(200_000, 7)], to="bob")
        await b.wait_for_function("got.some((g) => g[0] === 'from-py')", polling=50)
        assert await b.evaluate(
            """async () => { const d = got.find((g) => g[0] === 'from-py')[2];
              return [await hex(d[0]), await hex(d[1])]; }"""
        ) == [sha(b"\x00\x01"), sha(pattern(200_000, 7))]
    finally:
        await py.close()


@pytest.mark.parametrize("size", [300 * 1024, 5 * MiB, 16 * MiB])
async def test_large_messages_page_to_page_intact(pages: list[Any], size: int) -> None:
    a, b = pages
    progress = await a.evaluate(
        """async (size) => { const seen = [];
      await rtc.emit('file', {data: pattern(size, 9)}, {onProgress: (s, t) => seen.push([s, t])});
      return [seen.length, seen[seen.length - 1]]; }""",
        size,
    )
    assert progress[0] > 1 and progress[1][0] == progress[1][1] > size
    await b.wait_for_function("got.length === 1", polling=100, timeout=60_000)
    assert await b.evaluate("hex(got[0][2].data)") == sha(pattern(size, 9))
    incoming = await b.evaluate("[incoming.length, incoming[incoming.length - 1]]")
    assert incoming[0] > 1 and incoming[1][0:2] == ["alice", "file"]
    assert incoming[1][2] == incoming[1][3]


@pytest.mark.parametrize("size", [1024, 300 * 1024, 5 * MiB, 16 * MiB])
async def test_large_messages_python_to_page_intact(
    pages: list[Any], web: SignalingServer, size: int
) -> None:
    a, _ = pages
    py = AsyncClient(web.url, "room", "py", max_reconnect_attempts=0)
    try:
        await asyncio.wait_for(py.connect(), TIMEOUT)
        payload = os.urandom(size)
        await asyncio.wait_for(py.emit("file", {"data": payload}, to="alice"), TIMEOUT * 6)
        await a.wait_for_function("got.some((g) => g[0] === 'file')", polling=100, timeout=60_000)
        assert await a.evaluate(
            "(async () => { const g = got.find((x) => x[0] === 'file'); return [g[1], await hex(g[2].data)]; })()"
        ) == ["py", sha(payload)]
    finally:
        await py.close()


async def test_over_the_limit_is_refused_at_the_sender(pages: list[Any]) -> None:
    a, b = pages
    code = await a.evaluate(
        "rtc.emit('big', pattern(24 * 1024 * 1024 + 1, 1)).then(() => 'sent', (e) => e.code)"
    )
    assert code == "ERR_TOO_LARGE"
    await a.evaluate("rtc.emit('after', 1)")
    await b.wait_for_function("got.length === 1", polling=50)
    assert await b.evaluate("got.map((g) => g[0])") == ["after"]


async def test_a_chat_message_overtakes_a_20_mib_transfer(pages: list[Any]) -> None:
    a, b = pages
    await a.evaluate(
        """() => { window.done = false;
      rtc.emit('file', pattern(20 * 1024 * 1024, 3)).then(() => { done = true; });
      setTimeout(() => rtc.emit('chat', 'hello'), 50); }"""
    )
    await b.wait_for_function("got.length === 2", polling=100, timeout=90_000)
    assert await b.evaluate("got.map((g) => g[0])") == ["chat", "file"]
    timing = await b.evaluate("incoming.length")
    assert timing > 1000  # the file arrived in frames of 16 KiB


async def test_volatile_between_pages(pages: list[Any], manager: AsyncSignalingManager) -> None:
    a, b = pages
    await a.wait_for_function("rtc.transport.volatile.readyState === 'open'", polling=50)
    await b.wait_for_function("rtc.transport.volatile.readyState === 'open'", polling=50)
    assert "volatile" in manager.peers.active[("room", "bob")].channels
    await a.evaluate("for (let i = 0; i < 20; i++) rtc.volatile.emit('cursor', {i})")
    await b.wait_for_function("got.length >= 15", polling=50)  # unreliable: loopback loses none
    got = await b.evaluate("got.map((g) => [g[0], g[1], g[2].i])")
    assert all(g[:2] == ["cursor", "alice"] for g in got)
    code = await a.evaluate(
        "(() => { try { rtc.volatile.emit('big', 'x'.repeat(20000)); } catch (e) { return e.code; } })()"
    )
    assert code == "ERR_TOO_LARGE"
