"""Mesh rooms in real headless Chromium: pages talk peer to peer, the server only introduces
them; a paused server does not stop them; a path that cannot form or drops falls back."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from browser_support import JOIN_JS, chromium, messages, needs_chromium
from conftest import TIMEOUT, same_package

pytestmark = [pytest.mark.browser, needs_chromium]

HERE = Path(__file__).resolve().parents[1]  # tests/: the helper scripts


@pytest.fixture
async def mesh_server() -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(HERE / "serve_process.py"), "mesh",
        stdout=asyncio.subprocess.PIPE, cwd=HERE.parent, env=same_package(),
    )  # fmt: skip
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), TIMEOUT)).decode()
    found = re.search(r"serving on (\S+)", line)
    assert found, line
    yield proc, found.group(1)
    with_cont = proc.returncode is None
    if with_cont:
        os.kill(proc.pid, signal.SIGCONT)
        proc.terminate()
    await asyncio.wait_for(proc.wait(), TIMEOUT)


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    async with chromium() as b:
        yield b


async def join(browser: Any, url: str, peer_id: str, options: Any = None) -> Any:
    page = await browser.new_page()
    await page.goto(url)
    await page.evaluate(JOIN_JS, ["mesh-room", peer_id, options])
    return page


async def direct_to(page: Any, count: int) -> None:
    await page.wait_for_function(
        # linked both ways: ours go direct, theirs are taken from the link (their `switch`
        # came through the server: a server paused before it holds them)
        f"rtc.getRoomPeers().filter((p) => p.isDirect && rtc.mesh.pairs.get(p.id)?.inDirect)"
        f".length === {count}",
        polling=50, timeout=TIMEOUT * 1000,
    )  # fmt: skip


async def test_three_pages_talk_directly_even_while_the_server_is_paused(
    mesh_server: tuple[asyncio.subprocess.Process, str], browser: Any
) -> None:
    proc, url = mesh_server
    a, b, c = [await join(browser, url, name) for name in ("alice", "bob", "carol")]
    for page in (a, b, c):
        await direct_to(page, 2)
    assert await a.evaluate("rtc.topology") == "mesh"
    await a.evaluate("rtc.sendMessage('hello'); rtc.emit('move', {x: 5})")
    for page in (b, c):
        assert await messages(page, 2) == [["alice", "hello", None], ["alice", {"x": 5}, "move"]]
    await b.evaluate("rtc.emit('secret', 'for carol', {to: 'carol'})")
    assert (await messages(c, 3))[2] == ["bob", "for carol", "secret"]

    os.kill(proc.pid, signal.SIGSTOP)  # the server is out of the data path
    try:
        await c.evaluate("for (let i = 0; i < 20; i++) rtc.sendMessage('paused ' + i)")
        await a.evaluate("rtc.emit('to-bob', 1, {to: 'bob'})")
        await b.evaluate("rtc.sendMessage('bob while paused')")
        got_a = await messages(a, 21)
        assert got_a == [["carol", f"paused {i}", None] for i in range(20)] + [
            ["bob", "bob while paused", None]
        ] or sorted(map(str, got_a)) == sorted(
            map(str, [["carol", f"paused {i}", None] for i in range(20)]
                + [["bob", "bob while paused", None]])
        )  # fmt: skip
        assert [m for m in got_a if m[0] == "carol"] == [
            ["carol", f"paused {i}", None] for i in range(20)
        ]
        got_b = await messages(b, 23)
        assert ["alice", 1, "to-bob"] in got_b
        assert [m for m in got_b if m[0] == "carol"][-20:] == [
            ["carol", f"paused {i}", None] for i in range(20)
        ]
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    # as before: direct messages, and broadcasts through the server in one order
    await a.evaluate("rtc.broadcast('tick', 1); rtc.sendMessage('after')")
    for page in (b, c):
        await page.wait_for_function(
            "log.some((e) => e[0] === 'message' && e[3] === 'tick')", polling=50
        )
        await page.wait_for_function(
            "log.some((e) => e[0] === 'message' && e[2] === 'after')", polling=50
        )
    for page in (a, b, c):
        assert await page.evaluate("rtc.getConnectionStatus()") == "connected"
        await direct_to(page, 2)


async def test_a_pair_that_cannot_connect_directly_talks_through_the_relay(
    mesh_server: tuple[asyncio.subprocess.Process, str], browser: Any
) -> None:
    _, url = mesh_server
    a = await join(browser, url, "alice")
    b = await join(browser, url, "bob")
    # carol allows only TURN for direct links and has no TURN server: no direct path can form
    c = await join(browser, url, "carol", {"meshIceTransportPolicy": "relay"})
    await direct_to(a, 1)
    await direct_to(b, 1)
    await c.evaluate("for (let i = 0; i < 50; i++) rtc.sendMessage('c' + i)")
    await a.evaluate("for (let i = 0; i < 50; i++) rtc.sendMessage('a' + i)")
    got_a = await messages(a, 50)
    assert got_a == [["carol", f"c{i}", None] for i in range(50)]
    got_c = await messages(c, 50)
    assert got_c == [["alice", f"a{i}", None] for i in range(50)]
    got_b = await messages(b, 100)
    assert [m[1] for m in got_b if m[0] == "alice"] == [f"a{i}" for i in range(50)]
    assert [m[1] for m in got_b if m[0] == "carol"] == [f"c{i}" for i in range(50)]
    assert await c.evaluate("rtc.getRoomPeers().filter((p) => p.isDirect).length") == 0
    assert await b.evaluate("rtc.getRoomPeers().find((p) => p.id === 'alice').isDirect") is True


async def test_a_link_that_drops_mid_stream_falls_back_with_nothing_lost_or_repeated(
    mesh_server: tuple[asyncio.subprocess.Process, str], browser: Any
) -> None:
    _, url = mesh_server
    a = await join(browser, url, "alice")
    b = await join(browser, url, "bob")
    await direct_to(a, 1)
    await a.evaluate(
        """(async () => {
          for (let i = 0; i < 400; i++) {
            rtc.sendMessage('m' + i);
            if (i === 200) rtc.mesh.pairs.get('bob').link.pc.close();  // the link drops
            if (i % 25 === 0) await new Promise((r) => setTimeout(r, 5));
          }
        })()"""
    )
    got = await messages(b, 400)
    assert got == [["alice", f"m{i}", None] for i in range(400)]
    await a.evaluate("rtc.broadcast('end', 1)")  # through the server, after every resend
    assert (await messages(b, 401))[400] == ["alice", 1, "end"]
    assert await b.evaluate("log.filter((e) => e[0] === 'message').length") == 401
    await direct_to(a, 1)  # and the pair upgrades again
    await a.evaluate("rtc.sendMessage('again')")
    assert (await messages(b, 402))[401] == ["alice", "again", None]


async def test_two_pages_and_a_python_peer_share_a_mesh_through_a_paused_server(
    mesh_server: tuple[asyncio.subprocess.Process, str], browser: Any
) -> None:
    from conftest import Recorder, until
    from peerpyrtc import AsyncClient

    proc, url = mesh_server
    a = await join(browser, url, "alice")
    b = await join(browser, url, "bob")
    py = AsyncClient(url, "mesh-room", "python")
    rec = Recorder(py)
    await py.connect()
    try:
        for page in (a, b):
            await direct_to(page, 2)
        await until(
            lambda: sum(p["isDirect"] and py.mesh.pairs[p["id"]].in_direct for p in py.peers) == 2
        )
        os.kill(proc.pid, signal.SIGSTOP)
        try:
            await a.evaluate("rtc.sendMessage('from alice'); rtc.emit('x', 1, {to: 'python'})")
            assert await rec.messages(2) == [("alice", "from alice", None), ("alice", 1, "x")]
            await py.send_message("from python")
            await py.emit("y", {"k": 2}, to="bob")
            assert (await messages(a, 1)) == [["python", "from python", None]]
            got_b = await messages(b, 3)
            assert got_b == [
                ["alice", "from alice", None],
                ["python", "from python", None],
                ["python", {"k": 2}, "y"],
            ]
        finally:
            os.kill(proc.pid, signal.SIGCONT)
        await b.evaluate("rtc.broadcast('tick', 2)")
        assert (await rec.expect("message")) == ("bob", 2, "tick")
    finally:
        await py.close()


async def test_offers_from_both_sides_at_once_settle_without_glare(
    mesh_server: tuple[asyncio.subprocess.Process, str], browser: Any
) -> None:
    """Perfect negotiation: both ends renegotiate at the same moment; the polite one (the
    smaller id) rolls back, the link stays up and direct."""
    _, url = mesh_server
    a = await join(browser, url, "alice")
    b = await join(browser, url, "bob")
    await direct_to(a, 1)
    await direct_to(b, 1)
    # each side holds what it signals until both have made their offer: the offers cross
    # for certain (glare), however the two pages are scheduled
    setup = """(name) => {
      const pc = rtc.mesh.pairs.get(name).link.pc;
      window.offers = 0;  // descriptions of type offer this side sends
      window.held = [];
      const signal = rtc.mesh.host.signal;
      window.release = () => { const out = held; held = null; out.forEach(([to, d]) => signal(to, d)); };
      rtc.mesh.host.signal = (to, d) => {
        if (d.description && d.description.type === 'offer') offers += 1;
        if (held) held.push([to, d]); else signal(to, d);
      };
      return pc.signalingState;
    }"""
    assert await a.evaluate(setup, "bob") == "stable"
    assert await b.evaluate(setup, "alice") == "stable"
    # both restart ICE: both get negotiationneeded and make an offer, neither sees the other's
    await asyncio.gather(
        a.evaluate("rtc.mesh.pairs.get('bob').link.pc.restartIce(); null"),
        b.evaluate("rtc.mesh.pairs.get('alice').link.pc.restartIce(); null"),
    )
    for page in (a, b):
        await page.wait_for_function("offers >= 1", polling=50, timeout=TIMEOUT * 1000)
    await asyncio.gather(a.evaluate("release()"), b.evaluate("release()"))
    for page, other in ((a, "bob"), (b, "alice")):
        await page.wait_for_function(
            f"rtc.mesh.pairs.get('{other}').link.pc.signalingState === 'stable'",
            polling=50, timeout=TIMEOUT * 1000,
        )  # fmt: skip
    await direct_to(a, 1)
    await a.evaluate("rtc.sendMessage('still direct')")
    assert await messages(b, 1) == [["alice", "still direct", None]]


# 16 MiB less the envelope: the server's default limit counts the whole message
@pytest.mark.parametrize("size", [1024, 300 * 1024, 5 * 1024 * 1024, 16 * 1024 * 1024 - 1024])
async def test_binary_and_large_messages_reach_mesh_peers_intact(
    mesh_server: tuple[asyncio.subprocess.Process, str], browser: Any, size: int
) -> None:
    """Binary and large messages in a mesh room travel through the server (direct links carry
    text only so far), intact, while the pages stay linked directly."""
    _, url = mesh_server
    a, b = [await join(browser, url, name) for name in ("alice", "bob")]
    for page in (a, b):
        await direct_to(page, 1)
    digest = await a.evaluate(
        """async (size) => { const d = new Uint8Array(size);
      for (let i = 0; i < size; i++) d[i] = (i * 7 + 3) & 255;
      await rtc.emit('file', {name: 'f', data: d, small: new Uint8Array([1, 2, 3])});
      const h = await crypto.subtle.digest('SHA-256', d);
      return [...new Uint8Array(h)].map((x) => x.toString(16).padStart(2, '0')).join(''); }""",
        size,
    )
    await b.wait_for_function(
        "window.log.some((e) => e[0] === 'message' && e[3] === 'file')",
        polling=100, timeout=60_000,
    )  # fmt: skip
    got = await b.evaluate(
        """async () => { const d = window.log.find((e) => e[3] === 'file')[2];
      const h = await crypto.subtle.digest('SHA-256', d.data);
      return [d.name, [...new Uint8Array(d.small)],
              [...new Uint8Array(h)].map((x) => x.toString(16).padStart(2, '0')).join('')]; }"""
    )
    assert got == ["f", [1, 2, 3], digest]
    assert await b.evaluate("rtc.getRoomPeers().filter((p) => p.isDirect).length") == 1


async def test_volatile_messages_go_peer_to_peer_while_the_server_is_paused(
    mesh_server: tuple[asyncio.subprocess.Process, str], browser: Any
) -> None:
    """Each direct link's second channel (unordered, no retransmissions) carries volatile
    messages, text and binary, between pages and a Python peer: the server is stopped."""
    from conftest import Recorder, until
    from peerpyrtc import AsyncClient

    proc, url = mesh_server
    a = await join(browser, url, "alice")
    b = await join(browser, url, "bob")
    py = AsyncClient(url, "mesh-room", "python")
    rec = Recorder(py)
    await py.connect()
    volatile_ready = "[...rtc.mesh.pairs.values()].every((p) => p.volatile && p.link?.volatileOpen)"
    try:
        for page in (a, b):
            await direct_to(page, 2)
            await page.wait_for_function(volatile_ready, polling=50, timeout=TIMEOUT * 1000)
        await until(lambda: all(p.volatile for p in py.mesh.pairs.values()))
        os.kill(proc.pid, signal.SIGSTOP)
        try:
            await a.evaluate(
                "rtc.volatile.emit('cursor', {x: 1}); rtc.volatile.emit('bin', new Uint8Array([7, 8]))"
            )
            got = {(s, repr(d), e) for s, d, e in await rec.messages(2)}
            assert got == {("alice", repr({"x": 1}), "cursor"), ("alice", repr(b"\x07\x08"), "bin")}
            await py.emit("pos", {"y": 2}, volatile=True)
            await py.emit("raw", b"\x01", to="bob", volatile=True)
            shown = """(n) => window.log.filter((e) => e[0] === 'message').slice(0, n)
              .map((e) => [e[1], e[2] instanceof ArrayBuffer ? [...new Uint8Array(e[2])] : e[2], e[3]])"""
            await messages(b, 4)
            assert sorted(map(str, await b.evaluate(shown, 4))) == sorted(
                map(str, [["alice", {"x": 1}, "cursor"], ["alice", [7, 8], "bin"],
                          ["python", {"y": 2}, "pos"], ["python", [1], "raw"]])
            )  # fmt: skip
            await messages(a, 1)
            assert await a.evaluate(shown, 5) == [["python", {"y": 2}, "pos"]]
        finally:
            os.kill(proc.pid, signal.SIGCONT)
    finally:
        await py.close()
