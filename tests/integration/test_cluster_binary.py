"""Binary, large and volatile messages across two workers through a real redis-server."""

from __future__ import annotations

import asyncio
import hashlib
import os
from typing import Any

import pytest

from conftest import TIMEOUT, until
from peerpyrtc._wire import binary

MiB = 1024 * 1024


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def test_binary_nested_crosses_workers_equal(cluster: Any) -> None:
    w0, w1 = await cluster.add_worker(), await cluster.add_worker()
    ann, ann_rec = await cluster.join(w0, "r", "ann")
    bob, bob_rec = await cluster.join(w1, "r", "bob")
    nested = {"k": [b"\x00\xff" * 100, {"deep": bytearray(b"xyz")}], "n": 1}
    await ann.emit("nested", nested)
    assert await bob_rec.expect("message") == (
        "ann",
        {"k": [b"\x00\xff" * 100, {"deep": b"xyz"}], "n": 1},
        "nested",
    )
    await bob.send_message(b"back")  # and the other way
    assert await ann_rec.expect("message") == ("bob", b"back", None)
    # the server on worker 0 speaks bytes to bob on worker 1
    assert await w0[1].emit("r", "srv", b"\x01\x02", to="bob") == 1
    assert await bob_rec.expect("message", lambda m: m[2] == "srv") == (
        "server",
        b"\x01\x02",
        "srv",
    )


# 16 MiB less the envelope: the limit counts the whole message
@pytest.mark.parametrize("size", [1024, 300 * 1024, 5 * MiB, 16 * MiB - 1024])
async def test_large_messages_cross_workers_intact(cluster: Any, size: int) -> None:
    w0, w1 = await cluster.add_worker(), await cluster.add_worker()
    ann, _ = await cluster.join(w0, "r", "ann")
    bob, bob_rec = await cluster.join(w1, "r", "bob")
    cat, cat_rec = await cluster.join(w0, "r", "cat")  # one on the sender's worker too
    payload = os.urandom(size)
    await asyncio.wait_for(ann.emit("file", {"data": payload}), TIMEOUT * 6)
    for rec in (bob_rec, cat_rec):
        sender, data, event = await rec.expect("message", timeout=TIMEOUT * 6)
        assert (sender, event) == ("ann", "file")
        assert digest(data["data"]) == digest(payload)


async def test_volatile_crosses_workers(cluster: Any) -> None:
    w0, w1 = await cluster.add_worker(), await cluster.add_worker()
    ann, _ = await cluster.join(w0, "r", "ann")
    bob, bob_rec = await cluster.join(w1, "r", "bob")
    await until(lambda: "volatile" in w1[1].peers.active[("r", "bob")].channels)
    await until(lambda: "volatile" in w0[1].peers.active[("r", "ann")].channels)
    # unreliable by name, but loopback loses nothing: every one arrives, across workers
    for i in range(20):
        await ann.emit("cursor", {"x": i}, volatile=True)
    got = [await bob_rec.expect("message") for _ in range(20)]
    assert sorted(d["x"] for _, d, _ in got) == list(range(20))
    assert {(s, e) for s, _, e in got} == {("ann", "cursor")}


async def test_a_sender_gone_mid_message_leaves_no_state_on_another_worker(cluster: Any) -> None:
    w0, w1 = await cluster.add_worker(), await cluster.add_worker()
    ann, _ = await cluster.join(w0, "r", "ann")
    bob, bob_rec = await cluster.join(w1, "r", "bob")
    conn = ann.connection
    assert conn is not None
    frames = binary.encode_frames({"t": "emit", "e": "f"}, os.urandom(MiB), 9, 16 * MiB)
    seen: list[int] = []
    bob.on_incoming = lambda sender, event, got, total: seen.append(got)
    for frame in frames[:10]:
        conn.queue.put_bulk(frame)
    await until(lambda: len(seen) >= 10, timeout=TIMEOUT)  # bob holds a tenth of it
    await conn.close()  # killed: no goodbye
    await bob_rec.expect("left", timeout=TIMEOUT * 2)
    assert not any(k == "message" for k, _ in bob_rec.history)
    # bob kept nothing of it: the same sender and message id start afresh and arrive whole
    # (a stale part would refuse the new first frame: "already in progress")
    ann, _ = await cluster.join(w0, "r", "ann")
    conn = ann.connection
    assert conn is not None
    again = os.urandom(MiB)
    for frame in binary.encode_frames({"t": "emit", "e": "f"}, again, 9, 16 * MiB):
        conn.queue.put_bulk(frame)
    sender, data, event = await bob_rec.expect("message", timeout=TIMEOUT * 2)
    assert (sender, event) == ("ann", "f") and digest(data) == digest(again)
