"""Real networks (issue 14), built per test in Linux network namespaces (tests/netlab.py):
a server behind a cloud's 1:1 NAT and a firewall, clients behind a home NAT, a client
network that drops all UDP and reaches the server only through coturn over TCP or TLS."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from browser_support import JOIN_JS, chromium, messages, needs_chromium
from certs import chromium_wrapper, make_certificate
from conftest import same_package, until
from netlab import PRIVATE_IP, PUBLIC_IP, Lab, internet

HERE = Path(__file__).resolve().parents[1]  # tests/: the helper scripts
URL = f"http://{PUBLIC_IP}:8080/"

RECORDER = "window.log = []; window.record = (kind, ...args) => window.log.push([kind, ...args]);"
PAIR_JS = """async () => {
  const stats = await window.rtc.transport.pc.getStats();
  const pair = [...stats.values()].find((s) => s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded');
  const local = stats.get(pair.localCandidateId), remote = stats.get(pair.remoteCandidateId);
  return { local: local.candidateType, relayProtocol: local.relayProtocol ?? null,
           remote: remote.address, remotePort: remote.port, remoteType: remote.candidateType };
}"""


async def serve(lab: Lab, *args: str) -> asyncio.subprocess.Process:
    """``peerpyrtc serve`` on the cloud VM (``srv``), listening on every address, port 8080."""
    proc = await asyncio.create_subprocess_exec(
        *lab.cmd("srv", sys.executable, "-m", "peerpyrtc", "serve", "--host", "0.0.0.0",
                 "--port", "8080", *args),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=same_package(),
    )  # fmt: skip
    assert proc.stdout is not None
    while True:
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        assert line, "peerpyrtc serve ended before serving"
        if "serving on" in line:
            return proc


@asynccontextmanager
async def server(lab: Lab, *args: str) -> AsyncIterator[asyncio.subprocess.Process]:
    proc = await serve(lab, *args)
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.terminate()
        await proc.wait()


async def python_peers(
    lab: Lab, role: str, config: dict[str, Any], env: Any = None
) -> list[dict[str, Any]]:
    """Run tests/netns_peer.py in ``role``'s namespace; its JSON events, once it is done."""
    proc = await asyncio.create_subprocess_exec(
        *lab.cmd(role, sys.executable, str(HERE / "netns_peer.py"), json.dumps({"url": URL, **config})),
        stdout=asyncio.subprocess.PIPE, env=env or same_package(),
    )  # fmt: skip
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]


def in_namespace(lab: Lab, role: str, folder: Path, ca: Path | None = None) -> str:
    """A Chromium inside ``role``'s network namespace (trusting ``ca``)."""
    return chromium_wrapper(folder, role, ca=ca, prefix=lab.cmd(role))


async def join_page(browser: Any, room: str, peer_id: str, options: Any = None) -> Any:
    page = await browser.new_page()
    await page.goto(URL)  # the demo chat page: it loads the client bundle
    await page.evaluate(RECORDER)
    assert await page.evaluate(JOIN_JS, [room, peer_id, options or {}]) == [[peer_id, True]]
    return page


FIREWALL = """
table inet firewall {{
  chain input {{
    type filter hook input priority filter; policy drop;
    iif "lo" accept
    tcp dport 8080 accept
    udp dport {ports} accept
  }}
}}"""


def events(found: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in found if e["event"] == kind]


@pytest.mark.browser
@needs_chromium
async def test_a_server_behind_one_to_one_nat_is_reached_at_its_public_address(
    tmp_path: Path,
) -> None:
    with internet() as lab:
        lab.nft("srv", FIREWALL.format(ports="50000"))  # the cloud's firewall: one UDP port
        async with (
            server(lab, "--public-ip", PUBLIC_IP, "--udp-port", "50000"),
            chromium(executable=in_namespace(lab, "home", tmp_path)) as browser,
        ):
            page = await join_page(browser, "nat", "page")
            pair = await page.evaluate(PAIR_JS)
            # the page, behind its home NAT, talks to the server's public address (the
            # server's answer announced it); the page's own side is its NAT's mapping
            assert (pair["remote"], pair["remotePort"], pair["remoteType"]) == (
                PUBLIC_IP,
                50000,
                "host",
            )
            assert pair["local"] in ("host", "prflx")
            peers = asyncio.ensure_future(
                python_peers(lab, "home", {"room": "nat", "ids": ["py"], "expect": ["page"]})
            )
            assert await messages(page, 1, 30_000) == [["py", "hi from py", None]]
            await page.evaluate("window.rtc.sendMessage('hi from page')")
            found = await peers
            (connected,) = events(found, "connected")
            assert connected["pair"]["remote"] == [PUBLIC_IP, 50000]
            assert events(found, "heard") == [{"event": "heard", "id": "py", "from": ["page"]}]
            assert await page.evaluate("window.rtc.getConnectionStatus()") == "connected"


async def test_without_public_ip_a_server_behind_nat_cannot_be_reached() -> None:
    with internet() as lab:
        async with server(lab):
            found = await python_peers(lab, "home", {"room": "nat", "ids": ["py"], "timeout": 5})
            (failed,) = events(found, "failed")
            assert failed["code"] == "ERR_CONNECTION_FAILED"  # it announced 10.0.1.2: unreachable


@pytest.mark.parametrize(
    ("options", "open_ports", "check"),
    [
        (["--udp-ports", "50000-50019"], "50000-50019", lambda port: 50000 <= port <= 50019),
        (["--udp-port", "50000"], "50000", lambda port: port == 50000),
    ],
    ids=["port-range", "single-port"],
)
async def test_ten_clients_connect_through_a_firewall_open_only_for_the_ice_ports(
    options: list[str], open_ports: str, check: Any
) -> None:
    with internet() as lab:
        lab.nft("srv", FIREWALL.format(ports=open_ports))
        async with server(lab, "--public-ip", PUBLIC_IP, *options):
            ids = [f"p{i}" for i in range(10)]
            found = await python_peers(lab, "home", {"room": "fw", "ids": ids})
            connected = events(found, "connected")
            assert sorted(e["id"] for e in connected) == ids, found
            assert all(check(e["pair"]["remote"][1]) for e in connected), connected
            heard = events(found, "heard")
            assert {e["id"]: e["from"] for e in heard} == {
                i: [j for j in ids if j != i] for i in ids
            }


async def test_the_same_firewall_stops_a_server_that_binds_any_port() -> None:
    with internet() as lab:
        lab.nft("srv", FIREWALL.format(ports="50000-50019"))
        async with server(lab, "--public-ip", PUBLIC_IP):
            found = await python_peers(lab, "home", {"room": "fw", "ids": ["p0"], "timeout": 5})
            assert [e["code"] for e in events(found, "failed")] == ["ERR_CONNECTION_FAILED"]


# ------------------------------------------------------------------ TURN over TCP and TLS
SECRET = "netns-turn-secret-0123456789"
TURN_HOST = "turn.test"
UDP_BLOCKED = """
table inet corporate {
  chain forward {
    type filter hook forward priority filter; policy accept;
    iifname "lan0" meta l4proto udp drop
  }
}"""


def _listening(lab: Lab, role: str, ports: set[int]) -> bool:
    """Whether TCP ``ports`` listen in ``role``'s namespace (coturn says nothing when they do)."""
    out = lab.run(role, "ss", "-ltnH")
    return ports <= {int(line.split()[3].rsplit(":", 1)[1]) for line in out.splitlines()}


@asynccontextmanager
async def coturn(lab: Lab, folder: Path, secret: str = SECRET) -> AsyncIterator[Path]:
    """coturn on the VM, from docs/deploy/turnserver.conf as documented; yields the CA file."""
    ca, cert, key = make_certificate(folder, TURN_HOST, [PUBLIC_IP])
    config = (HERE.parent / "docs" / "deploy" / "turnserver.conf").read_text()
    for placeholder, value in (("TURN_SECRET", secret), ("PRIVATE_IP", PRIVATE_IP),
                               ("PUBLIC_IP", PUBLIC_IP), ("/etc/coturn/turn.example.org.crt", str(cert)),
                               ("/etc/coturn/turn.example.org.key", str(key)),
                               ("turn.example.org", TURN_HOST)):  # fmt: skip
        config = config.replace(placeholder, value)
    (folder / "turnserver.conf").write_text(config)
    proc = await asyncio.create_subprocess_exec(
        *lab.cmd("srv", "turnserver", "-c", str(folder / "turnserver.conf"),
                 "--pidfile", str(folder / "turnserver.pid")),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await until(lambda: _listening(lab, "srv", {3478, 5349}), 20)
        yield ca
    finally:
        proc.terminate()
        await proc.wait()


TURN_UDP = f"turn:{TURN_HOST}:3478?transport=udp"


@asynccontextmanager
async def locked_down(folder: Path, secret: str = SECRET) -> AsyncIterator[tuple[Lab, Path]]:
    """The one-VM deployment of docs/deploy.md (peerpyrtc on one UDP port, coturn beside it,
    a firewall) and a client network that drops every UDP packet."""
    with internet() as lab:
        # the firewall of docs/deploy.md as written, and the test server's HTTP port
        lab.nft("srv", (HERE.parent / "docs" / "deploy" / "firewall.nft").read_text())
        lab.run(
            "srv",
            "nft",
            "add",
            "rule",
            "inet",
            "firewall",
            "input",
            "tcp",
            "dport",
            "8080",
            "accept",
        )
        lab.nft("homegw", UDP_BLOCKED)
        lab.hosts("home", f"{PUBLIC_IP} {TURN_HOST}\n")
        async with coturn(lab, folder, secret) as ca:
            yield lab, ca


def vm_options(*turn_urls: str, secret: str = SECRET) -> list[str]:
    urls = [arg for url in turn_urls for arg in ("--turn-url", url)]
    return ["--public-ip", PUBLIC_IP, "--udp-port", "50000", "--keep-private-candidates",
            "--turn-secret", secret, *urls]  # fmt: skip


@pytest.mark.browser
@needs_chromium
@pytest.mark.parametrize(
    ("url", "relay_protocol"),
    [
        (f"turn:{TURN_HOST}:3478?transport=tcp", "tcp"),
        (f"turns:{TURN_HOST}:5349?transport=tcp", "tls"),
    ],
    ids=["tcp", "tls"],
)
async def test_with_udp_blocked_clients_connect_through_coturn_over_tcp_and_tls(
    tmp_path: Path, url: str, relay_protocol: str
) -> None:
    async with locked_down(tmp_path) as (lab, ca):
        # the server hands out TURN over UDP first (useless here), then over TCP or TLS
        async with (
            server(lab, *vm_options(TURN_UDP, url)),
            chromium(executable=in_namespace(lab, "home", tmp_path, ca)) as browser,
        ):
            page = await join_page(browser, "locked", "page")
            pair = await page.evaluate(PAIR_JS)
            assert (pair["local"], pair["relayProtocol"]) == ("relay", relay_protocol), pair
            env = {**same_package(), "SSL_CERT_FILE": str(ca)}  # the test CA, for turns:
            peers = asyncio.ensure_future(
                python_peers(
                    lab, "home", {"room": "locked", "ids": ["py"], "expect": ["page"]}, env
                )
            )
            assert await messages(page, 1, 40_000) == [["py", "hi from py", None]]
            await page.evaluate("window.rtc.sendMessage('hi from page')")
            found = await peers
            (connected,) = events(found, "connected")
            # aiortc takes one TURN URL: the client ranked them by a probe (UDP does not answer)
            assert connected["pair"]["local"] == "relay" and connected["pair"]["turn_url"] == url
            assert events(found, "heard") == [{"event": "heard", "id": "py", "from": ["page"]}]


@pytest.mark.browser
@needs_chromium
@pytest.mark.parametrize("how", ["forged", "expired"])
async def test_refused_turn_credentials_are_reported_with_err_turn_auth(
    tmp_path: Path, how: str
) -> None:
    from peerpyrtc._rtc.turn import TurnCredentials

    url = f"turn:{TURN_HOST}:3478?transport=tcp"
    async with locked_down(tmp_path) as (lab, _):
        if how == "forged":  # the server signs with a secret coturn does not know
            options, own = vm_options(url, secret="not-the-secret-coturn-has-0123"), None
        else:  # the right secret, an expiry an hour ago
            options = vm_options(url)
            own = [TurnCredentials(SECRET, [url], 60).mint("late", now=time.time() - 3600)]
        async with (
            server(lab, *options),
            chromium(executable=in_namespace(lab, "home", tmp_path)) as browser,
        ):
            page = await browser.new_page()
            await page.goto(URL)
            await page.evaluate(RECORDER)
            js_options = {"connectTimeout": 5000}
            if own:
                js_options.update(iceServers=own, fetchIceServers=False)
            error = await page.evaluate(
                """async ([options]) => {
                  const rtc = new window.WebRTCConnection.WebRTCConnection('refused', options);
                  try { await rtc.connect(); return null; }
                  catch (e) { return { code: e.code, url: e.url ?? null, iceStatus: e.iceStatus ?? null, message: e.message }; }
                }""",
                [js_options],
            )
            assert error is not None and error["code"] == "ERR_TURN_AUTH", error
            assert (error["url"], error["iceStatus"]) == (url, 401)
            config: dict[str, Any] = {"room": "refused", "ids": ["py"], "timeout": 5}
            if own:
                config["ice_servers"] = own
            found = await python_peers(lab, "home", config)
            (failed,) = events(found, "failed")
            assert (failed["error"], failed["code"]) == ("IceServerError", "ERR_TURN_AUTH"), failed
            assert "401" in failed["message"] and url in failed["message"]


async def _probe_relay(lab: Lab, targets: list[str]) -> dict[str, Any]:
    """A stranger at home with minted TURN credentials (anyone /ice admits): what answers
    through the relay."""
    from peerpyrtc._rtc.turn import TurnCredentials

    minted = TurnCredentials(SECRET, [TURN_UDP]).mint(f"stranger-{time.monotonic_ns()}")
    proc = await asyncio.create_subprocess_exec(
        *lab.cmd("home", sys.executable, str(HERE / "turn_probe.py"), PUBLIC_IP, "3478",
                 minted["username"], minted["credential"], *targets),
        stdout=asyncio.subprocess.PIPE, env=same_package(),
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, out
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


@pytest.mark.parametrize("firewall", ["as documented", "without its relay rules"])
async def test_a_turn_relay_reaches_the_servers_media_port_and_nothing_else(
    tmp_path: Path, firewall: str
) -> None:
    """Finding 7: with docs/deploy/turnserver.conf and firewall.nft as written, a TURN client
    reaches peerpyrtc's UDP port through the relay and no other port of the VM (coturn's
    relayed traffic arrives on lo, which the firewall otherwise accepts), and gets no TCP
    relay. The control without the firewall's relay rules shows what they stop."""
    with internet() as lab:
        rules = (HERE.parent / "docs" / "deploy" / "firewall.nft").read_text()
        if firewall != "as documented":
            rules = "\n".join(line for line in rules.splitlines() if "sport 61000" not in line)
        lab.nft("srv", rules)
        echo = await asyncio.create_subprocess_exec(
            *lab.cmd("srv", sys.executable, str(HERE / "udp_echo.py"),
                     f"{PRIVATE_IP}:50000", f"{PRIVATE_IP}:5000"),
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            assert echo.stdout is not None
            assert await asyncio.wait_for(echo.stdout.readline(), 10) == b"ready\n"
            async with coturn(lab, tmp_path):
                result = await _probe_relay(lab, [f"{PRIVATE_IP}:5000", f"{PRIVATE_IP}:50000"])
        finally:
            echo.terminate()
            await echo.wait()
    assert result["relay"] is not None and result["relay"][0] == PRIVATE_IP
    assert result["tcp_relay"] == "442"  # Unsupported Transport Protocol: no TCP relays
    if firewall == "as documented":
        assert result["answered"] == [f"{PRIVATE_IP}:50000"]
    else:  # what the relay rules stop: any UDP service of the VM answers a stranger
        assert result["answered"] == sorted([f"{PRIVATE_IP}:50000", f"{PRIVATE_IP}:5000"])


async def test_one_address_holds_at_most_32_turn_flows(tmp_path: Path) -> None:
    """Finding 7: one client address cannot take every relay allocation (coturn has no
    per-address quota; firewall.nft counts concurrent TURN flows per address), while
    ``user-quota`` bounds each credential."""
    with internet() as lab:
        lab.nft("srv", (HERE.parent / "docs" / "deploy" / "firewall.nft").read_text())
        async with coturn(lab, tmp_path):
            results = [await _probe_relay(lab, ["--flows", "11"]) for _ in range(4)]
    # 4 credentials x 11 allocations each (inside user-quota 12): 32 flows, not 44
    assert sum(r["allocated"] for r in results) == 32, results
