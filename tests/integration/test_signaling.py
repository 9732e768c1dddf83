"""Signalling over real HTTP: sessions, identity, and bad input that harms no one."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from conftest import TIMEOUT, Join, Recorder, http_request, until
from peerpyrtc import (
    AsyncClient,
    AsyncSignalingManager,
    Limits,
    SignalingError,
    SignalingServer,
    start_server,
)
from peers import joined
from rawsignal import local_address, offer_sdp

CANDIDATE = "candidate:1 1 udp 2122260223 127.0.0.1 54321 typ host"


async def raw_post(server: SignalingServer | str, path: str, body: bytes) -> tuple[int, Any]:
    url = server if isinstance(server, str) else server.url
    status, _, payload = await http_request(url + path, "POST", body)
    return status, json.loads(payload)


async def post(server: SignalingServer | str, path: str, payload: Any) -> tuple[int, Any]:
    return await raw_post(server, path, json.dumps(payload).encode())


async def still_relaying(a: AsyncClient, rb: Recorder, text: str) -> None:
    await a.send_message(text)
    assert await rb.expect("message") == (a.peer_id, text, None)


@pytest.fixture
async def pair(join: Join) -> tuple[AsyncClient, Recorder, AsyncClient, Recorder]:
    a, ra = await join("room", "alice")
    b, rb = await join("room", "bob")
    return a, ra, b, rb


GOOD_OFFER = {"sdp": "v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n", "type": "offer"}


@pytest.mark.parametrize(
    ("path", "payload", "status", "says"),
    [
        ("/offer", {"peer_id": "x", "offer": GOOD_OFFER}, 400, "missing required field(s): room"),
        ("/offer", {"room": "room"}, 400, "peer_id, offer"),
        ("/offer", [1, 2], 400, "JSON object"),
        (
            "/offer",
            {"room": 5, "peer_id": "x", "offer": GOOD_OFFER},
            400,
            "'room' must be a string",
        ),
        ("/offer", {"room": "", "peer_id": "x", "offer": GOOD_OFFER}, 400, "must not be empty"),
        ("/offer", {"room": "r", "peer_id": "a b/c", "offer": GOOD_OFFER}, 400, "may only hold"),
        ("/offer", {"room": "r", "peer_id": "x" * 65, "offer": GOOD_OFFER}, 400, "longer than"),
        ("/offer", {"room": "r", "peer_id": "server", "offer": GOOD_OFFER}, 400, "reserved"),
        ("/offer", {"room": "r", "peer_id": "x", "offer": "sdp"}, 400, "'offer' must be an object"),
        ("/offer", {"room": "r", "peer_id": "x", "offer": {"sdp": "v=0"}}, 400, "'offer.type'"),
        ("/offer", {"room": "r", "peer_id": "x", "offer": {"type": "offer"}}, 400, "'offer.sdp'"),
        (
            "/offer",
            {"room": "r", "peer_id": "x", "offer": {"sdp": "hello", "type": "offer"}},
            400,
            "not an SDP",
        ),
        (
            "/offer",
            {"room": "r", "peer_id": "x", "offer": {"sdp": "v=0\r\nnonsense", "type": "offer"}},
            400,
            "one media section",
        ),
        (
            "/offer",
            {
                "room": "r",
                "peer_id": "x",
                "offer": {
                    "sdp": "v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
                    "a=fingerprint:sha-256 00\r\na=setup:actpass\r\n",
                    "type": "offer",
                },
            },
            400,
            "refused",
        ),
        (
            "/offer",
            {"room": "r", "peer_id": "x", "offer": {**GOOD_OFFER, "session": "short"}},
            400,
            "'session'",
        ),
        (
            "/offer",
            {"room": "r", "peer_id": "x", "offer": {**GOOD_OFFER, "info": [1]}},
            400,
            "'info'",
        ),
        (
            "/offer",
            {"room": "r", "peer_id": "x", "offer": {**GOOD_OFFER, "protocol": 9}},
            400,
            "protocol version",
        ),
        (
            "/offer",
            {"room": "r", "peer_id": "x", "offer": {**GOOD_OFFER, "info": {"a": "x" * 5000}}},
            413,
            "larger",
        ),
        ("/candidate", {"room": "r", "peer_id": "x"}, 400, "candidate"),
        ("/candidate", {"room": "r", "peer_id": "x", "candidate": "c"}, 400, "must be an object"),
        (
            "/candidate",
            {"room": "r", "peer_id": "x", "candidate": {"candidate": 1}},
            400,
            "must be a string",
        ),
        (
            "/candidate",
            {"room": "r", "peer_id": "x", "candidate": {"candidate": CANDIDATE}},
            400,
            "sdpMid",
        ),
        (
            "/candidate",
            {
                "room": "r",
                "peer_id": "x",
                "candidate": {"candidate": "candidate:1 2", "sdpMid": "0"},
            },
            400,
            "malformed",
        ),
        (
            "/candidate",
            {
                "room": "r",
                "peer_id": "nobody",
                "candidate": {"candidate": CANDIDATE, "sdpMid": "0"},
            },
            404,
            "no peer",
        ),
        ("/leave", {"room": "r"}, 400, "peer_id"),
        ("/nowhere", {}, 404, "no route"),
    ],
)
async def test_bad_requests_get_a_clear_4xx_and_others_carry_on(
    server: SignalingServer,
    pair: tuple[AsyncClient, Recorder, AsyncClient, Recorder],
    manager: AsyncSignalingManager,
    path: str,
    payload: Any,
    status: int,
    says: str,
) -> None:
    a, _, b, rb = pair
    before = manager.rooms_info()
    got_status, body = await post(server, path, payload)
    assert got_status == status
    assert says in body["error"]
    assert manager.rooms_info() == before
    await still_relaying(a, rb, f"after {path}")


async def test_malformed_json_and_oversized_bodies(
    server: SignalingServer, pair: tuple[AsyncClient, Recorder, AsyncClient, Recorder]
) -> None:
    a, _, _, rb = pair
    status, body = await raw_post(server, "/offer", b"{not json")
    assert status == 400 and "not valid JSON" in body["error"]
    status, body = await raw_post(server, "/offer", b"\xff\xfe")
    assert status == 400
    status, body = await raw_post(server, "/candidate", b"x" * (300 * 1024))
    assert status == 413 and "larger than" in body["error"]
    await still_relaying(a, rb, "after junk")


async def test_get_rooms_and_wrong_methods(
    server: SignalingServer, pair: tuple[AsyncClient, Recorder, AsyncClient, Recorder]
) -> None:
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(b"GET /rooms HTTP/1.1\r\nHost: x\r\n\r\nGET /offer HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
    answer = json.loads(await reader.readexactly(length))
    # no admin token configured: the admin route does not exist, and no room data leaves
    assert head.startswith(b"HTTP/1.1 404") and answer["code"] == "ERR_NOT_FOUND"
    assert "alice" not in json.dumps(answer)
    head = await reader.readuntil(b"\r\n\r\n")  # keep-alive: a second request, same connection
    assert head.startswith(b"HTTP/1.1 405")
    writer.close()
    await writer.wait_closed()


async def test_a_taken_peer_id_is_refused_and_the_holder_keeps_it(
    server: SignalingServer, pair: tuple[AsyncClient, Recorder, AsyncClient, Recorder]
) -> None:
    a, _, b, rb = pair
    impostor = AsyncClient(server.url, "room", "alice")
    with pytest.raises(SignalingError) as info:
        await impostor.connect()
    assert info.value.status == 409 and "already in use" in str(info.value)
    await still_relaying(a, rb, "still alice")
    assert [p["id"] for p in b.peers] == ["alice", "bob"]


async def test_the_same_session_reconnects_at_once_and_keeps_membership(
    server: SignalingServer,
    pair: tuple[AsyncClient, Recorder, AsyncClient, Recorder],
    manager: AsyncSignalingManager,
) -> None:
    a, ra, b, rb = pair
    again = AsyncClient(server.url, "room", "alice")
    again.session = a.session  # the session secret proves it is the same peer
    rec = Recorder(again)
    await asyncio.wait_for(again.connect(), TIMEOUT)
    try:
        await asyncio.wait_for(a.wait_closed(), TIMEOUT)  # the old connection is replaced
        assert again.is_host and [p["id"] for p in again.peers] == ["alice", "bob"]
        await b.send_message("to the new alice")
        assert await rec.expect("message") == ("bob", "to the new alice", None)
        await still_relaying(again, rb, "from the new alice")
        assert not [e for e in rb.history if e[0] in ("left", "joined")]
        assert manager.rooms_info()["room"]["host_id"] == "alice"
    finally:
        await again.close()


async def test_leave_needs_the_session(
    server: SignalingServer,
    pair: tuple[AsyncClient, Recorder, AsyncClient, Recorder],
    manager: AsyncSignalingManager,
) -> None:
    a, _, b, rb = pair
    status, body = await post(server, "/leave", {"room": "room", "peer_id": "alice"})
    assert status == 200 and body == {"status": "ok"}  # the seed's route still answers...
    assert [p["id"] for p in manager.get_room_peers("room")] == ["alice", "bob"]  # ...alice stays
    status, _ = await post(
        server, "/leave", {"room": "room", "peer_id": "alice", "session": "x" * 32}
    )
    assert status == 200 and len(manager.get_room_peers("room")) == 2
    await still_relaying(a, rb, "not kicked")
    status, _ = await post(
        server, "/leave", {"room": "room", "peer_id": "alice", "session": a.session}
    )
    assert status == 200
    assert (await rb.expect("left"))["id"] == "alice"
    assert [p["id"] for p in manager.get_room_peers("room")] == ["bob"]
    status, _ = await post(server, "/leave", {"room": "nowhere", "peer_id": "ghost"})
    assert status == 200  # leaving twice, or leaving nothing, is harmless


async def test_candidates_need_the_session(
    server: SignalingServer, pair: tuple[AsyncClient, Recorder, AsyncClient, Recorder]
) -> None:
    a, _, _, rb = pair
    cand = {"candidate": CANDIDATE, "sdpMid": "0", "sdpMLineIndex": 0}
    status, body = await post(
        server, "/candidate", {"room": "room", "peer_id": "alice", "candidate": cand}
    )
    assert status == 403 and "session" in body["error"]
    wrong = {**cand, "session": "y" * 32}
    status, _ = await post(
        server, "/candidate", {"room": "room", "peer_id": "alice", "candidate": wrong}
    )
    assert status == 403
    mine = {**cand, "session": a.session}
    status, _ = await post(
        server, "/candidate", {"room": "room", "peer_id": "alice", "candidate": mine}
    )
    assert status == 200
    for text in (
        "",
        "candidate:1 1 udp 2122260223 3f2a1c4e-1111-2222-3333-444455556666.local 5000 typ host",
    ):
        status, _ = await post(
            server,
            "/candidate",
            {"room": "room", "peer_id": "alice", "candidate": {**mine, "candidate": text}},
        )
        assert status == 200  # end-of-candidates and mDNS names are accepted and skipped
    await still_relaying(a, rb, "after candidates")


async def test_candidates_before_the_offer_are_kept_for_their_session() -> None:
    from peerpyrtc import Limits

    # loopback allowed here: this is about keeping candidates, not about which addresses
    manager = AsyncSignalingManager(limits=Limits(blocked_candidate_networks=()))
    server = await start_server(manager)
    client = AsyncClient(server.url, "early", "eve")
    cand = {"candidate": CANDIDATE, "sdpMid": "0", "sdpMLineIndex": 0, "session": client.session}
    try:
        status, _ = await post(
            server, "/candidate", {"room": "early", "peer_id": "eve", "candidate": cand}
        )
        assert status == 200
        assert ("early", "eve", client.session) in manager.parts.early.sessions()
        await asyncio.wait_for(client.connect(), TIMEOUT)
        assert ("early", "eve", client.session) not in manager.parts.early.sessions()  # applied
        assert client.connected
        peer = manager.peers.active[("early", "eve")]
        remote = peer.link.pc.sctp.transport.transport.iceGatherer  # the candidate reached ICE
        assert peer.candidates == 1 and remote is not None
    finally:
        await client.close()
        await server.close()
        await manager.close()


async def test_the_sender_id_is_stamped_by_the_server(
    pair: tuple[AsyncClient, Recorder, AsyncClient, Recorder],
) -> None:
    a, _, b, rb = pair
    errors: asyncio.Queue[Any] = asyncio.Queue()
    a.on("error", lambda sender, env: errors.put_nowait(env))
    assert a.connection is not None
    for frame in ('{"t":"msg","d":"I am bob","from":"bob"}', "not json", '{"t":7}'):
        a.connection.queue.put(frame)
        a.connection.queue.flush()  # one frame each (queued together they would form one batch)
    codes = [(await asyncio.wait_for(errors.get(), TIMEOUT))["code"] for _ in range(3)]
    assert codes == ["ERR_PROTOCOL"] * 3
    a.connection.queue.put('{"t":"teleport","d":"from a later version"}')  # unknown types: ignored
    await still_relaying(a, rb, "honest")
    assert errors.empty()
    assert [m for k, m in rb.history if k == "message"] == [("alice", "honest", None)]


async def test_server_id_cannot_be_taken(server: SignalingServer) -> None:
    client = AsyncClient(server.url, "room", "server")
    with pytest.raises(SignalingError, match="reserved"):
        await client.connect()


async def test_a_pending_offer_that_never_connects_frees_its_id(server: SignalingServer) -> None:
    from peerpyrtc import AsyncSignalingManager, Limits

    manager = AsyncSignalingManager(limits=Limits(pending_timeout=0.3))
    srv = await start_server(manager)
    try:
        from aiortc import RTCPeerConnection

        pc = RTCPeerConnection()
        pc.createDataChannel("peerpyrtc")
        await pc.setLocalDescription(await pc.createOffer())
        offer = {"sdp": pc.localDescription.sdp, "type": "offer"}
        await pc.close()  # never completes the handshake
        status, body = await post(srv, "/offer", {"room": "r", "peer_id": "ghost", "offer": offer})
        assert status == 200 and body["answer"]["session"]
        pending = manager.peers.pending[("r", "ghost")]
        status, _ = await post(srv, "/offer", {"room": "r", "peer_id": "ghost", "offer": offer})
        assert status == 409  # held while pending
        await until(lambda: ("r", "ghost") not in manager.peers.pending)  # after pending_timeout
        assert pending.state == "closed"
        async with AsyncClient(srv.url, "r", "ghost") as client:
            assert client.connected and client.is_host
    finally:
        await srv.close()
        await manager.close()


async def test_pending_offers_are_capped_per_address_and_server_wide(make_server: Any) -> None:
    server, manager = await make_server(
        limits=Limits(max_pending_per_address=3, max_pending_offers=5)
    )
    sdp = await offer_sdp()
    statuses = []
    for i in range(5):
        status, body = await post(server.url, "/offer",
                                  {"room": f"fresh-{i}", "peer_id": "p", "offer": {"type": "offer", "sdp": sdp}})  # fmt: skip
        statuses.append((status, body.get("code")))
    assert statuses[:3] == [(200, None)] * 3
    assert statuses[3:] == [(429, "ERR_RATE_LIMITED")] * 2
    assert len(manager.peers.pending) == 3
    others = {"remote_addr": "198.51.100.7"}
    for i in range(2):  # another address may still use what is left server-wide
        await manager.offer(f"other-{i}", "p", {"type": "offer", "sdp": sdp}, metadata=others)
    with pytest.raises(Exception, match="too many connections"):
        await manager.offer("other-x", "p", {"type": "offer", "sdp": sdp}, metadata=others)


async def test_candidates_are_capped_and_stored_small(make_server: Any) -> None:
    server, manager = await make_server(
        limits=Limits(max_candidates_per_peer=3, max_early_candidates=2)
    )
    client, _ = await joined(server.url, "r", "alice")
    cand = "candidate:1 1 udp 2122260223 " + await local_address() + " {} typ host"
    try:
        codes = []
        for i in range(5):
            body = {"room": "r", "peer_id": "alice", "candidate": {
                "candidate": cand.format(i + 10), "sdpMid": "0", "session": client.session}}  # fmt: skip
            status, answer = await post(server.url, "/candidate", body)
            codes.append(status)
        assert codes == [200, 200, 200, 429, 429]
        early = {
            "candidate": cand.format(1),
            "sdpMid": "0",
            "session": "s" * 32,
            "junk": "x" * 100_000,
        }
        for expect in (200, 200, 429):
            status, _ = await post(
                server.url, "/candidate", {"room": "r", "peer_id": "later", "candidate": early}
            )
            assert status == expect
        [kept] = [manager.parts.early.kept(*k) for k in manager.parts.early.sessions()]
        assert kept == [{"candidate": cand.format(1), "sdpMid": "0"}] * 2  # no junk kept
    finally:
        await client.close()


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "169.254.169.254",
        "0.0.0.0",
        "224.0.0.251",
        "::1",
        "fe80::1",
        "::ffff:127.0.0.1",
        "metadata.google.internal",
        "100.100.100.200",
    ],
)
async def test_the_server_never_probes_refused_addresses(make_server: Any, address: str) -> None:
    server, manager = await make_server()
    sdp = (await offer_sdp()).replace("a=end-of-candidates\r\n", "")
    line = f"a=candidate:9 1 udp 2122260223 {address} 9 typ host\r\n"
    sdp = sdp.replace("a=ice-ufrag", line + "a=ice-ufrag", 1)
    own = await local_address()
    status, body = await post(server.url, "/offer", {"room": "r", "peer_id": "p",
                                                     "offer": {"type": "offer", "sdp": sdp, "session": "s" * 32}})  # fmt: skip
    assert status == 200
    cand = {
        "candidate": f"candidate:8 1 udp 1 {address} 7 typ host",
        "sdpMid": "0",
        "session": "s" * 32,
    }
    status, _ = await post(
        server.url, "/candidate", {"room": "r", "peer_id": "p", "candidate": cand}
    )
    ok = {"candidate": f"candidate:7 1 udp 1 {own} 7 typ host", "sdpMid": "0", "session": "s" * 32}
    assert (
        status == 200
        and (await post(server.url, "/candidate", {"room": "r", "peer_id": "p", "candidate": ok}))[
            0
        ]
        == 200
    )
    peer = manager.peers.pending[("r", "p")]
    remote = {
        (c.host, c.port)
        for c in peer.link.pc.sctp.transport.transport._connection._remote_candidates
    }
    assert (own, 7) in remote  # an ordinary address passes; the refused one never
    assert not [h for h, _ in remote if h.split("%")[0] in (address, "127.0.0.1")]
    assert peer.candidates == 1


async def test_clients_behind_one_address_all_get_in_past_the_pending_cap(make_server: Any) -> None:
    """A 429 for too many offers from one address is retried by the clients, not final."""
    server, manager = await make_server(limits=Limits(max_pending_per_address=3))
    clients = [AsyncClient(server.url, "r", f"p{i}") for i in range(24)]
    try:
        await asyncio.gather(*(c.connect() for c in clients))  # 24 at once, 3 set up at a time
        assert all(c.connected for c in clients)
        assert manager.rooms_info()["r"]["peer_count"] == 24
    finally:
        await asyncio.gather(*(c.close() for c in clients))
