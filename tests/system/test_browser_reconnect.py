"""A page survives its server being killed and restarted on the same port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from browser_support import JOIN_JS, chromium, messages, needs_chromium
from conftest import Recorder
from peerpyrtc import AsyncClient
from processes import ServerProcess

pytestmark = [pytest.mark.browser, needs_chromium]

RECORDER_JS = "window.log = []; window.record = (k, ...a) => window.log.push([k, ...a]);"


@pytest.fixture
async def servers() -> AsyncIterator[list[ServerProcess]]:
    made: list[ServerProcess] = []
    yield made
    for server in made:
        await server.kill()


async def test_page_reconnects_after_server_restart(servers: list[ServerProcess]) -> None:
    first = ServerProcess()
    servers.append(first)
    url = await first.start()
    port = int(url.rsplit(":", 1)[1])
    async with chromium() as browser:
        page = await browser.new_page()
        await page.add_init_script(RECORDER_JS)
        await page.goto(url)
        await page.evaluate(
            JOIN_JS, ["room", "page", {"reconnectDelay": 300, "maxReconnectAttempts": 8}]
        )

        await first.kill()  # no goodbye: the page must notice by itself
        second = ServerProcess()
        servers.append(second)
        await second.start(port)
        await page.wait_for_function(
            "window.log.some((e) => e[0] === 'status' && e[1] === 'reconnecting')",
            timeout=30_000,
            polling=100,
        )
        await page.wait_for_function("window.rtc.isConnected()", timeout=30_000, polling=100)
        statuses = await page.evaluate("log.filter((e) => e[0] === 'status').map((e) => e[1])")
        assert statuses[-2:] == ["connecting", "connected"] or statuses[-1] == "connected"
        assert await page.evaluate("log.filter((e) => e[0] === 'open').length") == 2

        async with AsyncClient(second.url, "room", "bot") as bot:
            rec = Recorder(bot)
            assert [p["id"] for p in bot.peers] == ["page", "bot"]  # the room was rebuilt
            await bot.send_message("after restart")
            assert await messages(page, 1) == [["bot", "after restart", None]]
            await page.evaluate("window.rtc.sendMessage('page is back')")
            assert await rec.expect("message") == ("page", "page is back", None)


async def test_page_gives_up_after_max_attempts(servers: list[ServerProcess]) -> None:
    server = ServerProcess()
    servers.append(server)
    url = await server.start()
    async with chromium() as browser:
        page: Any = await browser.new_page()
        await page.add_init_script(RECORDER_JS)
        await page.goto(url)
        await page.evaluate(
            JOIN_JS,
            [
                "room",
                "page",
                {"reconnectDelay": 100, "maxReconnectAttempts": 2, "requestTimeout": 1000},
            ],
        )
        await server.kill()  # and never comes back
        await page.wait_for_function(
            "window.log.some((e) => e[0] === 'error' && e[1] === 'ERR_RECONNECT_FAILED')",
            timeout=40_000,
            polling=100,
        )
        assert await page.evaluate("window.rtc.getConnectionStatus()") == "failed"


async def test_a_page_that_loses_its_transport_keeps_its_place_and_host_role(
    servers: list[ServerProcess],
) -> None:
    """A client-side loss (the server still holds the peer): no leave, no new host, no join."""
    server = ServerProcess()
    servers.append(server)
    url = await server.start()
    async with chromium() as browser:
        page = await browser.new_page()
        await page.add_init_script(RECORDER_JS)
        await page.goto(url)
        await page.evaluate(JOIN_JS, ["room", "page", {"reconnectDelay": 200}])
        async with AsyncClient(url, "room", "bot") as bot:
            rec = Recorder(bot)
            assert bot.host_id == "page"
            session = await page.evaluate("window.rtc.session")
            # the page's own connection breaks (as on a network change); the server has not noticed
            await page.evaluate("window.rtc.transport.onLost('transport broke (test)')")
            await page.wait_for_function(
                "window.log.filter((e) => e[0] === 'open').length === 2",
                timeout=20_000,
                polling=100,
            )
            assert await page.evaluate("window.rtc.session") == session
            assert await page.evaluate("window.rtc.isRoomHost()") is True
            await page.evaluate("window.rtc.sendMessage('still the host')")
            assert await rec.expect("message") == ("page", "still the host", None)
            assert bot.host_id == "page"
            assert [k for k, _ in rec.history if k in ("left", "joined")] == []
