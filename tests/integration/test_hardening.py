"""Hardening round 2: one regression test per class of finding (docs/security.md).

Each one failed on the code before the round: a bad client hurts only itself.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import json
import multiprocessing
import threading
from typing import Any

import pytest

from conftest import TIMEOUT, Recorder, until
from peerpyrtc import (
    AsyncClient,
    AsyncSignalingManager,
    InvalidRequest,
    Limits,
    Message,
    ProtocolError,
    ServerOptions,
    SignalingError,
    SignalingManager,
    start_server,
)
from peerpyrtc._rtc.sendqueue import SendQueue
from rawsignal import local_address, offer_sdp, post


async def joined(url: str, room: str, peer_id: str, **kw: Any) -> tuple[AsyncClient, Recorder]:
    client = AsyncClient(url, room, peer_id, max_reconnect_attempts=0, **kw)
    rec = Recorder(client)
    await asyncio.wait_for(client.connect(), TIMEOUT)
    return client, rec


# 1. One joiner silences a room ------------------------------------------------------------
async def test_a_lone_surrogate_never_reaches_a_queue(make_server: Any) -> None:
    server, manager = await make_server()
    a, _ = await joined(server.url, "r", "alice")
    b, rb = await joined(server.url, "r", "bob")
    try:
        with pytest.raises(SignalingError) as refused:
            await joined(server.url, "r", "mallory", info={"name": "\ud800"})
        assert refused.value.status == 400
        with pytest.raises(InvalidRequest):  # plain routes hand the manager what Flask parsed
            await manager.offer("r", "eve", {"type": "offer", "sdp": await offer_sdp(),
                                             "info": {"name": "x\udfff"}})  # fmt: skip
        with pytest.raises(ProtocolError):
            await manager.send_message("r", "server says \ud800")

        @manager.before_relay
        def rewrite(message: Message) -> Message:
            if message.data == "poison":
                return dataclasses.replace(message, data="\udc00")
            return message

        await a.send_message("poison")  # the hook's bad rewrite is dropped, nothing else
        await a.send_message("after")
        assert await rb.expect("message") == ("alice", "after", None)
        assert await manager.send_message("r", "still speaking") == 2
        assert await rb.expect("message") == ("server", "still speaking", None)
    finally:
        await a.close()
        await b.close()


def test_a_send_queue_never_wedges_on_one_bad_item() -> None:
    from fakes import RecordingChannel

    channel = RecordingChannel()
    sent = channel.sent

    async def run() -> None:
        queue = SendQueue(1 << 20)
        queue.attach(channel)  # type: ignore[arg-type]
        queue.put('{"d":"\ud800"}')
        queue.put('{"d":"é"}')
        queue.put(b"\x00binary")
        queue.put('{"d":"after"}')
        queue.flush()
        assert sent == ['{"d":"é"}', b"\x00binary", '{"d":"after"}']
        assert queue._bytes == 0  # measured in bytes: "é" is two

    asyncio.run(run())


def test_a_close_notice_reaches_a_congested_peer() -> None:
    """A peer cut off while its channel is full still reads why (its backlog is dropped)."""
    from peerpyrtc._rtc.sendqueue import HIGH_WATER

    sent: list[Any] = []

    class FullChannel:
        readyState = "open"
        bufferedAmount = HIGH_WATER + 1
        bufferedAmountLowThreshold = 0

        def on(self, *args: Any) -> None:
            pass

        def send(self, data: Any) -> None:
            sent.append(data)

    async def run() -> None:
        queue = SendQueue(1 << 20)
        queue.attach(FullChannel())  # type: ignore[arg-type]
        for i in range(5):
            queue.put(f'{{"d":{i}}}')
        queue.flush()
        assert sent == []  # congested: nothing moves
        queue.send_last('{"t":"close"}')
        assert sent == ['{"t":"close"}'] and queue._bytes == 0

    asyncio.run(run())


# 2. Non-finite numbers, 3. 5xx from client input ----------------------------------------
async def test_hostile_frames_are_refused_whole_and_the_room_goes_on(make_server: Any) -> None:
    server, manager = await make_server()
    a, ra = await joined(server.url, "r", "alice")
    b, rb = await joined(server.url, "r", "bob")
    errors: asyncio.Queue[Any] = asyncio.Queue()
    a.on("error", lambda sender, env: errors.put_nowait(env))
    try:
        assert a.connection is not None
        hostile = [
            '[{"t":"msg","d":"lost with its batch"},{"t":"emit","e":"x","d":NaN}]',
            '{"t":"emit","e":"x","d":1e999}',
            '{"t":"msg","d":"\\ud800"}',
            "[" * 60_000,
        ]
        for frame in hostile:
            a.connection.queue.put(frame)
            a.connection.queue.flush()
        for _ in hostile:
            assert (await asyncio.wait_for(errors.get(), TIMEOUT))["code"] == "ERR_PROTOCOL"
        await a.send_message("clean")
        assert await rb.expect("message") == ("alice", "clean", None)
        assert [m for k, m in rb.history if k == "message"] == [("alice", "clean", None)]
    finally:
        await a.close()
        await b.close()


# 4. Unbounded resources without authorization -------------------------------------------
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


# 5. The built-in HTTP server -------------------------------------------------------------
async def test_the_built_in_server_bounds_slow_clients_and_connections(make_server: Any) -> None:
    limits = Limits(http_header_timeout=0.5, http_idle_timeout=0.5, http_body_timeout=0.5,
                    max_http_connections=4)  # fmt: skip
    server, _ = await make_server(limits=limits)

    async def opened() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(server.host, server.port)

    slow_head = await opened()
    slow_head[1].write(b"POST /offer HTTP/1.1\r\nHost: x\r\n")
    slow_body = await opened()
    slow_body[1].write(b"POST /offer HTTP/1.1\r\nContent-Length: 10\r\n\r\n{")
    idle = await opened()
    for reader, _ in (slow_head, slow_body, idle):  # each is hung up on, on its own
        await asyncio.wait_for(reader.read(), TIMEOUT)
        assert reader.at_eof()
    held = [await opened() for _ in range(4)]
    extra = await opened()
    assert b" 503 " in await asyncio.wait_for(extra[0].read(), TIMEOUT)
    for _, writer in [*held, extra, slow_head, slow_body, idle]:
        writer.close()


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"Content-Length: 2\r\nContent-Length: 2\r\n", 400),
        (b"Content-Length: 2\r\nContent-Length: 3\r\n", 400),
        (b"Content-Length: +2\r\n", 400),
        (b"Content-Length: 1_0\r\n", 400),
        (b"Content-Length:  2 \r\nX: y\r\n", 200),  # optional white space is fine
        (b"Transfer-Encoding: chunked\r\n", 411),
        (b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n", 411),
        (b"Bad Header: x\r\n", 400),
    ],
)
async def test_the_built_in_server_parses_heads_strictly(
    make_server: Any, head: bytes, status: int
) -> None:
    server, _ = await make_server()
    reader, writer = await asyncio.open_connection(server.host, server.port)
    body = b'{"room":"r","peer_id":"p"}' if status == 200 else b"{}"
    if status == 200:
        head = head.replace(b" 2 ", f" {len(body)} ".encode())
    writer.write(b"POST /leave HTTP/1.1\r\nHost: x\r\n" + head + b"\r\n" + body)
    answer = (
        await asyncio.wait_for(reader.read(), TIMEOUT)
        if status != 200
        else await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
    )
    writer.close()
    assert answer.startswith(f"HTTP/1.1 {status} ".encode()), answer[:200]
    if status != 200:
        assert json.loads(answer.partition(b"\r\n\r\n")[2])["code"].startswith("ERR_")


# 7. Flood limits meter bytes; the sender is cut off, never its receivers -----------------
async def test_a_byte_flood_cuts_off_the_sender_not_a_slow_receiver(make_server: Any) -> None:
    limits = Limits(max_bytes_per_second=64 * 1024, byte_burst=512 * 1024)
    server, manager = await make_server(limits=limits)
    flooder, rf = await joined(server.url, "r", "flooder")
    watcher, rw = await joined(server.url, "r", "watcher")
    try:
        payload = "x" * 60_000
        with pytest.raises(Exception):  # noqa: B017 - the flooder is told and cut off
            for _ in range(200):
                await flooder.broadcast("big", payload)
        close = await rf.expect("close")
        assert "flooding" in close and "bytes per second" in close
        assert (await rw.expect("left"))["id"] == "flooder"
        assert watcher.connected and [p["id"] for p in manager.get_room_peers("r")] == ["watcher"]
        got = [m for k, m in rw.history if k == "message"]
        assert 0 < len(got) <= 10  # about burst / 60 KB arrived before the cut
    finally:
        await flooder.close()
        await watcher.close()


async def test_invalid_frames_are_charged_to_their_sender(make_server: Any) -> None:
    server, manager = await make_server(limits=Limits(message_burst=50, max_messages_per_second=1))
    bad, rbad = await joined(server.url, "r", "bad")
    good, rgood = await joined(server.url, "r", "good")
    try:
        assert bad.connection is not None
        for _ in range(60):
            bad.connection.queue.put("not json")
            bad.connection.queue.flush()
        assert "flooding" in await rbad.expect("close")
        assert (await rgood.expect("left"))["id"] == "bad"
    finally:
        await bad.close()
        await good.close()


async def test_the_moderation_inbox_is_bounded(make_server: Any) -> None:
    server, manager = await make_server(limits=Limits(max_inbox_bytes=20_000))
    release = asyncio.Event()

    @manager.before_relay
    async def slow(message: Message) -> Message:
        await release.wait()
        return message

    sender, rs = await joined(server.url, "r", "sender")
    other, ro = await joined(server.url, "r", "other")
    try:
        for i in range(40):
            await sender.send_message(f"{i}:" + "y" * 1000)
        assert "faster than the server moderates" in await rs.expect("close")
        assert (await ro.expect("left"))["id"] == "sender"
        release.set()
    finally:
        await sender.close()
        await other.close()


# 9. Reconnection keeps the peer's place and host role ------------------------------------
async def test_a_python_client_that_loses_its_transport_keeps_its_place(make_server: Any) -> None:
    server, manager = await make_server()
    host = AsyncClient(server.url, "r", "host", reconnect_delay=0.1)
    host_rec = Recorder(host)
    await host.connect()
    other, ro = await joined(server.url, "r", "other")
    session = host.session
    reconnected = asyncio.Event()
    host.on_reconnect = reconnected.set
    try:
        assert host.connection is not None
        host.connection.fail("transport broke (test)")  # the client side only
        await asyncio.wait_for(reconnected.wait(), TIMEOUT)
        assert host.session == session and host.is_host and other.host_id == "host"
        assert [k for k, _ in ro.history if k in ("left", "joined")] == []
        await host.send_message("back")
        assert await ro.expect("message") == ("host", "back", None)
        assert [k for k, _ in host_rec.history if k == "close"] == []
    finally:
        await host.close()
        await other.close()


async def test_reconnection_failures_of_any_kind_end_in_closed(make_server: Any) -> None:
    """A server that answers garbage (not HTTP, cut mid-answer): retried, then closed."""
    server, manager = await make_server()
    client = AsyncClient(server.url, "r", "p", reconnect_delay=0.05, reconnect_timeout=1.5)
    rec = Recorder(client)
    await client.connect()

    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{")  # cut short
        writer.close()

    bad = await asyncio.start_server(garbage, "127.0.0.1", 0)
    client.server_url = f"http://127.0.0.1:{bad.sockets[0].getsockname()[1]}/"
    try:
        await manager.kick("r", "p", "gone for a test")  # a kick says: do not come back
        assert await rec.expect("close") == "gone for a test"
        client2 = AsyncClient(server.url, "r", "q", reconnect_delay=0.05, reconnect_timeout=1.5)
        rec2 = Recorder(client2)
        await client2.connect()
        client2.server_url = client.server_url
        await manager.close()  # a restart: reconnect is allowed, and every attempt gets garbage
        reason = await rec2.expect("close", timeout=TIMEOUT)
        assert reason and client2.state == "closed"
    finally:
        bad.close()
        await bad.wait_closed()
        await client.close()


# 10. The sync facade ---------------------------------------------------------------------
def test_the_facade_has_every_option_and_method_of_the_async_manager() -> None:
    def public(cls: type) -> set[str]:
        return {n for n in dir(cls) if not n.startswith("_")}

    # the facade's rooms_info()/get_room_peers() already ask the room store (they block anyway)
    awaitable_only = {"fetch_rooms_info", "fetch_room_peers"}
    missing = public(AsyncSignalingManager) - public(SignalingManager)
    assert missing == awaitable_only
    # one options object: every keyword of the async manager is a ServerOptions field, which
    # the facade takes as its keywords (validated by ServerOptions, unknown ones refused)
    async_params = set(inspect.signature(AsyncSignalingManager).parameters) - {"options"}
    assert async_params == {f.name for f in dataclasses.fields(ServerOptions)}
    with pytest.raises(TypeError, match="unknown server option"):
        SignalingManager(ice_server=["stun:x"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="admin_token"):
        SignalingManager(admin_token="short")
    assert not SignalingManager().started  # nothing runs until it is used


async def test_a_blocking_plain_hook_does_not_stall_the_relay() -> None:
    sync = SignalingManager(limits=Limits(heartbeat_interval=1.0, heartbeat_timeout=3.0))
    gate = threading.Event()
    entered = threading.Event()

    @sync.message_handler
    def blocking(room: str, peer_id: str, message: str) -> None:
        entered.set()
        gate.wait(10)  # a slow database write

    server = await asyncio.wrap_future(
        asyncio.run_coroutine_threadsafe(start_server(sync.async_manager), sync.loop)
    )
    a, _ = await joined(server.url, "r", "alice")
    b, rb = await joined(server.url, "r", "bob")
    try:
        await a.send_message("first")
        await asyncio.wait_for(asyncio.to_thread(entered.wait, TIMEOUT), TIMEOUT)
        for i in range(5):
            await a.send_message(f"m{i}")
        got = await rb.messages(6)
        assert [m[1] for m in got] == ["first", "m0", "m1", "m2", "m3", "m4"]
        await asyncio.wait_for(a.ping(), 3.0)  # the loop answers while the hook blocks
        # blocked past the heartbeat timeout (3 s): inline, the hook would have evicted everyone
        ticks = asyncio.get_running_loop().time() + 4.0
        await until(lambda: asyncio.get_running_loop().time() > ticks)
        assert a.connected and b.connected
        assert [p["id"] for p in sync.get_room_peers("r")] == ["alice", "bob"]
    finally:
        gate.set()
        await a.close()
        await b.close()
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(server.close(), sync.loop))
        await asyncio.to_thread(sync.close)


def _serve_in_child(manager: SignalingManager, results: Any, done: Any) -> None:
    try:
        manager.rooms_info()
        results.put("served")
    except RuntimeError as exc:
        results.put(str(exc))
    done.wait(30)  # a worker lives on while the others start


def test_a_manager_made_before_fork_serves_in_one_worker_and_refuses_a_second() -> None:
    manager = SignalingManager()  # as under gunicorn --preload: made in the parent
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    done = context.Event()
    first = context.Process(target=_serve_in_child, args=(manager, results, done))
    first.start()
    try:
        assert results.get(timeout=TIMEOUT) == "served"  # the lazily started loop works there
        second = context.Process(target=_serve_in_child, args=(manager, results, done))
        second.start()
        refused = results.get(timeout=TIMEOUT)
        assert "already serves in another process" in refused and "gunicorn -w 1" in refused
    finally:
        done.set()
        for proc in multiprocessing.active_children():
            proc.join(TIMEOUT)
    manager.close()


# 6 (kick) and issue 10: the role a leaving host had -----------------------------------
async def test_a_leaving_host_is_reported_as_host(make_server: Any) -> None:
    server, _ = await make_server()
    host, _ = await joined(server.url, "r", "host")
    other, ro = await joined(server.url, "r", "other")
    try:
        await host.close()
        left = await ro.expect("left")
        assert left["id"] == "host" and left["isHost"] is True and other.is_host
    finally:
        await other.close()


def test_ids_are_ascii() -> None:
    from peerpyrtc._limits import validate_id

    for bad in ("\u0430lice", "\u0455erver", "bob\u200b", "\uff41", "é"):
        with pytest.raises(InvalidRequest, match="ASCII"):
            validate_id(bad, "peer_id", Limits())
    assert validate_id("peer-x.y:z@w~1+2_3", "peer_id", Limits())


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
