"""ICE servers for clients: STUN as configured, TURN only as credentials minted per peer
(coturn's TURN REST scheme), checked against a real coturn in Chromium."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import shutil
import socket
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from browser_support import BLANK_PAGE, JOIN_JS, chromium, needs_chromium
from conftest import http_request
from peerpyrtc import AsyncSignalingManager, Limits, start_server
from peerpyrtc._rtc.turn import TurnCredentials

SECRET = "coturn-shared-secret-0123456789"


def test_minted_credentials_follow_the_turn_rest_scheme() -> None:
    turn = TurnCredentials(SECRET, ["turn:turn.example.org:3478?transport=udp"], ttl=600)
    minted = turn.mint("alice", now=1_000_000)
    assert minted["username"] == "1000600:alice"
    expected = base64.b64encode(
        hmac.new(SECRET.encode(), b"1000600:alice", hashlib.sha1).digest()
    ).decode()
    assert minted["credential"] == expected
    assert minted["urls"] == ["turn:turn.example.org:3478?transport=udp"]
    for bad in (("short", ["turn:x:3478"], 600), (SECRET, [], 600), (SECRET, ["stun:x"], 600),
                (SECRET, ["turn:x:3478"], 5)):  # fmt: skip
        with pytest.raises(ValueError):
            TurnCredentials(*bad)


async def test_clients_get_stun_and_their_own_turn_never_a_static_secret(make_server: Any) -> None:
    server, manager = await make_server(
        ice_servers=[
            "stun:stun.example.org:3478",
            {"urls": "turn:static.example.org:3478", "username": "u", "credential": "static-pass"},
        ],
        turn_secret=SECRET,
        turn_urls=["turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349"],
    )
    configured = manager.parts.transport.ice.servers

    async def all_answer() -> (
        Any
    ):  # what is handed out, not the probe (tests/integration/test_ice.py)
        return configured

    manager.parts.transport.ice.usable = all_answer
    body = json.dumps({"room": "r", "peer_id": "alice"}).encode()
    status, _, raw = await http_request(server.url + "/ice", "POST", body)
    reply = json.loads(raw)
    assert status == 200 and reply["ttl"] == 600  # short by default
    assert reply["iceServers"][0] == {"urls": ["stun:stun.example.org:3478"]}
    [turn] = reply["iceServers"][1:]
    assert turn["username"].endswith(":alice") and turn["credential"]
    assert b"static-pass" not in raw and SECRET.encode() not in raw

    @manager.authorize
    def only_alice(room: str, peer_id: str, metadata: dict[str, Any]) -> bool:
        return peer_id == "alice"

    body = json.dumps({"room": "r", "peer_id": "mallory"}).encode()
    status, _, raw = await http_request(server.url + "/ice", "POST", body)
    assert status == 403 and json.loads(raw)["code"] == "ERR_FORBIDDEN"


async def test_ice_is_rate_limited_and_mints_only_for_a_free_id_or_its_session(
    make_server: Any,
) -> None:
    """Finding 14: no minting for an id another session holds (or after it was taken back
    by a kick, for anyone but a new holder), and at most 30 requests a minute per address."""
    from peerpyrtc import AsyncClient

    server, manager = await make_server(
        turn_secret=SECRET, turn_urls=["turn:turn.example.org:3478?transport=udp"],
        limits=Limits(max_ice_requests_per_minute=5),
    )  # fmt: skip

    async def ice(peer_id: str, session: str | None = None) -> tuple[int, Any]:
        body: dict[str, Any] = {"room": "r", "peer_id": peer_id}
        if session is not None:
            body["session"] = session
        status, _, raw = await http_request(server.url + "/ice", "POST", json.dumps(body).encode())
        return status, json.loads(raw)

    async with AsyncClient(server.url, "r", "alice") as alice:  # its own /ice: 1 of 5
        status, reply = await ice("alice")  # a stranger for alice's id: nothing minted
        assert status == 409 and reply["code"] == "ERR_PEER_ID_TAKEN"
        assert "iceServers" not in reply
        status, reply = await ice("alice", "x" * 24)
        assert status == 409
        status, reply = await ice("alice", alice.session)  # alice herself
        assert status == 200 and reply["iceServers"][0]["username"].endswith(":alice")
        assert await manager.kick("r", "alice", "bye")
    status, reply = await ice("bob")  # 5 of 5: a free id
    assert status == 200
    status, reply = await ice("carol")
    assert status == 429 and reply["code"] == "ERR_RATE_LIMITED"


needs_relay_policy = pytest.mark.skipif(
    not hasattr(__import__("aiortc").RTCConfiguration(), "iceTransportPolicy"),
    reason="ice_transport_policy='relay' needs aiortc >= 1.16 (pip resolves 1.15 on Python 3.10)",
)


@pytest.fixture
def coturn() -> Iterator[str]:
    if shutil.which("turnserver") is None:
        pytest.fail("coturn is not installed (apt-get install -y coturn)")
    from rawsignal import local_address

    address = asyncio.run(local_address())
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((address, 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        ["turnserver", "-n", f"--listening-ip={address}", f"--listening-port={port}",
         f"--relay-ip={address}", "--use-auth-secret", f"--static-auth-secret={SECRET}",
         "--realm=peerpyrtc.test", "--no-tls", "--no-dtls", "--no-cli", "--fingerprint",
         "--log-file=stdout", "--simple-log", "--min-port=49200", "--max-port=49300"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # ready once it listens
            if ("relay" in line.lower() and "listener" in line.lower()) or "Total" in line:
                break
        yield f"turn:{address}:{port}?transport=udp"
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.mark.browser
@needs_chromium
async def test_a_page_that_may_only_use_turn_connects_with_minted_credentials(
    coturn: str,
) -> None:
    manager = AsyncSignalingManager(turn_secret=SECRET, turn_urls=[coturn])
    server = await start_server(manager, index_html=BLANK_PAGE)
    try:
        async with chromium() as browser:
            page = await browser.new_page()
            await page.goto(server.url)
            options = {"iceTransportPolicy": "relay"}
            assert await page.evaluate(JOIN_JS, ["turn-room", "alice", options]) == [
                ["alice", True]
            ]
            kinds = await page.evaluate("""async () => {
              const stats = await rtc.transport.pc.getStats();
              const pair = [...stats.values()].find((s) => s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded');
              return [stats.get(pair.localCandidateId).candidateType, stats.get(pair.remoteCandidateId).candidateType];
            }""")
            assert kinds[0] == "relay"  # the page reached the server only through coturn
            assert await page.evaluate("rtc.getConnectionStatus()") == "connected"
    finally:
        await server.close()
        await manager.close()


@needs_relay_policy
async def test_a_python_peer_that_may_only_use_turn_connects_with_minted_credentials(
    coturn: str,
) -> None:
    from peerpyrtc import AsyncClient

    manager = AsyncSignalingManager(turn_secret=SECRET, turn_urls=[coturn])
    server = await start_server(manager)
    try:
        async with AsyncClient(server.url, "turn-room", "py", ice_transport_policy="relay") as py:
            assert py.connected
            pc = py.connection.pc
            assert pc is not None
            ice = pc.sctp.transport.transport  # RTCIceTransport
            pairs = ice._connection._nominated.values()  # aioice: the pair in use
            assert [p.local_candidate.type for p in pairs] == ["relay"]
            assert all(c.type == "relay" for c in ice._connection.local_candidates)
        with pytest.raises(ValueError, match="all' or 'relay"):
            AsyncClient(server.url, "r", ice_transport_policy="turn-only")
    finally:
        await server.close()
        await manager.close()


@needs_relay_policy
@pytest.mark.parametrize("transport", ["tcp", "udp"])
async def test_a_turn_server_that_does_not_answer_is_reported_with_a_code(transport: str) -> None:
    """The client's own TURN server, dead: the probe leaves it out, and the failure says so
    (ERR_ICE_SERVER_UNREACHABLE) instead of a bare 'connection failed'."""
    from peerpyrtc import AsyncClient, IceServerError

    kind = socket.SOCK_STREAM if transport == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as closed:
        closed.bind(("127.0.0.1", 0))  # bound and silent (UDP) or refusing (TCP: no listen)
        url = f"turn:127.0.0.1:{closed.getsockname()[1]}?transport={transport}"
        manager = AsyncSignalingManager()
        server = await start_server(manager)
        client = AsyncClient(
            server.url, "r", "py", ice_servers=[{"urls": url, "username": "u", "credential": "p"}],
            fetch_ice_servers=False, ice_transport_policy="relay", timeout=5,
        )  # fmt: skip
        try:
            with pytest.raises(IceServerError) as raised:
                await client.connect()
            assert raised.value.code == "ERR_ICE_SERVER_UNREACHABLE"
            assert raised.value.url == url and url in str(raised.value)
        finally:
            await client.close()
            await server.close()
            await manager.close()


async def test_turn_urls_that_answer_go_first() -> None:
    """aiortc takes one TURN URL: the client ranks them by a quick probe, so a network that
    drops UDP starts on TCP instead of losing an attempt on UDP."""
    from aiortc import RTCIceServer

    from peerpyrtc._client.turn import rank_turn

    loop = asyncio.get_running_loop()
    listening = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    tcp_port = listening.sockets[0].getsockname()[1]
    silent, _ = await loop.create_datagram_endpoint(
        asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
    )
    udp_port = silent.get_extra_info("sockname")[1]
    udp, tcp = (
        f"turn:127.0.0.1:{udp_port}?transport=udp",
        f"turn:127.0.0.1:{tcp_port}?transport=tcp",
    )
    try:
        given = [
            RTCIceServer(urls=[udp, tcp], username="1:u", credential="c"),
            RTCIceServer(urls="stun:127.0.0.1:3478"),
        ]
        ranked = await rank_turn(given)
        assert [(s.urls, s.username, s.credential) for s in ranked] == [
            (tcp, "1:u", "c"),  # answered: first
            (udp, "1:u", "c"),  # silent: still there, after
            (["stun:127.0.0.1:3478"], None, None),
        ]
        one = [RTCIceServer(urls=udp, username="1:u", credential="c")]
        assert await rank_turn(one) is one  # nothing to rank: no probe
    finally:
        silent.close()
        listening.close()
        await listening.wait_closed()
