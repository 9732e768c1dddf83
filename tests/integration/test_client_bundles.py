"""The package ships the browser client, and what it ships is a fresh build."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

import peerpyrtc

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "client"


def test_client_dir_holds_both_bundles() -> None:
    folder = peerpyrtc.client_dir()
    for name in ("peerpyrtc.umd.js", "peerpyrtc.esm.js"):
        text = (folder / name).read_text()
        assert "WebRTCRoomManager" in text and "peerpyrtc-client" in text


@pytest.mark.skipif(
    not (CLIENT / "node_modules" / "esbuild").exists() and not os.environ.get("CI"),
    reason="run `npm ci` in client/ first (CI always does)",
)
def test_shipped_bundles_equal_a_fresh_build(tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node, "node is needed to build the client"
    subprocess.run(
        [node, "scripts/build.mjs", str(tmp_path)],
        cwd=CLIENT,
        check=True,
        capture_output=True,
        timeout=120,
    )
    for name in ("peerpyrtc.umd.js", "peerpyrtc.esm.js"):
        fresh = (tmp_path / name).read_bytes()
        shipped = (peerpyrtc.client_dir() / name).read_bytes()
        assert fresh == shipped, f"{name} is stale: run `npm run build` in client/ and commit"


async def test_the_server_serves_the_bundles() -> None:
    import asyncio

    manager = peerpyrtc.AsyncSignalingManager()
    server = await peerpyrtc.start_server(manager, prefix="/rtc")
    try:
        reader, writer = await asyncio.open_connection(server.host, server.port)
        writer.write(
            b"GET /rtc/peerpyrtc/peerpyrtc.umd.js HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        data = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        await writer.wait_closed()
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200") and b"text/javascript" in head
        assert body == (peerpyrtc.client_dir() / "peerpyrtc.umd.js").read_bytes()
        reader, writer = await asyncio.open_connection(server.host, server.port)
        writer.write(
            b"GET /rtc/peerpyrtc/../_server.py HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        data = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        await writer.wait_closed()
        assert data.startswith(b"HTTP/1.1 404")
    finally:
        await server.close()
        await manager.close()


def test_the_wheel_ships_the_client(tmp_path: Path) -> None:
    """`pip install peerpyrtc` alone gives a working page: the wheel carries both bundles."""
    import sys
    import zipfile

    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    [wheel] = tmp_path.glob("peerpyrtc-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("peerpyrtc.umd.js", "peerpyrtc.esm.js", "demo.html"):
        assert f"peerpyrtc/static/{name}" in names
    assert "peerpyrtc/py.typed" in names
