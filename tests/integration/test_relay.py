"""Relay semantics with real aiortc peers on loopback."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest

from conftest import TIMEOUT, Join, Recorder, until
from peerpyrtc import (
    AsyncClient,
    AsyncSignalingManager,
    InvalidRequest,
    Limits,
    Message,
    PeerPyRTCError,
    ProtocolError,
    SignalingError,
)
from peerpyrtc._client.codec import Relayed
from peers import connected, joined, raw_envelopes
from rawsignal import offer_sdp


async def test_message_reaches_every_other_peer_not_the_sender(join: Join) -> None:
    a, ra = await join("room", "alice")
    b, rb = await join("room", "bob")
    c, rc = await join("room", "carol")
    await a.send_message("hello")
    assert await rb.expect("message") == ("alice", "hello", None)
    assert await rc.expect("message") == ("alice", "hello", None)
    await b.send_message("back")  # alice receives bob's, never her own
    assert await ra.expect("message") == ("bob", "back", None)
    assert all(v[0] != "alice" for k, v in ra.history if k == "message")


async def test_emit_to_others_and_targeted_emit(join: Join) -> None:
    a, ra = await join("room", "alice")
    b, rb = await join("room", "bob")
    c, rc = await join("room", "carol")
    got_b: asyncio.Queue[object] = asyncio.Queue()
    b.on("move", lambda sender, data: got_b.put_nowait((sender, data)))
    await a.emit("move", {"x": 5, "y": 3})
    assert await asyncio.wait_for(got_b.get(), 10) == ("alice", {"x": 5, "y": 3})
    assert await rc.expect("message") == ("alice", {"x": 5, "y": 3}, "move")
    await a.emit("secret", "for carol", to="carol")
    await a.emit("marker", None)  # ordered channel: bob sees the marker, never the secret
    assert await rc.expect("message") == ("alice", "for carol", "secret")
    assert await rb.expect("message", lambda m: m[2] == "marker")
    assert not [m for k, m in rb.history if k == "message" and m[2] == "secret"]


async def test_broadcasts_arrive_in_one_order_at_every_peer(join: Join) -> None:
    peers = [await join("room", name) for name in ("p0", "p1", "p2")]

    async def burst(i: int) -> None:
        for n in range(50):
            await peers[i][0].broadcast("tick", f"{i}-{n}")

    await asyncio.gather(*(burst(i) for i in range(3)))
    orders = []
    for _, rec in peers:
        got = await rec.messages(150)
        assert all(event == "tick" for _, _, event in got)
        orders.append([data for _, data, _ in got])
    assert orders[0] == orders[1] == orders[2]
    assert sorted(orders[0]) == sorted(f"{i}-{n}" for i in range(3) for n in range(50))
    for i in range(3):  # each sender's own order survives
        mine = [d for d in orders[0] if d.startswith(f"{i}-")]
        assert mine == [f"{i}-{n}" for n in range(50)]


async def test_many_messages_in_a_burst_all_arrive_in_order(join: Join) -> None:
    a, _ = await join("room", "alice")
    b, rb = await join("room", "bob")
    for n in range(2000):
        await a.send_message(str(n))
    got = await rb.messages(2000)
    assert [int(m[1]) for m in got] == list(range(2000))


async def test_rooms_are_isolated(join: Join) -> None:
    a, _ = await join("one", "alice")
    b, rb = await join("two", "bob")
    c, rc = await join("one", "carol")
    await a.send_message("only room one")
    assert await rc.expect("message") == ("alice", "only room one", None)
    await b.send_message("room two")
    await a.send_message("again")
    assert await rc.expect("message") == ("alice", "again", None)
    assert not [m for k, m in rb.history if k == "message"]
    assert not [m for k, m in rc.history if k == "message" and m[0] == "bob"]


async def test_presence_host_election_and_room_removal(
    join: Join, manager: AsyncSignalingManager
) -> None:
    a, ra = await join("room", "alice")
    assert a.is_host and [p["id"] for p in a.peers] == ["alice"]
    b, rb = await join("room", "bob")
    assert (await ra.expect("joined"))["id"] == "bob"
    assert [(p["id"], p["isHost"]) for p in b.peers] == [("alice", True), ("bob", False)]
    c, rc = await join("room", "carol")
    await ra.expect("joined")
    await rb.expect("joined")
    info = manager.rooms_info()["room"]
    assert info["peer_count"] == 3 and info["host_id"] == "alice"
    assert [p["id"] for p in manager.get_room_peers("room")] == ["alice", "bob", "carol"]

    await a.close()  # the host leaves: the longest-present peer (bob) takes over
    left = await rb.expect("left")
    assert left["id"] == "alice"
    await rc.expect("left")
    assert b.is_host and not c.is_host and c.host_id == "bob"
    assert manager.rooms_info()["room"]["host_id"] == "bob"
    assert [p["isHost"] for p in c.peers] == [True, False]

    await b.close()
    await rc.expect("left")
    assert c.is_host
    await c.close()
    assert manager.rooms_info() == {}
    assert manager.get_room_peers("room") == []


async def test_peer_info_is_shown_to_others(join: Join, manager: AsyncSignalingManager) -> None:
    a, _ = await join("room", "alice", info={"name": "Alice", "userAgent": "pytest"})
    b, _ = await join("room", "bob")
    alice = next(p for p in b.peers if p["id"] == "alice")
    assert alice["name"] == "Alice" and alice["userAgent"] == "pytest"
    assert isinstance(alice["joinedAt"], int)
    assert manager.get_room_peers("room")[0]["name"] == "Alice"


async def test_server_speaks_into_rooms(join: Join, manager: AsyncSignalingManager) -> None:
    a, ra = await join("room", "alice")
    b, rb = await join("room", "bob")
    assert await manager.send_message("room", "maintenance soon") == 2
    assert await ra.expect("message") == ("server", "maintenance soon", None)
    assert await rb.expect("message") == ("server", "maintenance soon", None)
    assert await manager.emit("room", "score", {"bob": 3}, to="bob") == 1
    assert await rb.expect("message") == ("server", {"bob": 3}, "score")
    assert await manager.emit("empty-room", "x") == 0
    try:
        await manager.emit("room", "x", to="nobody")
    except PeerPyRTCError as exc:
        assert exc.status == 404
    else:
        raise AssertionError("emit to an unknown peer must raise")


async def test_targeted_emit_to_unknown_peer_reports_an_error(join: Join) -> None:
    a, _ = await join("room", "alice")
    errors: asyncio.Queue[object] = asyncio.Queue()
    a.on("error", lambda sender, env: errors.put_nowait(env))
    await a.emit("x", 1, to="ghost")
    err = await asyncio.wait_for(errors.get(), 10)
    assert err["code"] == "ERR_UNKNOWN_PEER"  # type: ignore[index]


async def test_ping_measures_a_round_trip_to_the_server(join: Join) -> None:
    a, _ = await join("room", "alice")
    rtts = [await a.ping() for _ in range(3)]
    assert all(0 < rtt < TIMEOUT for rtt in rtts)


async def test_broadcasts_carry_one_gapless_sequence_per_room(
    make_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mutant: broadcasts relayed without their per-room sequence number ``n``."""
    server, _ = await make_server()
    clients = [AsyncClient(server.url, "r", f"p{i}") for i in range(3)]
    other_room = AsyncClient(server.url, "elsewhere", "x")
    seen = [raw_envelopes(c, monkeypatch) for c in clients]
    recs = [Recorder(c) for c in clients]
    try:
        for c in [*clients, other_room]:
            await c.connect()
        for i in range(10):
            await clients[i % 3].broadcast("tick", i)
            await other_room.broadcast("tick", i)  # another room: its own sequence
        for rec in recs:
            await rec.messages(10)
        orders = []
        for envs in seen:
            ticks = [e for e in envs if isinstance(e, Relayed) and e.kind == "bcast"]
            assert [e.seq for e in ticks] == list(range(1, 11))  # gapless, from 1, per room
            orders.append([(e.sender, e.data) for e in ticks])
            for i in range(3):  # each sender's own order is kept
                assert [d for f, d in orders[-1] if f == f"p{i}"] == list(range(i, 10, 3))
        assert orders[0] == orders[1] == orders[2]  # one order for every receiver
    finally:
        for c in [*clients, other_room]:
            await c.close()


async def test_a_steady_allowed_rate_stays_connected(make_server: Any) -> None:
    """Mutant: token buckets that never refill (only bursts were tested)."""
    limits = Limits(
        max_messages_per_second=200,
        message_burst=40,
        max_bytes_per_second=200_000,
        byte_burst=40_000,
    )
    server, _ = await make_server(limits=limits)
    sender = AsyncClient(server.url, "r", "steady", max_reconnect_attempts=0)
    receiver = AsyncClient(server.url, "r", "receiver")
    rec, rs = Recorder(receiver), Recorder(sender)
    try:
        await sender.connect()
        await receiver.connect()
        loop = asyncio.get_running_loop()
        started = loop.time()
        total = 0
        for burst in range(16):  # 20 messages of 1 KB every 0.125 s: 160/s and 160 KB/s, 2 s
            for _ in range(20):
                await sender.send_message(f"{total}:" + "y" * 1000)
                total += 1
            await asyncio.sleep(max(0.0, started + (burst + 1) * 0.125 - loop.time()))
        got = await rec.messages(total)
        assert [int(m[1].split(":")[0]) for m in got] == list(range(total))  # 320 > both bursts
        assert sender.connected and [k for k, _ in rs.history if k == "close"] == []
    finally:
        await sender.close()
        await receiver.close()


async def test_moderation_hooks_chain_each_sees_the_previous_rewrite(make_server: Any) -> None:
    """Mutant: every hook seeing the original message instead of the previous hook's rewrite."""
    server, manager = await make_server()
    seen_by_second: list[Any] = []

    @manager.before_relay
    def first(message: Message) -> Message:
        return dataclasses.replace(message, data=f"{message.data}-1")

    @manager.before_relay
    async def second(message: Message) -> Message:
        seen_by_second.append(message.data)
        return dataclasses.replace(message, data=f"{message.data}-2")

    a = AsyncClient(server.url, "r", "a")
    b = AsyncClient(server.url, "r", "b")
    rb = Recorder(b)
    try:
        await a.connect()
        await b.connect()
        await a.send_message("x")
        assert await rb.expect("message") == ("a", "x-1-2", None)
        assert seen_by_second == ["x-1"]
    finally:
        await a.close()
        await b.close()


async def test_a_rewrite_counts_field_by_field(make_server: Any) -> None:
    """before_relay: ``data``, ``event`` and ``to`` of a returned copy are what is relayed."""
    server, manager = await make_server()
    hooked: list[tuple[str, Any]] = []

    @manager.before_relay
    def rewrite(message: Message) -> Message | None:
        if message.event == "rename":
            return dataclasses.replace(message, event="renamed")
        if message.event == "redirect":
            return dataclasses.replace(message, to="carol")
        if message.event == "to-all":
            return dataclasses.replace(message, to=None)
        if message.kind == "message" and message.data == "bad":
            return dataclasses.replace(message, data=42)  # a msg must stay text: dropped
        return message

    @manager.on("renamed")
    def on_renamed(room: str, sender: str, data: Any) -> None:
        hooked.append(("renamed", data))

    clients = {name: AsyncClient(server.url, "r", name) for name in ("alice", "bob", "carol")}
    recs = {name: Recorder(c) for name, c in clients.items()}
    try:
        for c in clients.values():
            await c.connect()
        alice = clients["alice"]
        await alice.emit("rename", 1)
        assert await recs["bob"].expect("message") == ("alice", 1, "renamed")
        await alice.emit("redirect", 2, to="bob")  # the hook sends it to carol instead
        assert await recs["carol"].expect("message") == ("alice", 1, "renamed")
        assert await recs["carol"].expect("message") == ("alice", 2, "redirect")
        await alice.emit("to-all", 3, to="bob")
        assert await recs["carol"].expect("message") == ("alice", 3, "to-all")
        assert await recs["bob"].expect("message") == ("alice", 3, "to-all")
        await alice.send_message("bad")
        await alice.send_message("good")
        assert await recs["bob"].expect("message") == ("alice", "good", None)
        assert ("alice", 2, "redirect") not in [m for k, m in recs["bob"].history if k == "message"]
        assert hooked == [("renamed", 1)]
    finally:
        for c in clients.values():
            await c.close()


async def test_bye_and_pong_are_for_the_server_only(
    make_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mutants: ``bye``/``pong`` not recognised, so relayed to the room like a message."""
    server, _ = await make_server()
    alice = AsyncClient(server.url, "r", "alice")
    bob = AsyncClient(server.url, "r", "bob")
    seen = raw_envelopes(bob, monkeypatch)
    rb = Recorder(bob)
    try:
        await alice.connect()
        await bob.connect()
        assert alice.connection is not None
        alice.connection.queue.put('{"t":"pong","d":"not for bob"}')
        await alice.send_message("after the pong")
        assert await rb.expect("message") == ("alice", "after the pong", None)
        await alice.close()  # a goodbye over the channel
        left = await rb.expect("left")
        assert (left["id"], left["reason"]) == ("alice", "left")  # not "closed": the bye counted
        assert [type(e).__name__ for e in seen if type(e).__name__ in ("Pong", "Relayed")] == [
            "Relayed"
        ]
    finally:
        await alice.close()
        await bob.close()


async def test_the_message_burst_is_exact(make_server: Any) -> None:
    """Mutants: the bucket charging 2 per frame, or cutting off at zero instead of below it."""
    server, _ = await make_server(limits=Limits(message_burst=10, max_messages_per_second=0.001))
    sender = AsyncClient(server.url, "r", "sender", max_reconnect_attempts=0)
    other = AsyncClient(server.url, "r", "other")
    rs, ro = Recorder(sender), Recorder(other)
    try:
        await sender.connect()
        await other.connect()
        assert sender.connection is not None
        for i in range(10):  # ten frames of one envelope: exactly the burst
            sender.connection.queue.put(f'{{"t":"msg","d":"{i}"}}')
            sender.connection.queue.flush()
        got = await ro.messages(10)
        assert [m[1] for m in got] == [str(i) for i in range(10)]
        assert sender.connected
        sender.connection.queue.put('{"t":"msg","d":"one too many"}')
        sender.connection.queue.flush()
        assert "flooding" in await rs.expect("close")
    finally:
        await sender.close()
        await other.close()


async def test_the_moderation_inbox_counts_what_waits_not_what_ever_came(make_server: Any) -> None:
    """Mutants: the inbox's bytes added instead of taken off as envelopes leave it (a peer in
    a moderated room cut off once the traffic that passed through a busy inbox exceeds
    max_inbox_bytes), or no bound."""
    server, manager = await make_server(limits=Limits(max_inbox_bytes=20_000))
    gate = asyncio.Semaphore(0)
    seen: list[tuple[str, str]] = []

    @manager.before_relay
    async def one_at_a_time(message: Message) -> Message:
        await gate.acquire()  # the test lets each message through
        seen.append((message.room, message.sender_id))  # the hook knows room and sender
        return message

    (sender, rs), (other, ro) = await connected(server.url, "sender", "other")
    try:
        for i in range(16):  # 16 KB in the inbox (one more is with the hook)
            await sender.send_message(f"{i}:" + "y" * 1000)
        for i in range(14):  # 14 pass: 1 is with the hook, 1 KB waits
            gate.release()
            assert (await ro.expect("message"))[1].startswith(f"{i}:")
        frames = manager.metrics.frames_in
        await sender.send_message("16:" + "y" * 1000)  # 2 KB waiting: far below 20 KB
        await until(lambda: manager.metrics.frames_in > frames)  # it reached the inbox
        for _ in range(3):
            gate.release()
        assert [m[1][:3] for m in await ro.messages(3)] == ["14:", "15:", "16:"]
        gate.release()
        await sender.send_message("17:")  # still served afterwards
        assert (await ro.expect("message"))[1] == "17:"
        assert sender.connected and not [k for k, _ in rs.history if k == "close"]
        assert seen == [("r", "sender")] * 18
    finally:
        await sender.close()
        await other.close()


async def test_a_ping_in_a_moderated_batch_does_not_hold_back_what_follows(
    make_server: Any,
) -> None:
    """Mutant: ``continue`` -> ``break`` after a ping/pong/bye/sig in the moderation loop
    (later envelopes of the batch wait for the sender's next frame)."""
    server, manager = await make_server()
    manager.before_relay(lambda message: message)
    (sender, _), (other, ro) = await connected(server.url, "sender", "other")
    try:
        assert sender.connection is not None
        sender.connection.queue.put('[{"t":"ping"},{"t":"msg","d":"after the ping"}]')
        assert await ro.expect("message", timeout=3) == ("sender", "after the ping", None)
    finally:
        await sender.close()
        await other.close()


async def test_a_rewritten_broadcast_stays_a_numbered_broadcast(
    make_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mutant: a moderation hook's rewrite of a broadcast sent as an emit, or lost."""
    server, manager = await make_server()

    @manager.before_relay
    def louder(message: Message) -> Message:
        if message.kind == "broadcast":
            return dataclasses.replace(message, data=str(message.data).upper())
        return message

    (sender, rs), (other, ro) = await connected(server.url, "sender", "other")
    seen = raw_envelopes(other, monkeypatch)
    try:
        await sender.broadcast("shout", "hello")
        for rec in (rs, ro):  # the sender too: a broadcast reaches everyone, in one order
            assert await rec.expect("message") == ("sender", "HELLO", "shout")
        (env,) = [e for e in seen if isinstance(e, Relayed)]
        assert (env.kind, env.seq) == ("bcast", 1)  # a broadcast, numbered like any other
    finally:
        await sender.close()
        await other.close()


async def test_the_byte_meter_counts_utf8_bytes(make_server: Any) -> None:
    """Mutant: the byte rate of a text frame counted in characters (3-byte text passes 3x)."""
    limits = Limits(max_bytes_per_second=1, byte_burst=30_000)
    server, manager = await make_server(limits=limits)
    (sender, rs), (other, ro) = await connected(server.url, "sender", "other")
    try:
        await sender.send_message("€" * 4000)  # 4,000 characters, 12,000 bytes: passes
        await ro.expect("message")
        await sender.send_message("€" * 4000)
        await ro.expect("message")
        await sender.send_message("€" * 4000)  # 36,000 bytes in all: past the burst
        assert "flooding" in await rs.expect("close")
        assert manager.metrics.bytes_in >= 36_000
    finally:
        await sender.close()
        await other.close()


async def test_frames_and_bytes_in_are_counted_exactly(make_server: Any) -> None:
    server, manager = await make_server()
    (sender, _), (other, ro) = await connected(server.url, "sender", "other")
    try:
        before_frames, before_bytes = manager.metrics.frames_in, manager.metrics.bytes_in
        assert sender.connection is not None
        frame = '[{"t":"msg","d":"é1"},{"t":"msg","d":"é2"}]'
        sender.connection.queue.put(frame)
        await ro.messages(2)
        assert manager.metrics.frames_in - before_frames == 1
        assert manager.metrics.bytes_in - before_bytes == len(frame.encode())
    finally:
        await sender.close()
        await other.close()


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
