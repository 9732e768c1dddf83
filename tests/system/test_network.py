"""Where the server's ICE sockets live and what address it announces (issue 14), in one
network namespace: port ranges, the single shared port, the public address rewrite.
tests/system/test_netns.py proves the same through NAT and firewalls."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import pytest
from aioice import Candidate, stun

from conftest import http_request, until
from peerpyrtc import AsyncClient, AsyncSignalingManager, start_server
from peerpyrtc._rtc.network import ServerNetwork, parse_port_range
from peerpyrtc._rtc.udpmux import MuxTransport
from rawsignal import local_address, offer_sdp


def free_udp_port(address: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((address, 0))
        return int(probe.getsockname()[1])


def host_ports(sdp: str) -> set[int]:
    return {
        int(line.split()[5])
        for line in sdp.splitlines()
        if line.startswith("a=candidate:") and line.split()[7] == "host"
    }


def server_protocols(manager: AsyncSignalingManager) -> list[Any]:
    peers = list(manager.peers.active.values()) + list(manager.peers.pending.values())
    return [
        p for peer in peers for p in peer.link.pc.sctp.transport.transport._connection._protocols
    ]


async def exchange(clients: list[AsyncClient]) -> None:
    """Every client says one thing; every other client hears each, once."""
    heard: dict[str, list[str]] = {c.peer_id: [] for c in clients}
    everyone = asyncio.Event()
    want = len(clients) - 1

    def listener(me: str) -> Any:
        def on_message(sender: str, message: Any) -> None:
            heard[me].append(sender)
            if all(len(v) == want for v in heard.values()):
                everyone.set()

        return on_message

    for client in clients:
        client.on("message", listener(client.peer_id))
    for client in clients:
        await client.send_message(f"from {client.peer_id}")
    await asyncio.wait_for(everyone.wait(), 20)
    for client in clients:
        assert sorted(heard[client.peer_id]) == sorted(
            c.peer_id for c in clients if c is not client
        )


def test_port_ranges_parse_and_refuse_nonsense() -> None:
    assert parse_port_range("50000-50100") == (50000, 50100)
    assert parse_port_range((4000, 4000)) == (4000, 4000)
    for bad in ("50000", "5-a", "60000-50000", "0-10", "1-70000", "-"):
        with pytest.raises(ValueError):
            parse_port_range(bad)
    with pytest.raises(ValueError, match="exclude each other"):
        AsyncSignalingManager(udp_ports="50000-50010", udp_port=50000)
    with pytest.raises(ValueError, match="IP address"):
        AsyncSignalingManager(public_ip="cloud.example")
    with pytest.raises(ValueError, match="port number"):
        AsyncSignalingManager(udp_port=70000)


def test_the_public_address_replaces_host_candidates_of_its_family() -> None:
    sdp = "\r\n".join([
        "v=0", "c=IN IP4 10.0.1.2", "m=application 50000 DTLS/SCTP 5000",
        "a=candidate:1 1 udp 2130706431 10.0.1.2 50000 typ host",
        "a=candidate:2 1 udp 2130706431 172.17.0.1 50000 typ host",
        "a=candidate:3 1 udp 2130706431 fd00::2 50000 typ host",
        "a=candidate:4 1 udp 1694498815 198.51.100.7 50000 typ srflx raddr 10.0.1.2 rport 50000",
        "a=candidate:5 1 udp 2130706431 10.0.1.2 50001 typ host", "",
    ])  # fmt: skip
    out = ServerNetwork(public_ip="203.0.113.2").announce(sdp).split("\r\n")
    assert "c=IN IP4 203.0.113.2" in out
    candidates = [line for line in out if line.startswith("a=candidate:")]
    assert candidates == [
        "a=candidate:1 1 udp 2130706431 203.0.113.2 50000 typ host",  # the one shared port once
        "a=candidate:3 1 udp 2130706431 fd00::2 50000 typ host",  # other family: untouched
        "a=candidate:4 1 udp 1694498815 198.51.100.7 50000 typ srflx raddr 10.0.1.2 rport 50000",
        "a=candidate:5 1 udp 2130706431 203.0.113.2 50001 typ host",
    ]
    assert ServerNetwork().announce(sdp) == sdp
    kept = ServerNetwork(public_ip="203.0.113.2", keep_private=True).announce(sdp).split("\r\n")
    assert [line for line in kept if line.startswith("a=candidate:1 ")] == [
        "a=candidate:1 1 udp 2130706431 203.0.113.2 50000 typ host",
        "a=candidate:1 1 udp 2130706175 10.0.1.2 50000 typ host",  # after it, tried after it
    ]


async def test_every_ice_socket_is_bound_inside_the_port_range() -> None:
    address = await local_address()
    low = free_udp_port(address)
    manager = AsyncSignalingManager(udp_ports=(low, low + 20))
    server = await start_server(manager)
    try:
        clients = [AsyncClient(server.url, "range", f"p{i}") for i in range(4)]
        await asyncio.gather(*(c.connect() for c in clients))
        protocols = server_protocols(manager)
        assert len(protocols) >= 4
        ports = {p.transport.get_extra_info("sockname")[1] for p in protocols}
        assert ports <= set(range(low, low + 21)), ports
        await exchange(clients)
        await asyncio.gather(*(c.close() for c in clients))
    finally:
        await server.close()
        await manager.close()


async def test_a_full_port_range_refuses_the_next_offer_with_503() -> None:
    address = await local_address()
    port = free_udp_port(address)
    manager = AsyncSignalingManager(udp_ports=(port, port))  # one port: one peer at a time
    server = await start_server(manager)
    try:
        async with AsyncClient(server.url, "full", "first") as first:
            assert first.connected
            body = {
                "room": "full",
                "peer_id": "second",
                "offer": {"sdp": await offer_sdp(), "type": "offer"},
            }
            status, _, raw = await http_request(
                server.url + "/offer", "POST", json.dumps(body).encode()
            )
            assert status == 503 and json.loads(raw)["code"] == "ERR_UNAVAILABLE"
            assert [p["id"] for p in await manager.fetch_room_peers("full")] == [
                "first"
            ]  # untouched
        # the port comes back when the peer leaves
        async with AsyncClient(server.url, "full", "third") as third:
            assert third.connected
    finally:
        await server.close()
        await manager.close()


async def test_ten_clients_share_one_udp_port() -> None:
    address = await local_address()
    port = free_udp_port(address)
    manager = AsyncSignalingManager(udp_port=port)
    server = await start_server(manager)
    try:
        clients = [AsyncClient(server.url, "one-port", f"p{i}") for i in range(10)]
        answers: list[str] = []
        await asyncio.gather(*(c.connect() for c in clients))
        for peer in manager.peers.active.values():
            answers.append(peer.link.pc.localDescription.sdp)
        assert len(answers) == 10 and all(host_ports(sdp) == {port} for sdp in answers)
        protocols = server_protocols(manager)
        assert protocols and all(isinstance(p.transport, MuxTransport) for p in protocols)
        await exchange(clients)
        assert (
            manager.parts.transport.network.mux is not None
            and manager.parts.transport.network.mux.connections() == 10
        )
        await asyncio.gather(*(c.close() for c in clients))
        await until(lambda: manager.parts.transport.network.mux.connections() == 0)
    finally:
        await server.close()
        await manager.close()


async def test_the_shared_port_drops_strangers_and_never_learns_a_forged_address() -> None:
    address = await local_address()
    port = free_udp_port(address)
    manager = AsyncSignalingManager(udp_port=port)
    server = await start_server(manager)
    loop = asyncio.get_running_loop()
    received: asyncio.Queue[bytes] = asyncio.Queue()

    class Stranger(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: Any) -> None:
            received.put_nowait(data)

    transport, _ = await loop.create_datagram_endpoint(Stranger, local_addr=(address, 0))
    try:
        async with AsyncClient(server.url, "guarded", "alice") as alice:
            mux = manager.parts.transport.network.mux
            assert mux is not None
            (peer,) = manager.peers.active.values()
            ufrag = peer.link.pc.sctp.transport.transport._connection.local_username
            shared = next(iter(mux._sockets.values()))
            before = mux.dropped
            transport.sendto(b"\x17\xfe\xfd" + b"\x00" * 40, (address, port))  # DTLS-looking
            forged = stun.Message(stun.Method.BINDING, stun.Class.REQUEST)
            forged.attributes["USERNAME"] = f"{ufrag}:evil"
            forged.add_message_integrity(b"not-the-password")
            transport.sendto(bytes(forged), (address, port))
            error = stun.parse_message(await asyncio.wait_for(received.get(), 5))
            assert error.message_class == stun.Class.ERROR  # aioice refused it ...
            me = transport.get_extra_info("sockname")[:2]
            assert me not in shared.by_addr  # ... and the mux did not learn our address
            assert mux.dropped == before + 1  # the DTLS-looking datagram went nowhere
            from peerpyrtc._web.prometheus import render

            assert f"peerpyrtc_udp_mux_dropped_total {before + 1}" in render(manager.stats())
            assert alice.connected
            got = asyncio.get_running_loop().create_future()
            alice.on("message", lambda s, m: got.set_result(m) if not got.done() else None)
            await manager.send_message("guarded", "still here")
            assert await asyncio.wait_for(got, 5) == "still here"
    finally:
        transport.close()
        await server.close()
        await manager.close()


async def test_gathering_in_a_range_matches_upstream_but_for_the_ports() -> None:
    from aioice import Connection

    address = await local_address()
    low = free_udp_port(address)
    upstream, ours = Connection(ice_controlling=False), Connection(ice_controlling=False)
    network = ServerNetwork(udp_ports=(low, low + 10))
    try:
        await upstream.gather_candidates()
        await network._gather(ours)
        await ours.gather_candidates()  # aiortc calls it after us: nothing more happens

        def shape(c: Candidate) -> tuple[Any, ...]:
            return (c.foundation, c.component, c.transport, c.priority, c.host, c.type)

        assert [shape(c) for c in ours.local_candidates] == [
            shape(c) for c in upstream.local_candidates
        ]
        assert all(low <= c.port <= low + 10 for c in ours.local_candidates)
        assert len(ours._protocols) == len(ours.local_candidates)
    finally:
        await upstream.close()
        await ours.close()


class Recorded:
    """What the shared socket hands datagrams to: a StunProtocol's surface, recording."""

    def __init__(self, ufrag: str) -> None:
        self.receiver = type(
            "Receiver", (), {"local_username": ufrag, "local_password": "p" * 22}
        )()
        self.transactions: dict[bytes, Any] = {}
        self.got: list[tuple[bytes, tuple[str, int]]] = []
        self.lost = 0

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.got.append((data, addr))

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost += 1


DTLS = b"\x17\xfe\xfd" + b"\x00" * 40


def shared_socket() -> Any:
    from peerpyrtc._rtc.udpmux import UdpMux, _SharedSocket

    return _SharedSocket(UdpMux(50000))


def test_the_shared_port_forgets_a_closed_connection_and_only_it() -> None:
    shared = shared_socket()
    a, b = Recorded("aaaa"), Recorded("bbbb")
    shared.register(a, "aaaa")
    shared.register(b, "bbbb")
    shared.learn(a, ("192.0.2.1", 1))
    shared.learn(b, ("192.0.2.2", 2))
    shared.unregister(a)
    assert shared.by_ufrag == {"bbbb": b}
    assert shared.by_addr == {("192.0.2.2", 2): b}
    assert list(shared.addrs) == [b]
    shared.datagram_received(DTLS, ("192.0.2.1", 1))  # a's old address: nobody's now
    shared.datagram_received(DTLS, ("192.0.2.2", 2))
    assert (a.got, b.got, shared.mux.dropped) == ([], [(DTLS, ("192.0.2.2", 2))], 1)


def test_an_address_belongs_to_one_connection_and_each_keeps_the_last_eight() -> None:
    from peerpyrtc._rtc.udpmux import MAX_ADDRESSES

    shared = shared_socket()
    a, b = Recorded("aaaa"), Recorded("bbbb")
    shared.register(a, "aaaa")
    shared.register(b, "bbbb")
    addresses = [("192.0.2.1", port) for port in range(1, MAX_ADDRESSES + 3)]
    for addr in addresses:
        shared.learn(a, addr)
    kept = addresses[-MAX_ADDRESSES:]
    assert list(shared.addrs[a]) == kept and sorted(shared.by_addr) == sorted(kept)
    shared.learn(a, kept[0])  # used again: the newest
    assert list(shared.addrs[a]) == [*kept[1:], kept[0]]
    shared.learn(b, kept[1])  # now b's (a peer that moved): a no longer has it
    assert shared.by_addr[kept[1]] is b and kept[1] not in shared.addrs[a]
    shared.datagram_received(DTLS, kept[1])
    assert (a.got, b.got) == ([], [(DTLS, kept[1])])
    shared.unregister(a)  # a's list no longer holds kept[1]: b keeps it
    assert shared.by_addr == {kept[1]: b}


def test_what_the_shared_port_cannot_place_is_dropped_and_counted() -> None:
    from aioice import stun

    shared = shared_socket()
    a = Recorded("aaaa")
    shared.register(a, "aaaa")
    unknown = stun.Message(stun.Method.BINDING, stun.Class.REQUEST)
    unknown.attributes["USERNAME"] = "zzzz:peer"  # no such connection
    response = stun.Message(stun.Method.BINDING, stun.Class.RESPONSE)  # to nothing we asked
    for data in (b"\x00\x01 not stun at all", bytes(unknown), bytes(response), DTLS):
        shared.datagram_received(data, ("192.0.2.9", 9))
    assert shared.mux.dropped == 4 and a.got == []
    a.transactions[response.transaction_id] = object()  # now a asked it
    shared.datagram_received(bytes(response), ("192.0.2.9", 9))
    assert shared.mux.dropped == 4 and len(a.got) == 1


async def test_a_closed_share_sends_nothing_and_closes_once() -> None:
    from peerpyrtc._rtc.udpmux import MuxTransport

    shared = shared_socket()
    sent: list[Any] = []
    shared.transport = type("T", (), {"sendto": lambda self, d, a: sent.append((d, a))})()
    a = Recorded("aaaa")
    shared.register(a, "aaaa")
    transport = MuxTransport(shared, a)  # type: ignore[arg-type]
    transport.sendto(b"x", ("192.0.2.1", 1))
    assert sent == [(b"x", ("192.0.2.1", 1))] and not transport.is_closing()
    transport.close()
    transport.close()
    transport.sendto(b"y", ("192.0.2.1", 1))
    await asyncio.sleep(0)  # connection_lost is called soon, as asyncio's transports do
    assert sent == [(b"x", ("192.0.2.1", 1))] and transport.is_closing() and a.lost == 1
    assert shared.by_ufrag == {} and transport.get_extra_info("socket") is None


def test_port_ranges_take_every_valid_port() -> None:
    assert parse_port_range("1-1") == (1, 1)
    assert parse_port_range("65535-65535") == (65535, 65535)
    assert parse_port_range(" 1 - 65535 ") == (1, 65535)
    for bad in ("a-5", "5-a", "0-0", "65535-65536"):
        with pytest.raises(ValueError, match="UDP port range"):
            parse_port_range(bad)


def test_host_names_in_candidates_are_left_alone() -> None:
    sdp = "v=0\r\na=candidate:1 1 udp 2130706431 abc.local 50000 typ host\r\n"
    assert ServerNetwork(public_ip="203.0.113.2").announce(sdp) == sdp


def checked_request(ufrag: str, password: str) -> bytes:
    request = stun.Message(stun.Method.BINDING, stun.Class.REQUEST)
    request.attributes["USERNAME"] = f"{ufrag}:remote"
    request.add_message_integrity(password.encode())
    return bytes(request)


def test_a_live_connections_address_is_not_moved_by_anothers_valid_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Finding 9: a client with a connection of its own, spoofing a victim's source address
    on its own valid checks, does not take the victim's address (and its traffic)."""
    import peerpyrtc._rtc.udpmux as udpmux

    clock = [1000.0]
    monkeypatch.setattr(udpmux.time, "monotonic", lambda: clock[0])
    shared = shared_socket()
    victim, attacker = Recorded("vvvv"), Recorded("aaaa")
    shared.register(victim, "vvvv")
    shared.register(attacker, "aaaa")
    where = ("192.0.2.10", 4000)
    shared.datagram_received(checked_request("vvvv", "p" * 22), where)
    assert shared.by_addr[where] is victim
    before = shared.mux.dropped
    clock[0] += udpmux.CONSENT_SECONDS - 1  # the victim's last proof is still fresh
    shared.datagram_received(checked_request("aaaa", "p" * 22), where)  # spoofed source
    assert shared.by_addr[where] is victim and attacker.got == []
    assert shared.mux.dropped == before + 1
    shared.datagram_received(DTLS, where)
    assert victim.got[-1] == (DTLS, where)  # its traffic still reaches it
    shared.datagram_received(checked_request("vvvv", "p" * 22), where)  # consent renews it
    clock[0] += udpmux.CONSENT_SECONDS - 1
    shared.datagram_received(checked_request("aaaa", "p" * 22), where)
    assert shared.by_addr[where] is victim
    clock[0] += 2  # silent for longer than consent allows: gone, the address may move
    shared.datagram_received(checked_request("aaaa", "p" * 22), where)
    assert shared.by_addr[where] is attacker
    shared.unregister(attacker)  # and a closed connection's address is free at once
    shared.datagram_received(checked_request("vvvv", "p" * 22), where)
    assert shared.by_addr[where] is victim
