"""ICE configuration: no third party by default, dead servers skipped, mDNS dropped."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from aioice import stun

from peerpyrtc import AsyncClient, AsyncSignalingManager, InvalidRequest, start_server
from peerpyrtc._rtc.candidates import candidate_from_json, strip_mdns_candidates
from peerpyrtc._rtc.ice import IceServerPool, normalize_ice_servers

MDNS = "candidate:1 1 udp 2122260223 3f2a1c4e-1111-2222-3333-444455556666.local 5000 typ host"


async def test_no_ice_server_by_default() -> None:
    manager = AsyncSignalingManager()
    config = await manager.parts.transport.ice.configuration()
    assert config.iceServers == []  # never aiortc's default public STUN server
    server = await start_server(manager)
    async with AsyncClient(server.url, "r") as client:
        assert client.connection is not None
        assert client.connection.configuration.iceServers == []
    await server.close()
    await manager.close()


@pytest.fixture
def silent_udp_port() -> Iterator[int]:
    """A UDP port where something listens and never answers (a dead STUN server)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    yield sock.getsockname()[1]
    sock.close()


async def test_a_silent_stun_server_does_not_slow_every_connection(silent_udp_port: int) -> None:
    manager = AsyncSignalingManager(ice_servers=[f"stun:127.0.0.1:{silent_udp_port}"])
    server = await start_server(manager)
    try:
        durations = []
        for i in range(3):
            started = time.monotonic()
            async with AsyncClient(server.url, "r", f"p{i}") as client:
                assert client.connected
            durations.append(time.monotonic() - started)
        # aiortc alone would wait 5 s in gathering on each; the probe costs 0.5 s once
        assert max(durations) < 3.0, durations
        assert await manager.parts.transport.ice.usable() == []
    finally:
        await server.close()
        await manager.close()


async def test_a_silent_stun_server_given_to_a_client_does_not_slow_it(
    silent_udp_port: int, server: Any
) -> None:
    """The same probe on the client side (it cost 5.0 s per connect before)."""
    started = time.monotonic()
    client = AsyncClient(server.url, "r", "p", ice_servers=[f"stun:127.0.0.1:{silent_udp_port}"])
    try:
        await client.connect()
        assert client.connected
        assert time.monotonic() - started < 3.0  # gathering alone waits 5 s on a dead server
        assert client.connection is not None
        assert client.connection.configuration.iceServers == []  # the dead one left out
    finally:
        await client.close()


class StunResponder(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        request = stun.parse_message(data)
        reply = stun.Message(
            message_method=stun.Method.BINDING,
            message_class=stun.Class.RESPONSE,
            transaction_id=request.transaction_id,
        )
        reply.attributes["XOR-MAPPED-ADDRESS"] = addr
        self.transport.sendto(bytes(reply), addr)  # type: ignore[attr-defined]


async def test_an_answering_stun_server_is_used() -> None:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(StunResponder, local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    pool = IceServerPool(normalize_ice_servers([{"urls": f"stun:127.0.0.1:{port}"}]))
    try:
        usable = await pool.usable()
        assert [s.urls for s in usable] == [f"stun:127.0.0.1:{port}"]
    finally:
        transport.close()
        await pool.close()


def test_malformed_ice_server_urls_fail_at_configuration() -> None:
    with pytest.raises(ValueError):
        AsyncSignalingManager(ice_servers=["http://example.invalid"])
    with pytest.raises(TypeError):
        normalize_ice_servers([42])  # type: ignore[list-item]


def test_mdns_candidates_are_dropped_from_sdp_and_trickle() -> None:
    sdp = (
        "v=0\r\na=candidate:"
        + MDNS[len("candidate:") :]
        + "\r\na=candidate:2 1 udp 1 10.0.0.1 9 typ host\r\n"
    )
    stripped = strip_mdns_candidates(sdp)
    assert ".local" not in stripped and "10.0.0.1" in stripped
    assert candidate_from_json({"candidate": MDNS, "sdpMid": "0"}) is None
    assert candidate_from_json({"candidate": "", "sdpMid": "0"}) is None


def test_browser_candidate_shape_parses() -> None:
    cand = candidate_from_json(
        {
            "candidate": "candidate:842163049 1 udp 1677729535 10.1.2.3 50000 typ srflx"
            " raddr 0.0.0.0 rport 0 generation 0",
            "sdpMid": "0",
            "sdpMLineIndex": 0,
            "usernameFragment": "abcd",
        }
    )
    assert cand is not None
    assert (cand.ip, cand.port, cand.type, cand.sdpMid) == ("10.1.2.3", 50000, "srflx", "0")
    with pytest.raises(InvalidRequest, match="sdpMLineIndex"):
        candidate_from_json(
            {"candidate": "candidate:1 1 udp 1 1.2.3.4 5 typ host", "sdpMLineIndex": "0"}
        )


async def test_a_dead_ice_server_is_logged_once_and_its_return_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The server's probe logs a change, not every probe (nor every connection)."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))  # silent: nothing answers on it
    port = sock.getsockname()[1]
    pool = IceServerPool(normalize_ice_servers([f"stun:127.0.0.1:{port}"]), probe_timeout=0.1)
    try:
        with caplog.at_level(logging.INFO, logger="peerpyrtc._rtc.ice"):
            for _ in range(3):
                assert await pool._probe_all() == []
            sock.close()  # now something that answers, on the same port
            transport, _ = await loop.create_datagram_endpoint(
                StunResponder, local_addr=("127.0.0.1", port)
            )
            for _ in range(2):
                assert len(await pool._probe_all()) == 1
            transport.close()
        lines = [r.getMessage() for r in caplog.records if r.name == "peerpyrtc._rtc.ice"]
        assert len([m for m in lines if "did not answer" in m]) == 1, lines
        assert len([m for m in lines if "answers again" in m]) == 1, lines
    finally:
        sock.close()
        await pool.close()
