"""The README's quick start, pasted as is, works in two browser tabs."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from browser_support import chromium

README = Path(__file__).resolve().parents[2] / "README.md"


def quick_start_source() -> str:
    text = README.read_text()
    section = text.split("## Quick start", 1)[1]
    return re.findall(r"```python\n(.*?)```", section, re.S)[0]


def quick_start_install() -> str:
    section = README.read_text().split("## Quick start", 1)[1]
    return re.findall(r"```bash\n(.*?)```", section, re.S)[0]


def test_quick_start_installs_this_version_not_the_index_prototype() -> None:
    import peerpyrtc

    install = quick_start_install()
    assert "pip install '.[flask]'" in install  # the checkout, never the index's 0.2.x
    assert re.search(r"pip install peerpyrtc\b(?!\[)", install) is None
    assert f"peerpyrtc {peerpyrtc.__version__}" in install
    text = README.read_text().split("## Quick start", 1)[1].split("```", 1)[0]
    assert peerpyrtc.__version__ in text and "0.2.2" in text  # says which is which


# Runs the Quick start's app (whatever a fresh venv installed) on a free port, then prints it.
LAUNCHER = """import app
from werkzeug.serving import make_server
server = make_server("127.0.0.1", 0, app.app, threaded=True)
print("serving on", server.server_port, flush=True)
server.serve_forever()
"""


@pytest.mark.browser
@pytest.mark.install
@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs Debian's chromium")
async def test_readme_install_in_a_fresh_venv_then_quick_start(tmp_path: Path) -> None:
    """A new user's first minutes: the Quick start's install lines, run as written in a copy
    of the repository, give a venv where the Quick start's app.py works in two tabs."""
    checkout = tmp_path / "peerpyrtc"
    root = README.parent
    listed = await asyncio.to_thread(
        subprocess.run, ["git", "ls-files", "-co", "--exclude-standard"], cwd=root,
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    files = listed.stdout.split()
    for name in files:
        if (root / name).is_file():
            (checkout / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / name, checkout / name)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(sys.prefix)
    )
    install = await asyncio.to_thread(
        subprocess.run, ["bash", "-euo", "pipefail", "-c", quick_start_install()],
        cwd=checkout, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-3000:]
    import peerpyrtc

    assert f"peerpyrtc {peerpyrtc.__version__}" in install.stdout
    (checkout / "app.py").write_text(quick_start_source())
    (checkout / "launch.py").write_text(LAUNCHER)
    proc = await asyncio.create_subprocess_exec(
        str(checkout / ".venv" / "bin" / "python"), "launch.py", cwd=checkout, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        assert line.startswith("serving on"), line
        url = f"http://127.0.0.1:{line.split()[-1]}/"
        first_id, second_id = await two_tabs_greet(url)
        want = [f"Message in lobby from {i}: Hello from {i}" for i in (first_id, second_id)]
        seen = ""
        while not all(w in seen for w in want):
            seen += (await asyncio.wait_for(proc.stdout.readline(), 10)).decode()
    finally:
        proc.terminate()
        await proc.wait()


async def two_tabs_greet(url: str) -> tuple[str, str]:
    """Two tabs open the Quick start's page; each shows the other's greeting. Their ids."""
    async with chromium() as browser:
        pages, ids = [], []
        for _ in range(2):
            page = await browser.new_page()
            errors: list[str] = []  # every failed request (the favicon aside) and console error
            page.on("console", lambda m, e=errors: e.append(m.text) if m.type == "error" else None)
            page.on(
                "response",
                lambda r, e=errors: e.append(f"{r.status} {r.url}")
                if r.status >= 400 and not r.url.endswith("/favicon.ico") else None,
            )  # fmt: skip
            await page.goto(url)
            await page.wait_for_function(
                "typeof rtc !== 'undefined' && rtc.isConnected()", polling=50
            )
            pages.append((page, errors))
            ids.append(await page.evaluate("rtc.peerId"))
        for (page, _), other in ((pages[0], ids[1]), (pages[1], ids[0])):
            # the README's words: "each tab's greeting appears in the other"
            await page.wait_for_function(
                f"document.body.innerText.includes('{other}: Hello from {other}')", polling=50
            )
        for page, errors in pages:
            await page.evaluate("rtc.closeConnection()")
            requests = [e for e in errors if not e.startswith("Failed to load resource")]
            assert requests == [], requests  # no 404 for /ice, nothing else either
            assert len(errors) <= 1  # at most the favicon's 404 line
    return ids[0], ids[1]


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
        first_id, second_id = await two_tabs_greet(url)
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
