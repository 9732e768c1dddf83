"""The seed README's Flask code, verbatim, served by a real werkzeug server.

``tests/seed/*.py`` are exact copies of the seed README's blocks (checked
below when the seed is beside the repository); three real AsyncClients join.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import TIMEOUT, Recorder
from peerpyrtc import AsyncClient, SignalingError
from seedapp import SEED_DIR, Served, load

SEED_README = Path(__file__).resolve().parents[3] / "shared" / "seed" / "README.md"


@pytest.fixture
def quickstart() -> Iterator[Served]:
    served = Served(load("quickstart_app"))
    yield served
    served.close()


@pytest.fixture
async def clients() -> AsyncIterator[list[AsyncClient]]:
    made: list[AsyncClient] = []
    yield made
    await asyncio.gather(*(c.close() for c in made))


@pytest.mark.skipif(not SEED_README.exists(), reason="the seed README is not beside the repository")
def test_the_copies_are_verbatim() -> None:
    blocks = re.findall(r"```python\n(.*?)```", SEED_README.read_text(), re.S)
    for name in ("quickstart_app", "production_app"):
        assert (SEED_DIR / f"{name}.py").read_text() in blocks


async def test_seed_quickstart_relays_presence_and_host(
    quickstart: Served, clients: list[AsyncClient], capsys: pytest.CaptureFixture[str]
) -> None:
    loop = asyncio.get_running_loop()
    events: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    manager = quickstart.module.signaling_manager

    # registered after the seed's own handlers: they run after them (FIFO tasks)
    @manager.peer_joined_handler
    async def joined(room: str, peer_id: str, info: dict[str, Any]) -> None:
        loop.call_soon_threadsafe(events.put_nowait, ("joined", peer_id))

    @manager.peer_left_handler
    async def left(room: str, peer_id: str, info: dict[str, Any]) -> None:
        loop.call_soon_threadsafe(events.put_nowait, ("left", peer_id))

    @manager.message_handler
    async def message(room: str, peer_id: str, text: str) -> None:
        loop.call_soon_threadsafe(events.put_nowait, ("message", text))

    async def next_event() -> tuple[str, str]:
        return await asyncio.wait_for(events.get(), TIMEOUT)

    a = AsyncClient(quickstart.url, "lobby", "alice")
    clients.append(a)
    await a.connect()
    assert await next_event() == ("joined", "alice")
    rest = [AsyncClient(quickstart.url, "lobby", name) for name in ("bob", "carol")]
    clients.extend(rest)
    await asyncio.gather(*(c.connect() for c in rest))  # two offers on two werkzeug threads
    joins = [await next_event(), await next_event()]
    assert sorted(joins) == [("joined", "bob"), ("joined", "carol")]
    second = joins[0][1]  # the two joined concurrently: the server decided the order
    b, c = rest
    rb, rc = Recorder(b), Recorder(c)

    await a.send_message("hello from alice")
    assert await rb.expect("message") == ("alice", "hello from alice", None)
    assert await rc.expect("message") == ("alice", "hello from alice", None)
    assert await next_event() == ("message", "hello from alice")

    info = await asyncio.to_thread(manager.rooms_info)
    assert info["lobby"]["peer_count"] == 3 and info["lobby"]["host_id"] == "alice"
    peers = await asyncio.to_thread(manager.get_room_peers, "lobby")
    assert [p["isHost"] for p in peers] == [True, False, False]
    assert a.is_host and not b.is_host and len(c.peers) == 3

    await a.close()  # the seed's /leave route is posted too; the host leaves
    assert (await rb.expect("left"))["id"] == "alice"
    assert (await rc.expect("left"))["id"] == "alice"
    assert await next_event() == ("left", "alice")
    assert b.host_id == c.host_id == second  # the longest-present peer took over
    assert (b.is_host, c.is_host) == (second == "bob", second == "carol")
    info = await asyncio.to_thread(manager.rooms_info)
    assert info["lobby"]["host_id"] == second and info["lobby"]["peer_count"] == 2

    out = capsys.readouterr().out
    assert "🟢 alice joined lobby" in out and "🔴 alice left lobby" in out
    assert "Message in lobby from alice: hello from alice" in out

    # the backend speaks through the sync facade, from a plain thread
    assert await asyncio.to_thread(manager.send_message, "lobby", "server here") == 2
    assert await rc.expect("message") == ("server", "server here", None)


async def test_seed_quickstart_answers_a_taken_id_with_an_error(
    quickstart: Served, clients: list[AsyncClient]
) -> None:
    a = AsyncClient(quickstart.url, "lobby", "alice")
    clients.append(a)
    await a.connect()
    with pytest.raises(SignalingError) as info:
        await AsyncClient(quickstart.url, "lobby", "alice").connect()
    assert info.value.status == 500  # the seed's plain route has no error handling: Flask's 500
    assert "not JSON" in str(info.value)


async def test_seed_production_example_maps_missing_fields(clients: list[AsyncClient]) -> None:
    served = Served(load("production_app"))
    try:
        a = AsyncClient(served.url, "room", "alice")
        clients.append(a)
        await a.connect()
        assert a.connected and a.is_host
        from peerpyrtc._client.http import post_json

        with pytest.raises(SignalingError, match="Missing required parameters") as info:
            await post_json(served.url + "/offer", {"room": "x"})
        assert info.value.status == 400
    finally:
        await asyncio.gather(*(c.close() for c in clients))
        clients.clear()
        served.close()


@pytest.mark.browser
@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs Debian's chromium")
async def test_browser_client_on_the_seed_routes(
    quickstart: Served, clients: list[AsyncClient]
) -> None:
    """The seed's Flask routes, unchanged, serve the browser client (page and bundle added)."""
    from flask import send_from_directory

    import peerpyrtc
    from browser_support import BLANK_PAGE, JOIN_JS, chromium, messages

    app = quickstart.module.app
    app.add_url_rule("/", "page", lambda: BLANK_PAGE)
    app.add_url_rule(
        "/peerpyrtc/<path:name>",
        "bundle",
        lambda name: send_from_directory(peerpyrtc.client_dir(), name),
    )
    bot = AsyncClient(quickstart.url, "lobby", "bot")
    clients.append(bot)
    rec = Recorder(bot)
    await bot.connect()
    async with chromium() as browser:
        page = await browser.new_page()
        await page.goto(quickstart.url)
        peers = await page.evaluate(JOIN_JS, ["lobby", "page", None])
        assert peers == [["bot", True], ["page", False]]
        await page.evaluate("rtc.sendMessage('hi from the page')")
        assert await rec.expect("message") == ("page", "hi from the page", None)
        await bot.emit("reply", {"ok": True})
        assert await messages(page, 1) == [["bot", {"ok": True}, "reply"]]
        await page.evaluate("rtc.closeConnection()")
        assert (await rec.expect("left"))["id"] == "page"
