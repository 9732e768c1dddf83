"""docs/deploy.md as written: nginx (Debian's) with docs/deploy/nginx.conf in front of
``peerpyrtc serve``, pages over HTTPS in Chromium; and the client address behind it."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from browser_support import JOIN_JS, chromium, messages, needs_chromium
from certs import chromium_wrapper, make_certificate
from conftest import http_request, same_package, until
from peerpyrtc import AsyncSignalingManager, start_server
from peerpyrtc._web.server import client_address

HERE = Path(__file__).resolve().parents[1]  # tests/: the helper scripts
HOST = "rtc.test"
RECORDER = "window.log = []; window.record = (kind, ...args) => window.log.push([kind, ...args]);"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def listening(port: int, proc: asyncio.subprocess.Process) -> bool:
    """Whether something accepts on ``port`` (nginx says nothing when it does)."""
    assert proc.returncode is None, "it ended before listening"
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@asynccontextmanager
async def nginx(folder: Path, app_port: int) -> AsyncIterator[tuple[int, Path]]:
    """nginx with docs/deploy/nginx.conf (placeholders filled in); yields (port, CA)."""
    if shutil.which("nginx") is None:
        pytest.fail("nginx is not installed (apt-get install -y nginx)")
    ca, cert, key = make_certificate(folder, HOST)
    port = free_port()
    site = (HERE.parent / "docs" / "deploy" / "nginx.conf").read_text()
    for old, new in (("/etc/letsencrypt/live/rtc.example.org/fullchain.pem", str(cert)),
                     ("/etc/letsencrypt/live/rtc.example.org/privkey.pem", str(key)),
                     ("rtc.example.org", HOST), ("listen 443 ", f"listen 127.0.0.1:{port} "),
                     ("127.0.0.1:5000", f"127.0.0.1:{app_port}")):  # fmt: skip
        assert old in site, old
        site = site.replace(old, new)
    (folder / "site.conf").write_text(site)
    temp = " ".join(f"{kind}_temp_path {folder / kind};" for kind in
                    ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))  # fmt: skip
    (folder / "nginx.conf").write_text(
        f"pid {folder / 'nginx.pid'};\nerror_log stderr;\nevents {{}}\n"
        f"http {{ access_log off; {temp} include {folder / 'site.conf'}; }}\n"
    )
    proc = await asyncio.create_subprocess_exec(
        "nginx", "-p", str(folder), "-c", str(folder / "nginx.conf"), "-g", "daemon off;",
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        await until(lambda: listening(port, proc), 20)
        yield port, ca
    finally:
        if proc.returncode is None:
            proc.terminate()
        _, err = await proc.communicate()
        assert b"[emerg]" not in err, err.decode()


@pytest.mark.browser
@needs_chromium
async def test_pages_chat_through_nginx_configured_as_documented(tmp_path: Path) -> None:
    app_port = free_port()
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "peerpyrtc", "serve", "--host", "127.0.0.1", "--port",
        str(app_port), "--trust-proxy", "127.0.0.1",
        stdout=asyncio.subprocess.PIPE, env=same_package(),
    )  # fmt: skip
    try:
        assert server.stdout is not None  # it says when it serves
        line = await asyncio.wait_for(server.stdout.readline(), 20)
        assert b"serving on" in line, line
        async with nginx(tmp_path, app_port) as (port, ca):
            url = f"https://{HOST}:{port}/"
            browser_args = (f"--host-resolver-rules=MAP {HOST} 127.0.0.1",)
            wrapper = chromium_wrapper(tmp_path, "nginx", ca=ca)
            async with chromium(*browser_args, executable=wrapper) as browser:
                pages = []
                for name in ("ann", "bob"):
                    page = await browser.new_page()
                    response = await page.goto(url)  # the demo page, over HTTPS, through nginx
                    assert response is not None and response.ok
                    assert response.headers.get("server", "").startswith("nginx")
                    await page.evaluate(RECORDER)
                    pages.append(page)
                    await page.evaluate(JOIN_JS, ["deployed", name, {}])
                ann, bob = pages
                await ann.evaluate("window.rtc.sendMessage('hello bob')")
                assert await messages(bob, 1) == [["ann", "hello bob", None]]
                await bob.evaluate("window.rtc.sendMessage('hello ann')")
                assert await messages(ann, 1) == [["bob", "hello ann", None]]
                status = await ann.evaluate(
                    "fetch('/ice', {method: 'POST', headers: {'Content-Type': 'application/json'}, "
                    "body: JSON.stringify({room: 'deployed', peer_id: 'ann'})}).then((r) => r.status)"
                )
                assert status == 200
    finally:
        if server.returncode is None:
            server.terminate()
        await server.wait()


def test_only_a_trusted_proxy_may_name_the_client() -> None:
    import ipaddress

    trusted = [ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.0.0.0/8")]
    xff = {"x-forwarded-for": "198.51.100.7, 10.1.2.3"}
    assert client_address("127.0.0.1", xff, trusted) == "198.51.100.7"  # past both proxies
    assert client_address("203.0.113.9", xff, trusted) == "203.0.113.9"  # not a proxy: ignored
    assert client_address("127.0.0.1", {}, trusted) == "127.0.0.1"
    assert client_address("127.0.0.1", {"x-forwarded-for": "nonsense"}, trusted) == "127.0.0.1"
    assert client_address("127.0.0.1", {"x-forwarded-for": "10.0.0.1"}, trusted) == "127.0.0.1"
    assert client_address("127.0.0.1", xff, []) == "127.0.0.1"  # nobody trusted by default
    spoofed = {"x-forwarded-for": "1.2.3.4, 198.51.100.7"}  # the client wrote the first one
    assert client_address("127.0.0.1", spoofed, trusted) == "198.51.100.7"


async def test_hooks_see_the_address_a_trusted_proxy_names() -> None:
    manager = AsyncSignalingManager(turn_secret="s" * 20, turn_urls=["turn:turn.test:3478"])
    seen: list[Any] = []  # (/ice asks authorize when there are credentials to mint)

    @manager.authorize
    def authorize(room: str, peer_id: str, metadata: dict[str, Any]) -> bool:
        seen.append(metadata["remote_addr"])
        return False

    body = json.dumps({"room": "r", "peer_id": "p"}).encode()
    for trusted, expected in (([], "127.0.0.1"), (["127.0.0.1"], "198.51.100.7")):
        server = await start_server(manager, trusted_proxies=trusted)
        try:
            headers = {"X-Forwarded-For": "198.51.100.7"}
            status, _, _ = await http_request(server.url + "/ice", "POST", body, headers)
            assert status == 403
            assert seen[-1] == expected
        finally:
            await server.close()
    await manager.close()
