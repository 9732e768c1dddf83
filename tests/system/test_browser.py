"""The browser client in real headless Chromium against the real Python server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from browser_support import BLANK_PAGE, JOIN_JS, chromium, messages, needs_chromium
from conftest import TIMEOUT
from peerpyrtc import AsyncSignalingManager, SignalingServer, start_server

pytestmark = [pytest.mark.browser, needs_chromium]


@pytest.fixture
async def web(manager: AsyncSignalingManager) -> AsyncIterator[SignalingServer]:
    server = await start_server(manager, index_html=BLANK_PAGE)
    yield server
    await server.close()


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    async with chromium() as b:
        yield b


async def open_page(browser: Any, url: str) -> Any:
    page = await browser.new_page()
    await page.goto(url)
    return page


async def test_three_pages_in_one_room(
    web: SignalingServer, browser: Any, manager: AsyncSignalingManager
) -> None:
    pages = [await open_page(browser, web.url) for _ in range(3)]
    a, b, c = pages
    assert await a.evaluate(JOIN_JS, ["room", "alice", None]) == [["alice", True]]
    assert await b.evaluate(JOIN_JS, ["room", "bob", None]) == [["alice", True], ["bob", False]]
    peers = await c.evaluate(JOIN_JS, ["room", "carol", None])
    assert peers == [["alice", True], ["bob", False], ["carol", False]]
    await a.wait_for_function("window.rtc.getPeerCount() === 3", polling=50)
    assert await a.evaluate("window.rtc.isRoomHost()") is True
    assert await b.evaluate("window.rtc.isRoomHost()") is False

    # plain message and event to the others, never back to the sender
    await a.evaluate("rtc.sendMessage('hello'); rtc.emit('move', {x: 5, y: 3})")
    for page in (b, c):
        assert await messages(page, 2) == [
            ["alice", "hello", None],
            ["alice", {"x": 5, "y": 3}, "move"],
        ]
    # on() handlers get (senderId, data) and unsubscribe
    await c.evaluate(
        "window.got = []; window.off = rtc.on('ping', (from, data) => got.push([from, data])); null"
    )
    await b.evaluate("rtc.emit('secret', 'for carol', {to: 'carol'}); rtc.emit('ping', 1)")
    await c.wait_for_function("window.got.length === 1", polling=50)
    assert await c.evaluate("window.got") == [["bob", 1]]
    assert (await messages(c, 3))[2] == ["bob", "for carol", "secret"]
    await a.wait_for_function(
        "window.log.filter((e) => e[0] === 'message').length === 1", polling=50
    )
    assert await messages(a, 1) == [["bob", 1, "ping"]]  # alice never saw the secret

    # broadcasts: every page, sender included, sees one order
    await asyncio.gather(
        *(
            p.evaluate(f"for (let i = 0; i < 30; i++) rtc.broadcast('tick', '{n}-' + i)")
            for n, p in enumerate(pages)
        )
    )
    orders = []
    for page in pages:
        await page.wait_for_function(
            "window.log.filter((e) => e[0] === 'message' && e[3] === 'tick').length === 90",
            polling=50,
        )
        orders.append(
            await page.evaluate(
                "log.filter((e) => e[0] === 'message' && e[3] === 'tick').map((e) => e[2])"
            )
        )
    assert orders[0] == orders[1] == orders[2]
    assert sorted(orders[0]) == sorted(f"{n}-{i}" for n in range(3) for i in range(30))

    # the host leaves: bob (longest present) becomes host everywhere
    await a.evaluate("rtc.closeConnection()")
    await b.wait_for_function(
        "window.rtc.isRoomHost() && window.rtc.getPeerCount() === 2", polling=50
    )
    await c.wait_for_function(
        "window.log.some((e) => e[0] === 'left' && e[1] === 'alice')", polling=50
    )
    assert await c.evaluate("rtc.getRoomPeers().map((p) => [p.id, p.isHost])") == [
        ["bob", True],
        ["carol", False],
    ]
    assert manager.rooms_info()["room"]["host_id"] == "bob"
    assert await a.evaluate("rtc.getConnectionStatus()") == "closed"
    err = await a.evaluate(
        "(() => { try { rtc.sendMessage('late'); } catch (e) { return e.code; } })()"
    )
    assert err == "ERR_CLOSED"


async def test_seed_cdn_snippet_verbatim(web: SignalingServer, browser: Any, join: Any) -> None:
    listener, rec = await join("my-room", "listener")
    page = await browser.new_page()
    await page.goto(web.url)
    # the seed's CDN snippet, with the bundle served by the Python package
    await page.set_content(
        f"""<script src="{web.url}/peerpyrtc/peerpyrtc.umd.js"></script>
<script>
  const {{ WebRTCConnection }} = window.WebRTCConnection;
  const rtc = new WebRTCConnection("my-room");
  
  rtc.onOpen = () => rtc.sendMessage("Hello World!");
  rtc.connect();
</script>"""
    )
    sender, text, event = await rec.expect("message")
    assert (text, event) == ("Hello World!", None) and sender.startswith("peer-")


async def test_esm_bundle_imports(web: SignalingServer, browser: Any, join: Any) -> None:
    listener, rec = await join("esm", "listener")
    page = await open_page(browser, web.url)
    ok = await page.evaluate(
        """async () => {
      const m = await import('/peerpyrtc/peerpyrtc.esm.js');
      const rtc = new m.WebRTCConnection('esm', { peerId: 'esm-page' });
      await rtc.connect();
      rtc.emit('hi', {from: 'esm'});
      return [typeof m.WebRTCRoomManager, m.PROTOCOL_VERSION, rtc.getPeerCount()];
    }"""
    )
    assert ok == ["function", 1, 2]
    assert await rec.expect("message") == ("esm-page", {"from": "esm"}, "hi")


async def test_sending_before_open_is_queued_and_flushed(
    web: SignalingServer, browser: Any, join: Any
) -> None:
    listener, rec = await join("early", "listener")
    page = await open_page(browser, web.url)
    await page.evaluate(
        """async () => {
      const { WebRTCConnection } = window.WebRTCConnection;
      const rtc = new WebRTCConnection('early', { peerId: 'eager' });
      rtc.sendMessage('sent before connect');
      rtc.emit('also', 2);
      const p = rtc.connect();
      rtc.sendMessage('sent while connecting');
      await p;
    }"""
    )
    got = [await rec.expect("message") for _ in range(3)]
    assert got == [
        ("eager", "sent before connect", None),
        ("eager", 2, "also"),
        ("eager", "sent while connecting", None),
    ]


async def test_room_manager_in_three_rooms(web: SignalingServer, browser: Any, join: Any) -> None:
    rooms = ["lobby", "game-1", "chat-general"]
    bots = {room: await join(room, f"bot-{room}") for room in rooms}
    blocker, _ = await join("taken", "user123")  # makes one join fail
    page = await open_page(browser, web.url)
    results = await page.evaluate(
        """async (rooms) => {
      const { WebRTCRoomManager } = window.WebRTCConnection;
      const manager = new WebRTCRoomManager('user123');
      window.manager = manager;
      window.got = [];
      manager.on('chat-message', (roomId, senderId, message) => got.push(['global', roomId, senderId, message]));
      manager.on('chat-message', (roomId) => got.push(['second', roomId]));
      manager.onRoom('lobby', 'chat-message', (roomId, senderId, data) => got.push(['lobby-only', roomId, data]));
      manager.on('message', (roomId, senderId, text) => got.push(['plain', roomId, senderId, text]));
      const results = await manager.joinRooms([...rooms, 'taken']);
      return results.map((r) => [r.roomId, r.success, r.error ? r.error.code : null]);
    }""",
        rooms,
    )
    assert results == [[r, True, None] for r in rooms] + [["taken", False, "ERR_PEER_ID_TAKEN"]]
    assert sorted(await page.evaluate("manager.getRoomIds()")) == sorted(rooms)
    for room, (bot, _) in bots.items():
        await bot.emit("chat-message", f"hi {room}")
    await bots["game-1"][0].send_message("plain text")
    await page.wait_for_function("window.got.length === 8", polling=50)
    got = await page.evaluate("window.got")
    assert ["global", "lobby", "bot-lobby", "hi lobby"] in got
    assert ["lobby-only", "lobby", "hi lobby"] in got
    assert ["global", "chat-general", "bot-chat-general", "hi chat-general"] in got
    assert sum(1 for g in got if g[0] == "second") == 3
    assert ["plain", "game-1", "bot-game-1", "plain text"] in got
    assert not any(g[0] == "lobby-only" and g[1] != "lobby" for g in got)

    sent = await page.evaluate("manager.broadcastToAll('announcement', {text: 'maintenance'})")
    assert sorted(sent) == sorted(rooms)
    for _, rec in bots.values():
        assert await rec.expect("message") == ("user123", {"text": "maintenance"}, "announcement")
    newcomer, new_rec = await join("new-room", "bot-new")
    await page.evaluate("manager.autoEmit('new-room', 'welcome', {user: 'Alice'})")
    assert await new_rec.expect("message") == ("user123", {"user": "Alice"}, "welcome")
    status = await page.evaluate("manager.getStatus()")
    assert status["connectedRooms"] == 4 and status["rooms"]["lobby"]["status"] == "connected"
    await page.evaluate("manager.leaveRoom('lobby')")
    left = await bots["lobby"][1].expect("left")
    assert left["id"] == "user123"
    assert await page.evaluate(
        "[manager.isConnectedTo('lobby'), manager.isConnectedTo('game-1')]"
    ) == [False, True]
    await page.evaluate("manager.leaveAllRooms()")
    assert await page.evaluate("manager.getRoomIds()") == []


async def test_connect_failures_are_clear(web: SignalingServer, browser: Any, join: Any) -> None:
    holder, _ = await join("r", "taken-id")
    page = await open_page(browser, web.url)
    err = await page.evaluate(
        """async () => {
      const { WebRTCConnection } = window.WebRTCConnection;
      try { await new WebRTCConnection('r', { peerId: 'taken-id' }).connect(); }
      catch (e) { return [e.code, e.status, e.message]; }
    }"""
    )
    assert err[0] == "ERR_PEER_ID_TAKEN" and err[1] == 409 and "already in use" in err[2]
    err = await page.evaluate(
        """async () => {
      const { WebRTCConnection } = window.WebRTCConnection;
      try { await new WebRTCConnection('r', { signalingUrl: 'http://127.0.0.1:1', requestTimeout: 2000 }).connect(); }
      catch (e) { return [e.code, e.message]; }
    }"""
    )
    assert err[0] == "ERR_SIGNALING"


async def test_a_full_room_fails_at_once_with_err_room_full(browser: Any) -> None:
    from peerpyrtc import AsyncClient, Limits

    manager = AsyncSignalingManager(limits=Limits(max_peers_per_room=1))
    server = await start_server(manager, index_html=BLANK_PAGE)
    try:
        async with AsyncClient(server.url, "full", "only"):
            page = await open_page(browser, server.url)
            err = await page.evaluate(
                """async () => {
              const { WebRTCConnection } = window.WebRTCConnection;
              const started = performance.now();
              try { await new WebRTCConnection('full', { connectTimeout: 15000 }).connect(); }
              catch (e) { return [e.code, e.status, e.serverCode, performance.now() - started]; }
            }"""
            )
            code, status, server_code, took_ms = err
            assert (code, status, server_code) == ("ERR_ROOM_FULL", 429, "ERR_ROOM_FULL")
            assert took_ms < 3000  # final at once; retrying would go on for the 15 s
            assert [p["id"] for p in manager.get_room_peers("full")] == ["only"]
    finally:
        await server.close()
        await manager.close()


async def test_python_and_browser_peers_share_a_room(
    web: SignalingServer, browser: Any, join: Any
) -> None:
    bot, rec = await join("mixed", "bot")
    page = await open_page(browser, web.url)
    await page.evaluate(JOIN_JS, ["mixed", "page", {"peerInfo": {"name": "Page"}}])
    joined = await rec.expect("joined")
    # the user agent is not shared unless the page asks (sendUserAgent: true)
    assert joined["id"] == "page" and joined["name"] == "Page" and "userAgent" not in joined
    await bot.emit("to-page", [1, 2, 3], to="page")
    assert await messages(page, 1) == [["bot", [1, 2, 3], "to-page"]]
    await page.evaluate("rtc.sendMessage('to bot')")
    assert await rec.expect("message") == ("page", "to bot", None)
    await page.close()  # a closed tab: the server notices and tells the room
    # the page says goodbye on pagehide (bye + a beacon): no waiting for ICE consent (30 s)
    assert (await rec.expect("left", timeout=TIMEOUT))["id"] == "page"
    page = await open_page(browser, web.url)
    await page.evaluate(JOIN_JS, ["mixed", "page2", {"sendUserAgent": True}])
    assert "Chrome" in (await rec.expect("joined"))["userAgent"]
    await page.close()
