"""Binary payloads, large messages and the volatile channel, with real aiortc peers."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
from pathlib import Path
from typing import Any

import pytest

from conftest import TIMEOUT, Join, Recorder, until
from peerpyrtc import (
    AsyncClient,
    AsyncSignalingManager,
    Limits,
    Message,
    PayloadTooLarge,
    PeerPyRTCError,
)
from peerpyrtc._wire import binary
from peers import raw_envelopes

MiB = 1024 * 1024


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def test_bytes_top_level_and_nested_arrive_equal(join: Join) -> None:
    a, _ = await join("room", "alice")
    b, rb = await join("room", "bob")
    blob = os.urandom(1024)
    await a.emit("bin", blob)
    assert await rb.expect("message") == ("alice", blob, "bin")
    nested = {"name": "pic", "parts": [b"\x00\xff", bytearray(b"xy"), memoryview(b"z")], "n": 1}
    await a.emit("nested", nested)
    sender, data, event = await rb.expect("message")
    assert (sender, event) == ("alice", "nested")
    assert data == {"name": "pic", "parts": [b"\x00\xff", b"xy", b"z"], "n": 1}
    assert all(type(p) is bytes for p in data["parts"])
    await a.send_message(b"plain bytes")
    assert await rb.expect("message") == ("alice", b"plain bytes", None)
    await a.broadcast("bb", [b"1", {"k": b"2"}])  # to every peer, the sender included
    assert await rb.expect("message") == ("alice", [b"1", {"k": b"2"}], "bb")


@pytest.mark.parametrize("size", [1024, 300 * 1024, 5 * MiB])
async def test_large_messages_are_relayed_intact(join: Join, size: int) -> None:
    a, _ = await join("room", "alice")
    b, rb = await join("room", "bob")
    c, rc = await join("room", "carol")
    payload = os.urandom(size)
    progress: list[tuple[int, int]] = []
    await asyncio.wait_for(
        a.emit(
            "file",
            {"name": "f.bin", "data": payload},
            on_progress=lambda s, t: progress.append((s, t)),
        ),
        TIMEOUT * 4,
    )
    assert progress[-1][0] == progress[-1][1] and progress == sorted(progress)
    for rec in (rb, rc):
        sender, data, event = await rec.expect("message", timeout=TIMEOUT * 4)
        assert (sender, event, data["name"]) == ("alice", "file", "f.bin")
        assert digest(data["data"]) == digest(payload)


async def test_a_large_text_message_is_split_and_put_back(join: Join) -> None:
    a, _ = await join("room", "alice")
    b, rb = await join("room", "bob")
    text = "é" * 200_000  # 400 KB of UTF-8: far above one frame
    seen: list[tuple[str, Any, int, int]] = []
    b.on_incoming = lambda sender, event, got, total: seen.append((sender, event, got, total))
    await a.emit("long", text, to="bob")
    assert await rb.expect("message") == ("alice", text, "long")
    assert seen and seen[-1][2] == seen[-1][3] and seen[0][:2] == ("alice", "long")
    assert len(seen) > 20  # frames of at most 16 KiB


async def test_the_16_mib_limit_is_refused_at_the_sender(join: Join) -> None:
    a, ra = await join("room", "alice")
    b, rb = await join("room", "bob")
    with pytest.raises(PayloadTooLarge):
        await a.emit("big", os.urandom(16 * MiB + 1))
    await a.emit("after", 1)  # nothing was sent, the connection is fine
    assert await rb.expect("message") == ("alice", 1, "after")


async def test_a_chat_message_overtakes_a_large_transfer(join: Join) -> None:
    a, _ = await join("room", "alice")
    b, rb = await join("room", "bob")
    order: list[str] = []
    b.on("chat", lambda sender, data: order.append("chat"))
    b.on("file", lambda sender, data: order.append("file"))
    transfer = asyncio.ensure_future(a.emit("file", os.urandom(8 * MiB)))
    await until(lambda: a.connection is not None and a.connection.queue.bulk_queued < 7 * MiB)
    await a.emit("chat", "hello")
    await asyncio.wait_for(transfer, TIMEOUT * 4)
    await until(lambda: len(order) == 2, timeout=TIMEOUT * 4)
    assert order == ["chat", "file"]


async def test_server_hooks_see_bytes_and_the_server_sends_them(
    join: Join, manager: AsyncSignalingManager
) -> None:
    got: list[Any] = []
    manager.on("upload")(lambda room, sender, data: got.append((sender, data)))
    a, _ = await join("room", "alice")
    b, rb = await join("room", "bob")
    big = os.urandom(200_000)
    await a.emit("upload", {"f": big})
    await until(lambda: len(got) == 1)
    assert got[0][0] == "alice" and got[0][1]["f"] == big
    assert await manager.emit("room", "srv", {"b": b"\x01\x02"}) == 2
    assert await rb.expect("message", lambda m: m[2] == "srv") == (
        "server",
        {"b": b"\x01\x02"},
        "srv",
    )
    assert await manager.emit("room", "srvbig", big, to="bob") == 1
    assert await rb.expect("message", lambda m: m[2] == "srvbig") == ("server", big, "srvbig")


async def test_a_moderation_hook_sees_the_whole_message_and_may_rewrite_it(
    join: Join, manager: AsyncSignalingManager
) -> None:
    @manager.before_relay
    def flip(message: Message) -> Message | None:
        if message.event == "drop":
            return None
        if isinstance(message.data, bytes):
            return Message(**{**message.__dict__, "data": message.data[::-1]})
        return message

    a, _ = await join("room", "alice")
    b, rb = await join("room", "bob")
    blob = os.urandom(100_000)
    await a.emit("drop", blob)
    await a.emit("keep", blob)
    assert await rb.expect("message") == ("alice", blob[::-1], "keep")


async def test_a_sender_gone_mid_message_leaves_no_state(
    join: Join, manager: AsyncSignalingManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, _ = await join("room", "alice")
    b, rb = await join("room", "bob")
    conn = a.connection
    assert conn is not None
    frames = binary.encode_frames({"t": "emit", "e": "f"}, os.urandom(MiB), 77, 16 * MiB)
    for frame in frames[:10]:  # a tenth of the message, then the sender is gone
        conn.queue.put_bulk(frame)
    session = b._session
    await until(lambda: len(session.incoming) == 1)
    server_peer = manager.peers.active[("room", "alice")]
    assert len(server_peer.streams) == 1
    await conn.close()  # killed: no goodbye
    await rb.expect("left")
    await until(lambda: len(session.incoming) == 0 and session.incoming.held == 0)
    assert not any(k == "message" for k, _ in rb.history)


async def test_malformed_chunks_hurt_only_their_sender(join: Join) -> None:
    a, ra = await join("room", "alice")
    b, rb = await join("room", "bob")
    c, rc = await join("room", "carol")
    errors = raw_envelopes(a, pytest.MonkeyPatch())
    conn = a.connection
    assert conn is not None
    good = binary.encode_frames({"t": "emit", "e": "f"}, os.urandom(100_000), 5, 16 * MiB)
    hostile = [
        b"",
        b"\x00\x00",
        b"\xff\xff\xff\xff{}",
        binary.pack('{"t":"part","m":99,"o":0}', b"x"),  # a message not in progress
        binary.pack('{"t":"emit","e":"f","j":5}', b"toolong!"),  # payload != j
        binary.pack('{"t":"emit","e":"f","m":1,"z":999999999999,"j":999999999999}'),  # oversized
        binary.pack('{"t":"emit","e":"f","from":"bob","j":0}'),  # a server field
        binary.pack('{"t":"emit","e":"f","j":2,"b":[-1]}', b"{}"),
        binary.pack('{"t":"emit","e":"\\ud800","j":0}'),  # a lone surrogate
        binary.pack('{"t":"emit","e":"f","j":NaN}'),
        binary.pack("[" * 5000 + "]" * 5000),  # deep nesting
        good[0],
        good[2],  # out of order
        good[0],  # again: a duplicate start
        good[1],
        good[1],  # an overlapping duplicate
    ]
    for frame in hostile:
        conn.queue.put(frame)
    await a.emit("still", "ok")
    assert await rb.expect("message", lambda m: m[2] == "still") == ("alice", "ok", "still")
    assert await rc.expect("message", lambda m: m[2] == "still") == ("alice", "ok", "still")
    assert not any(v[2] == "f" for k, v in rb.history if k == "message")
    assert sum(1 for e in errors if type(e).__name__ == "ServerError") >= 10
    assert a.connected and b.connected and c.connected


async def test_volatile_messages_arrive_and_are_dropped_when_behind(
    join: Join, manager: AsyncSignalingManager
) -> None:
    a, _ = await join("room", "alice")
    b, rb = await join("room", "bob")
    await until(lambda: "volatile" in manager.peers.active[("room", "bob")].channels)
    await a.emit("cursor", {"x": 1}, volatile=True)
    assert await rb.expect("message") == ("alice", {"x": 1}, "cursor")
    await a.emit("cursor", b"\x01" * 100, volatile=True)
    assert await rb.expect("message") == ("alice", b"\x01" * 100, "cursor")
    with pytest.raises(PayloadTooLarge):
        await a.emit("cursor", "x" * 20_000, volatile=True)
    # bob's volatile channel stops draining: the server drops, never queues, and alice's
    # reliable messages still reach bob
    bob = manager.peers.active[("room", "bob")]
    channel = bob.channels["volatile"]

    class Behind:  # bob's real volatile channel, as a receiver far behind would show it
        readyState = "open"
        bufferedAmount = 10 * MiB
        sent: list[Any] = []

        def send(self, frame: Any) -> None:
            self.sent.append(frame)

    bob.channels["volatile"] = Behind()  # type: ignore[assignment]
    try:
        before = manager.stats().drops["volatile"]
        for i in range(50):
            await a.emit("cursor", {"i": i}, volatile=True)
        await a.emit("reliable", "done")
        assert await rb.expect("message", lambda m: m[2] == "reliable") == (
            "alice",
            "done",
            "reliable",
        )
        await until(lambda: manager.stats().drops["volatile"] - before == 50)
        assert bob.queue.queued == 0 and not Behind.sent  # dropped, not queued, not sent
    finally:
        bob.channels["volatile"] = channel
    await a.emit("cursor", {"x": 2}, volatile=True)  # caught up: delivered again
    assert await rb.expect("message", lambda m: m[2] == "cursor") == ("alice", {"x": 2}, "cursor")


async def test_moderation_hooks_see_volatile_messages_each_on_its_own(
    join: Join, manager: AsyncSignalingManager
) -> None:
    seen: list[Message] = []
    gate = asyncio.Event()

    @manager.before_relay
    async def moderate(message: Message) -> Message | None:
        seen.append(message)
        if message.event == "slow":
            await gate.wait()
        if message.event == "drop":
            return None
        if message.event == "flip":
            return Message(**{**message.__dict__, "event": "flipped", "data": message.data[::-1]})
        return message

    a, _ = await join("room", "alice")
    b, rb = await join("room", "bob")
    await until(lambda: "volatile" in manager.peers.active[("room", "alice")].channels)
    await a.emit("cursor", {"x": 1}, volatile=True)
    assert await rb.expect("message") == ("alice", {"x": 1}, "cursor")
    assert seen[-1].volatile and seen[-1].kind == "event" and seen[-1].sender_id == "alice"
    await a.emit("drop", {"x": 2}, volatile=True)
    await a.emit("flip", b"\x01\x02\x03", volatile=True)  # rewritten, binary, re-encoded
    assert await rb.expect("message") == ("alice", b"\x03\x02\x01", "flipped")
    await a.emit("flip", "abc", volatile=True)
    assert await rb.expect("message") == ("alice", "cba", "flipped")
    # a hook that takes its time holds at most 8 of them; later ones are dropped, counted,
    # and neither they nor the held ones delay the sender's reliable messages
    before = manager.stats().drops["volatile"]
    for i in range(20):
        await a.emit("slow", i, volatile=True)
    await a.emit("chat", "not behind them")
    assert await rb.expect("message", lambda m: m[2] == "chat") == (
        "alice",
        "not behind them",
        "chat",
    )
    await until(lambda: manager.stats().drops["volatile"] - before == 12)
    gate.set()
    got = [await rb.expect("message", lambda m: m[2] == "slow") for _ in range(8)]
    assert sorted(d for _, d, _ in got) == list(range(8))
    assert not any(k == "message" and m[2] == "drop" for k, m in rb.history)


async def test_flood_limits_let_a_large_message_through_but_not_a_stream(make_server: Any) -> None:
    limits = Limits(transfer_burst=3 * MiB, max_transfer_bytes_per_second=256 * 1024)
    server, manager = await make_server(limits=limits)
    a = AsyncClient(server.url, "r", "alice", max_reconnect_attempts=0)
    b = AsyncClient(server.url, "r", "bob", max_reconnect_attempts=0)
    rb = Recorder(b)
    ra = Recorder(a)
    try:
        await a.connect()
        await b.connect()
        one = os.urandom(2 * MiB)  # within the transfer burst
        await a.emit("f", one)
        assert digest((await rb.expect("message", timeout=TIMEOUT * 2))[1]) == digest(one)
        for _ in range(3):  # then streaming without pause: past the transfer burst
            if not a.connected:
                break
            with contextlib.suppress(PeerPyRTCError):
                await a.emit("f", os.urandom(2 * MiB))
        reason = await ra.expect("close", timeout=TIMEOUT * 2)
        assert "flooding" in reason and "large messages" in reason
        assert b.connected
    finally:
        await a.close()
        await b.close()


README = Path(__file__).resolve().parents[2] / "README.md"


async def test_the_readme_snippet_runs_as_written(join: Join) -> None:
    section = README.read_text().split("### Binary, large and volatile messages", 1)[1]
    source = re.findall(r"```python\n(.*?)```", section, re.S)[0]
    namespace: dict[str, Any] = {}
    exec(compile(source, "README.md", "exec"), namespace)
    a, _ = await join("room", "alice")
    b, rb = await join("room", "bob")
    await until(lambda: a.connection is not None and a.connection.volatile.readyState == "open")
    await namespace["send_file"](a)
    got = {m[2]: m for m in [await rb.expect("message", timeout=TIMEOUT * 2) for _ in range(2)]}
    assert got["file"] == ("alice", {"name": "a.bin", "data": b"\x00" * 5_000_000}, "file")
    assert got["cursor"] == ("alice", {"x": 1, "y": 2}, "cursor")  # either may come first
