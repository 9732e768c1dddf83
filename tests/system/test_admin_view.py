"""The live admin view (/admin) in real headless Chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from browser_support import chromium, needs_chromium
from conftest import Recorder
from peerpyrtc import AsyncClient

pytestmark = [pytest.mark.browser, needs_chromium]

TOKEN = "admin-view-token-0123456789"
IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"


async def test_the_admin_view_shows_rooms_live_and_removes_a_peer(make_server: Any) -> None:
    server, manager = await make_server(
        admin_token=TOKEN, topology=lambda r: "mesh" if r == "game" else "relay"
    )
    ann = AsyncClient(server.url, "lobby", "ann", info={"name": "Ann"})
    bob = AsyncClient(server.url, "lobby", "bob", info={"name": "Bob"})
    cat = AsyncClient(server.url, "game", "cat", info={"name": "Cat"})
    rec = Recorder(bob)
    for client in (ann, bob, cat):
        await client.connect()
    try:
        async with chromium() as browser:
            page = await browser.new_page(viewport={"width": 900, "height": 560})
            await page.goto(server.url + "/admin")
            await page.get_by_label("Admin token").fill("wrong-token-0123456789")
            await page.get_by_role("button", name="Sign in").click()
            await page.get_by_role("status").filter(has_text="wrong admin token").wait_for()
            await page.get_by_label("Admin token").fill(TOKEN)
            await page.get_by_role("button", name="Sign in").click()
            await page.get_by_role("status").filter(has_text="Live").wait_for()
            lobby = page.get_by_role("region", name="room lobby")
            await lobby.get_by_text("lobby · relay · 2 peer(s)").wait_for()
            assert "host" in await lobby.get_by_role("row", name="peer ann").inner_text()
            assert "host" not in await lobby.get_by_role("row", name="peer bob").inner_text()
            game = page.get_by_role("region", name="room game")
            assert "direct" in await game.get_by_role("row", name="peer cat").inner_text()
            for i in range(30):  # traffic shows up as a rate (per second, between two polls)
                await ann.send_message(f"m{i}")
            await page.wait_for_function(
                "Number(document.getElementById('rate-out').textContent) > 0", polling=100
            )
            await page.screenshot(path=IMAGES / "admin.png")
            row = lobby.get_by_role("row", name="peer bob")
            await row.get_by_label("reason for removing bob").fill("see you later")
            await row.get_by_role("button", name="remove bob").click()
            assert await rec.expect("close") == "see you later"
            await lobby.get_by_text("lobby · relay · 1 peer(s)").wait_for()
            assert [p["id"] for p in manager.get_room_peers("lobby")] == ["ann"]
    finally:
        for client in (ann, bob, cat):
            await client.close()
