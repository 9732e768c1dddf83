"""The README's quick start, pasted as is, works in two browser tabs."""

from __future__ import annotations

import importlib.util
import re
import threading
from pathlib import Path

import pytest

from browser_support import chromium

README = Path(__file__).resolve().parents[1] / "README.md"


def quick_start_source() -> str:
    text = README.read_text()
    section = text.split("## Quick start", 1)[1]
    return re.findall(r"```python\n(.*?)```", section, re.S)[0]


@pytest.mark.browser
@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs Debian's chromium")
async def test_readme_quick_start_in_two_tabs(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    from werkzeug.serving import make_server

    app_file = tmp_path / "app.py"
    app_file.write_text(quick_start_source())
    spec = importlib.util.spec_from_file_location("readme_app", app_file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    server = make_server("127.0.0.1", 0, module.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/"
    try:
        async with chromium() as browser:
            first = await browser.new_page()
            await first.goto(url)
            await first.wait_for_function(
                "typeof rtc !== 'undefined' && rtc.isConnected()", polling=50
            )
            second = await browser.new_page()
            await second.goto(url)
            await second.wait_for_function(
                "typeof rtc !== 'undefined' && rtc.isConnected()", polling=50
            )
            first_id = await first.evaluate("rtc.peerId")
            second_id = await second.evaluate("rtc.peerId")
            # the README's words: "each tab's greeting appears in the other"
            await first.wait_for_function(
                f"document.body.innerText.includes('{second_id}: Hello from {second_id}')",
                polling=50,
            )
            await second.wait_for_function(
                f"document.body.innerText.includes('{first_id}: Hello from {first_id}')",
                polling=50,
            )
            await second.evaluate("rtc.closeConnection()")
            await first.evaluate("rtc.closeConnection()")
        out = capfd.readouterr().out  # "the terminal prints every message"
        assert f"Message in lobby from {second_id}: Hello from {second_id}" in out
        assert f"Message in lobby from {first_id}: Hello from {first_id}" in out
        assert f"{first_id} joined lobby" in out and f"{second_id} joined lobby" in out
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
        module.signaling_manager.close()


CLIENT_README = README.parent / "client" / "README.md"


def client_snippet() -> str:
    return re.findall(r"```js\n(.*?)```", CLIENT_README.read_text(), re.S)[0]


@pytest.mark.browser
@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs Debian's chromium")
async def test_client_readme_snippet_as_written() -> None:
    """Everything it sends arrives, though it closes right after sending (what its comments say)."""
    from browser_support import BLANK_PAGE
    from conftest import Recorder
    from peerpyrtc import AsyncClient, AsyncSignalingManager, start_server

    source = client_snippet()
    module_import = "import { WebRTCConnection } from 'peerpyrtc-client';"
    assert module_import in source
    # the package name resolves to the ESM bundle the server ships; nothing else changes
    page_module = source.replace(
        module_import, "import { WebRTCConnection } from '/peerpyrtc/peerpyrtc.esm.js';"
    )
    manager = AsyncSignalingManager()
    server = await start_server(manager, index_html=BLANK_PAGE)
    peer2 = AsyncClient(server.url, "game-room", "peer-2")
    rec = Recorder(peer2)
    await peer2.connect()
    try:
        async with chromium() as browser:
            page = await browser.new_page()
            await page.goto(server.url)
            await page.add_script_tag(
                content=page_module + "\nwindow.snippetDone = true;", type="module"
            )
            await page.wait_for_function("window.snippetDone === true", polling=50, timeout=15_000)
            got = [await rec.expect("message") for _ in range(3)]
            sender = got[0][0]
            assert got == [
                (sender, {"x": 5, "y": 3}, "player-move"),
                (sender, {"level": 1}, "game-start"),
                (sender, "hi", "whisper"),
            ]
            joined = [v for k, v in rec.history if k == "joined"]
            assert joined[0]["id"] == sender and joined[0]["name"] == "Ann"  # peerInfo shown
            assert (await rec.expect("left"))["id"] == sender  # closeConnection() left the room
    finally:
        await peer2.close()
        await server.close()
        await manager.close()
