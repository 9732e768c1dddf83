"""What the docs promise on day one: closing, leaving hosts, kicks, quiet shutdowns, versions."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

import peerpyrtc
from browser_support import BLANK_PAGE, chromium, needs_chromium
from conftest import TIMEOUT, Recorder
from peerpyrtc import AsyncClient, AsyncSignalingManager, SignalingManager, start_server

ROOT = Path(__file__).resolve().parents[2]


async def test_on_close_fires_after_the_clients_own_close(make_server: Any) -> None:
    """Same lifecycle as the browser's onClose: once, with "closed"."""
    server, _ = await make_server()
    client = AsyncClient(server.url, "r", "p")
    rec = Recorder(client)
    await client.connect()
    await client.close()
    await client.close()  # idempotent: no second on_close
    assert [v for k, v in rec.history if k == "close"] == ["closed"]
    never = AsyncClient(server.url, "r", "q")
    never_rec = Recorder(never)
    await never.close()  # never connected: nothing to report
    assert never_rec.history == []


@pytest.mark.parametrize("facade", ["async", "sync"])
async def test_kick_removes_a_peer_that_sees_why_and_stays_out(facade: str) -> None:
    sync = SignalingManager() if facade == "sync" else None
    loop_of_manager = sync.loop if sync is not None else asyncio.get_running_loop()
    manager = sync.async_manager if sync is not None else AsyncSignalingManager()
    server = await asyncio.wrap_future(
        asyncio.run_coroutine_threadsafe(start_server(manager), loop_of_manager)
    )
    target = AsyncClient(server.url, "r", "mallory", reconnect_delay=0.05)
    watcher = AsyncClient(server.url, "r", "watcher")
    rt, rw = Recorder(target), Recorder(watcher)
    reconnected: list[bool] = []
    target.on_reconnect = lambda: reconnected.append(True)
    try:
        await target.connect()
        await watcher.connect()
        if sync is not None:
            assert await asyncio.to_thread(sync.kick, "r", "mallory", "spam") is True
            assert await asyncio.to_thread(sync.kick, "r", "nobody", "spam") is False
        else:
            assert await manager.kick("r", "mallory", "spam") is True
            assert await manager.kick("r", "nobody", "spam") is False
        assert await rt.expect("close") == "spam"
        left = await rw.expect("left")
        assert (left["id"], left.get("isHost")) == ("mallory", True)
        assert watcher.is_host
        await watcher.ping()  # a round trip later, still out and not coming back
        assert reconnected == [] and not target.connected
        assert [p["id"] for p in watcher.peers] == ["watcher"]
    finally:
        await target.close()
        await watcher.close()
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(server.close(), loop_of_manager))
        if sync is not None:
            await asyncio.to_thread(sync.close)
        else:
            await manager.close()


async def test_peers_leaving_at_once_leave_nothing_on_stderr() -> None:
    """No "Task exception was never retrieved" (the deferred SACK on a shut-down DTLS)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "peerpyrtc", "serve", "--port", "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), TIMEOUT)).decode()
        url = re.search(r"serving on (http://\S+)", line).group(1)  # type: ignore[union-attr]
        for round_ in range(16):  # a race: the old code failed in most runs of 8
            clients = [AsyncClient(url, "r", f"p{round_}-{i}") for i in range(10)]
            await asyncio.gather(*(c.connect() for c in clients))
            for c in clients:  # everyone is sending when everyone leaves
                for j in range(30):
                    await c.send_message(f"{j}" * 200)
            half = len(clients) // 2
            await asyncio.gather(
                *(c.close() for c in clients[:half]),  # with a goodbye
                *(c.connection.close() for c in clients[half:] if c.connection),  # no goodbye
            )
            for c in clients[half:]:
                await c.close()
    finally:
        proc.send_signal(signal.SIGINT)
        await asyncio.wait_for(proc.wait(), TIMEOUT)
    err = (await proc.stderr.read()).decode()
    assert "Traceback" not in err and "exception was never retrieved" not in err, err[-3000:]


@pytest.mark.browser
@needs_chromium
async def test_a_page_is_told_the_role_a_leaving_host_had() -> None:
    manager = AsyncSignalingManager()
    server = await start_server(manager, index_html=BLANK_PAGE)
    try:
        async with chromium() as browser:
            pages = [await browser.new_page() for _ in range(2)]
            for page, peer_id in zip(pages, ("host", "guest"), strict=True):
                await page.goto(server.url)
                await page.evaluate(
                    """async (id) => {
                      const { WebRTCConnection } = window.WebRTCConnection;
                      window.rtc = new WebRTCConnection('r', { peerId: id });
                      rtc.onPeerLeft = (p) => record('left', p.id, p.isHost, rtc.hostId);
                      await rtc.connect();
                    }""",
                    peer_id,
                )
            await pages[0].evaluate("rtc.closeConnection()")
            await pages[1].wait_for_function("window.log.length > 0", polling=50)
            # the role it had when it left; the room's host is the guest after that
            assert await pages[1].evaluate("window.log[0]") == ["left", "host", True, "guest"]
            assert await pages[1].evaluate("rtc.isRoomHost()") is True
    finally:
        await server.close()
        await manager.close()


def test_one_version_for_both_packages_above_the_seed() -> None:
    from importlib.metadata import version

    from packaging.version import Version

    package = json.loads((ROOT / "client" / "package.json").read_text())
    # one version, each in its ecosystem's spelling (PEP 440 "0.4.0.dev0", semver "0.4.0-dev.0")
    assert Version(package["version"]) == Version(peerpyrtc.__version__)
    assert str(Version(peerpyrtc.__version__)) == peerpyrtc.__version__  # already normalized
    assert Version(peerpyrtc.__version__) > Version("0.3.0")  # above the last release
    assert version("peerpyrtc") == peerpyrtc.__version__  # pyproject reads it from the package
    bundle = (peerpyrtc.client_dir() / "peerpyrtc.esm.js").read_text()
    assert bundle.startswith(f"/* peerpyrtc-client {package['version']} ")
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert f"## {Version(peerpyrtc.__version__).base_version} " in changelog
    assert "## 0.3.0 " in changelog


def test_cli_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    from peerpyrtc.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"peerpyrtc {peerpyrtc.__version__}"


def test_every_documented_admin_token_is_one_the_server_accepts() -> None:
    """A token copied from the docs must start a server (16 characters at least)."""
    docs = [ROOT / "README.md", ROOT / "client" / "README.md", *(ROOT / "docs").rglob("*.md")]
    docs += list((ROOT / "examples").rglob("*.py"))
    literal = re.compile(r"""(?:admin_token\s*=\s*|--admin-token[ =])["']?([A-Za-z0-9_.~+-]+)""")
    found = 0
    for doc in docs:
        for token in literal.findall(doc.read_text()):
            if token.isupper() or token in ("...", "TOKEN"):  # a placeholder, not an example
                continue
            found += 1
            assert len(token) >= 16, f"{doc.name}: admin token {token!r} would be refused"
            AsyncSignalingManager(admin_token=token)  # accepted as documented
    with pytest.raises(ValueError, match="16"):
        AsyncSignalingManager(admin_token="s3cret")
    # the check finds literals: the README's own recipe and the deploy guide use none
    assert literal.findall('AsyncSignalingManager(admin_token="s3cret")') == ["s3cret"]


def test_security_limits_table_is_made_from_limits() -> None:
    import limits_doc
    from peerpyrtc import Limits

    assert limits_doc.current() == limits_doc.render()  # `python tests/limits_doc.py` updates it
    table = limits_doc.current()
    for field in dataclasses.fields(Limits):  # every field, with its default as rendered
        value = limits_doc.render_default(field.name, getattr(Limits(), field.name))
        assert f"| `{field.name}` | {value} |" in table
    assert limits_doc.render_default("max_early_candidates", 16) == "16"
    assert limits_doc.render_default("byte_burst", 4 << 20) == "4 MiB"
    assert limits_doc.render_default("max_bytes_per_second", 512 * 1024.0) == "512 KiB/s"


def _declared(dts: str, block: str) -> set[str]:
    """Member names of one `interface`/`class` block of index.d.ts (not the constructor)."""
    body = re.search(block + r"[^{]*\{(.*?)\n\}", dts, re.S)
    assert body is not None, block
    names = set(re.findall(r"^  (?:readonly )?(\w+)[?<(:]", body.group(1), re.M))
    return names - {"constructor"}


def test_client_readme_names_everything_index_d_ts_declares() -> None:
    dts = (ROOT / "client" / "index.d.ts").read_text()
    readme = (ROOT / "client" / "README.md").read_text()
    wanted = {
        "option": _declared(dts, r"export interface ConnectionOptions"),
        "error code": set(re.findall(r"\| '(ERR_\w+)'", dts)),
        "WebRTCConnection member": _declared(dts, r"export declare class WebRTCConnection"),
        "WebRTCRoomManager member": _declared(dts, r"export declare class WebRTCRoomManager"),
        "lifecycle event": set(re.findall(r"^  '?([\w-]+)'?: \[", dts, re.M)),
        "export": set(re.findall(r"^export declare (?:const|function|class) (\w+)", dts, re.M)),
    }
    assert len(wanted["option"]) >= 17 and "ERR_ROOM_FULL" in wanted["error code"]
    assert {"topology", "hostId", "closeReason", "peerId", "once"} <= wanted[
        "WebRTCConnection member"
    ]
    assert "offRoom" in wanted["WebRTCRoomManager member"]
    missing = {
        kind: sorted(n for n in names if f"`{n}" not in readme and f"'{n}'" not in readme)
        for kind, names in wanted.items()
    }
    assert {kind: names for kind, names in missing.items() if names} == {}
    # a non-string sendMessage arrives as its JSON text: the README says so
    assert "sendMessage(object)" in readme and "JSON string" in readme
