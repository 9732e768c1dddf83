"""``peerpyrtc serve`` and ``python -m peerpyrtc``, run as real subprocesses."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from browser_support import chromium, needs_chromium
from conftest import TIMEOUT, Recorder, http_request
from peerpyrtc import AsyncClient, client_dir


def test_help_explains_every_option() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "peerpyrtc", "serve", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for option in ("--host", "--port", "--ice-server", "--debug"):
        assert option in out
    assert "default: 127.0.0.1" in out and "default: 5000" in out and "default: none" in out


def test_console_script_is_installed() -> None:
    exe = shutil.which("peerpyrtc") or str(
        __import__("pathlib").Path(sys.executable).parent / "peerpyrtc"
    )
    out = subprocess.run([exe, "--help"], capture_output=True, text=True, check=True).stdout
    assert "serve" in out


def test_a_bad_ice_server_is_a_clear_usage_error() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "peerpyrtc", "serve", "--ice-server", "http://nope"],
        capture_output=True, text=True, timeout=TIMEOUT,
    )  # fmt: skip
    assert proc.returncode == 2 and "--ice-server" in proc.stderr and "Traceback" not in proc.stderr


TOKEN = "cli-admin-token-0123456789"


async def http_get(
    host: str, port: int, path: str, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    status, _, body = await http_request(f"http://{host}:{port}{path}", headers=headers)
    return status, body


def test_secrets_from_files_and_short_tokens_refused_with_a_recipe(tmp_path: Path) -> None:
    short = tmp_path / "short"
    short.write_text("s3cret\n")
    proc = subprocess.run(
        [sys.executable, "-m", "peerpyrtc", "serve", "--admin-token-file", str(short)],
        capture_output=True, text=True, timeout=TIMEOUT,
    )  # fmt: skip
    assert proc.returncode == 2 and "at least 16 characters" in proc.stderr
    assert "secrets.token_urlsafe" in proc.stderr and "s3cret" not in proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "peerpyrtc", "serve", "--turn-secret-file", str(tmp_path / "no")],
        capture_output=True, text=True, timeout=TIMEOUT,
    )  # fmt: skip
    assert proc.returncode == 2 and "--turn-secret-file: cannot read" in proc.stderr


async def test_serve_runs_the_routes_and_stops_cleanly_on_sigint(tmp_path: Path) -> None:
    token_file = tmp_path / "admin-token"
    token_file.write_text(TOKEN + "\n")  # as `echo TOKEN > file` writes it
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "peerpyrtc", "serve", "--port", "0",
        "--admin-token-file", str(token_file),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    cmdline = await asyncio.to_thread(Path(f"/proc/{proc.pid}/cmdline").read_text)
    assert TOKEN not in cmdline  # not in ps
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), TIMEOUT)).decode()
        url = re.search(r"serving on (http://\S+)", line).group(1)  # type: ignore[union-attr]
        host, port = url[len("http://") :].rsplit(":", 1)
        async with AsyncClient(url, "cli-room", "alice") as alice:
            bob = AsyncClient(url, "cli-room", "bob")
            rec = Recorder(bob)
            async with bob:
                await alice.send_message("through the CLI server")
                assert await rec.expect("message") == ("alice", "through the CLI server", None)
                status, body = await http_get(host, int(port), "/rooms")
                assert status == 401 and b"cli-room" not in body
                auth = {"Authorization": f"Bearer {TOKEN}"}
                status, body = await http_get(host, int(port), "/rooms", auth)
                assert status == 200 and json.loads(body)["cli-room"]["peer_count"] == 2
        status, body = await http_get(host, int(port), "/")
        assert status == 200 and b"PeerPyRTC chat" in body
        status, body = await http_get(host, int(port), "/peerpyrtc/peerpyrtc.esm.js")
        assert status == 200 and body == (client_dir() / "peerpyrtc.esm.js").read_bytes()
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), TIMEOUT) == 0
        assert proc.stderr is not None
        assert b"Traceback" not in await proc.stderr.read()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


@pytest.mark.browser
@needs_chromium
async def test_demo_page_chats_between_two_tabs() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "peerpyrtc", "serve", "--port", "0", stdout=asyncio.subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), TIMEOUT)).decode()
        url = re.search(r"serving on (http://\S+)", line).group(1)  # type: ignore[union-attr]
        async with chromium() as browser:
            pages: list[Any] = []
            for name in ("Ann", "Bob"):
                page = await browser.new_page()
                await page.goto(url)
                await page.get_by_label("Your name").fill(name)
                await page.get_by_role("button", name="Join").click()
                await page.get_by_role("status").filter(has_text="Connected to lobby").wait_for()
                pages.append(page)
            await pages[0].get_by_label("Message").fill("hello Bob")
            await pages[0].get_by_label("Message").press("Enter")
            await pages[1].get_by_text("Ann: hello Bob").wait_for()
            users = pages[1].get_by_role("list", name="Online users")
            assert await users.locator("li").count() == 2
            assert "host" in await users.locator("li").filter(has_text="Ann").inner_text()
    finally:
        proc.send_signal(signal.SIGINT)
        await asyncio.wait_for(proc.wait(), TIMEOUT)


async def test_json_logs_have_one_line_per_connection_event() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "peerpyrtc", "serve", "--port", "0", "--log-format", "json",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stderr is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), TIMEOUT)).decode()
        url = re.search(r"serving on (http://\S+)", line).group(1)  # type: ignore[union-attr]
        async with AsyncClient(url, "logged", "alice"):
            pass
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), TIMEOUT) == 0
        entries = [json.loads(x) for x in (await proc.stderr.read()).decode().splitlines()]
        events = [(e.get("event"), e.get("room"), e.get("peer"), e.get("reason")) for e in entries]
        assert ("joined", "logged", "alice", None) in events
        assert ("left", "logged", "alice", "left") in events
        assert all({"time", "level", "logger", "message"} <= e.keys() for e in entries)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def test_workers_split_the_per_address_limits_of_one_process() -> None:
    """With --workers N each worker allows an address 1/N (rounded up) of what one process
    does, so N workers on one port do not multiply a client's allowance by N."""
    from peerpyrtc import Limits
    from peerpyrtc.cli import PER_ADDRESS, per_worker

    limits = Limits(max_pending_per_address=20, max_peers_per_address=64)
    split = per_worker(limits, 3)
    assert (split.max_pending_per_address, split.max_peers_per_address) == (7, 22)
    assert split.max_ice_requests_per_minute == 10
    assert split.max_early_sessions_per_address == 20  # kept in Redis: cluster-wide already
    assert split.max_rooms == limits.max_rooms  # not a per-address limit
    assert per_worker(Limits(max_ice_requests_per_minute=0), 4).max_ice_requests_per_minute == 0
    assert all(getattr(per_worker(limits, 1000), name) >= 1 for name in PER_ADDRESS if
               getattr(limits, name) > 0)  # fmt: skip
