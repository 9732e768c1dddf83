"""Tests for the regressions a mutation audit found uncaught (each names the mutant it kills)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

import pytest

from conftest import TIMEOUT, Recorder, http_request, until
from peerpyrtc import AsyncClient, Limits, Message, SignalingManager, start_server
from peerpyrtc._client.codec import Relayed
from seedapp import Served, load


def raw_envelopes(client: AsyncClient, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every envelope the client receives, parsed (the client's typed envelopes)."""
    import peerpyrtc._client.inbound as client_module

    seen: list[Any] = []
    original = client_module.on_envelope

    def spy(session: Any, env: Any) -> None:
        if session.deliver.__self__ is client:  # this client's session
            seen.append(env)
        original(session, env)

    monkeypatch.setattr(client_module, "on_envelope", spy)
    return seen


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


async def test_the_facade_forwards_leave_and_candidate_to_a_connected_peer() -> None:
    """Mutant: SignalingManager.leave and .candidate forwarding their arguments swapped."""
    sync = SignalingManager(limits=Limits(blocked_candidate_networks=()))
    loop = sync.loop
    server = await asyncio.wrap_future(
        asyncio.run_coroutine_threadsafe(start_server(sync.async_manager), loop)
    )
    alice = AsyncClient(server.url, "room", "alice")
    bob = AsyncClient(server.url, "room", "bob")
    rb = Recorder(bob)
    try:
        await alice.connect()
        await bob.connect()
        cand = {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host", "sdpMid": "0",
                "session": alice.session}  # fmt: skip
        await asyncio.to_thread(sync.candidate, "room", "alice", cand)
        assert sync.async_manager.peers.active[("room", "alice")].candidates == 1
        await asyncio.to_thread(sync.leave, "room", "alice", session=bob.session)  # not hers
        assert [p["id"] for p in await asyncio.to_thread(sync.get_room_peers, "room")] == [
            "alice",
            "bob",
        ]
        await asyncio.to_thread(sync.leave, "room", "alice", session=alice.session)
        assert (await rb.expect("left"))["id"] == "alice"
        assert [p["id"] for p in await asyncio.to_thread(sync.get_room_peers, "room")] == ["bob"]
    finally:
        await alice.close()
        await bob.close()
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(server.close(), loop))
        await asyncio.to_thread(sync.close)


async def test_the_seed_routes_have_their_documented_effect() -> None:
    """The seed's /candidate reaches the peer; its /leave (no session) leaves everyone in."""
    served = Served(load("production_app"))
    try:
        manager = served.module.signaling_manager
        alice = AsyncClient(served.url, "lobby", "alice")
        bob = AsyncClient(served.url, "lobby", "bob")
        rb = Recorder(bob)
        await alice.connect()
        await bob.connect()
        own = next(ln.split()[4] for ln in alice.connection.pc.localDescription.sdp.splitlines()  # type: ignore[union-attr]
                   if ln.startswith("a=candidate:") and "." in ln.split()[4])  # fmt: skip
        cand = {"candidate": f"candidate:1 1 udp 1 {own} 9 typ host", "sdpMid": "0",
                "session": alice.session}  # fmt: skip
        body = json.dumps({"room": "lobby", "peer_id": "alice", "candidate": cand}).encode()
        status, _, _ = await http_request(served.url + "/candidate", "POST", body)
        assert (
            status == 200 and manager.async_manager.peers.active[("lobby", "alice")].candidates == 1
        )
        body = json.dumps({"room": "lobby", "peer_id": "alice"}).encode()
        status, _, _ = await http_request(served.url + "/leave", "POST", body)
        assert status == 200
        await alice.send_message("still here")  # the seed's leave has no session: a no-op
        assert await rb.expect("message", timeout=TIMEOUT) == ("alice", "still here", None)
        await alice.close()
        assert (await rb.expect("left"))["id"] == "alice"
        await bob.close()
    finally:
        await asyncio.to_thread(served.close)


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


# ---- round 3 of the audit (issue 23): the relay's moderated path and its meters ----------
async def connected(url: str, *ids: str) -> list[tuple[AsyncClient, Recorder]]:
    made = []
    for peer_id in ids:
        client = AsyncClient(url, "r", peer_id)
        rec = Recorder(client)
        await client.connect()
        made.append((client, rec))
    return made


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


def test_a_last_word_on_an_idle_queue_is_sent_once() -> None:
    """Mutant: ``and`` -> ``or`` in ``send_last`` (an empty queue sends the notice twice)."""
    from fakes import RecordingChannel
    from peerpyrtc._rtc.sendqueue import SendQueue

    async def run() -> None:
        channel = RecordingChannel()
        queue = SendQueue(1 << 20)
        queue.attach(channel)  # type: ignore[arg-type]
        queue.send_last('{"t":"close"}')
        assert channel.sent == ['{"t":"close"}']

    asyncio.run(run())
