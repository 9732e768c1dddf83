"""Rooms across workers through a real redis-server: relay, order, presence, forwarding.

Workers here are AsyncSignalingManagers in this process, each with its own
HTTP server and its own Redis connections (nothing shared but Redis); the
process-level tests (SIGKILL, ``--workers``) are in test_cluster_processes.py.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import pytest

from conftest import TIMEOUT, http_request, until
from peerpyrtc import (
    AsyncSignalingManager,
    PeerIdTaken,
    Unavailable,
)


async def test_messages_cross_workers_in_order(cluster: Any) -> None:
    w = [await cluster.add_worker() for _ in range(3)]
    ann, ann_rec = await cluster.join(w[0], "r", "ann")
    bob, bob_rec = await cluster.join(w[1], "r", "bob")
    cat, cat_rec = await cluster.join(w[2], "r", "cat")
    await ann_rec.expect("joined", lambda p: p["id"] == "cat")
    for i in range(50):
        await ann.send_message(f"m{i}")
    for rec in (bob_rec, cat_rec):
        got = await rec.messages(50)
        assert [(s, d) for s, d, _ in got] == [("ann", f"m{i}") for i in range(50)]
    await cat.emit("poke", {"x": 1}, to="ann")  # to one peer on another worker
    sender, data, event = await ann_rec.expect("message")
    assert (sender, data, event) == ("cat", {"x": 1}, "poke")
    assert not [k for k, v in bob_rec.history if k == "message" and v[2] == "poke"]


async def test_broadcasts_have_one_order_on_every_worker(cluster: Any) -> None:
    w = [await cluster.add_worker() for _ in range(3)]
    peers = [await cluster.join(w[i % 3], "r", f"p{i}") for i in range(6)]
    await peers[0][1].expect("joined", lambda p: p["id"] == "p5")
    seen: dict[str, list[Any]] = {}
    for client, _ in peers:
        got: list[Any] = []
        seen[client.peer_id] = got
        client.on("tick", lambda sender, data, got=got: got.append((sender, data)))
    # every peer broadcasts at once, from three workers
    await asyncio.gather(*(client.broadcast("tick", i) for client, _ in peers for i in range(20)))
    await until(lambda: all(len(v) == 120 for v in seen.values()))
    orders = {tuple(v) for v in seen.values()}
    assert len(orders) == 1  # the same order for everyone
    [order] = orders
    for client, _ in peers:  # and each sender's own order inside it
        mine = [d for s, d in order if s == client.peer_id]
        assert mine == list(range(20))


async def test_presence_and_host_agree_on_every_worker(cluster: Any) -> None:
    w = [await cluster.add_worker() for _ in range(3)]
    ann, ann_rec = await cluster.join(w[0], "r", "ann", info={"name": "Ann"})
    bob, bob_rec = await cluster.join(w[1], "r", "bob")
    cat, cat_rec = await cluster.join(w[2], "r", "cat")
    assert [p["id"] for p in cat.peers] == ["ann", "bob", "cat"]
    views = [await m.fetch_room_peers("r") for _, m in w]
    assert views[0] == views[1] == views[2]
    assert [(p["id"], p["isHost"]) for p in views[0]] == [
        ("ann", True),
        ("bob", False),
        ("cat", False),
    ]
    assert views[0][0]["name"] == "Ann"
    info = [await m.fetch_rooms_info() for _, m in w]
    assert info[0] == info[1] == info[2] and info[0]["r"]["peer_count"] == 3
    with pytest.raises(RuntimeError, match="fetch"):
        w[0][1].get_room_peers("r")  # the sync view cannot see other workers
    # one id per cluster: 409 on any worker
    status, _, body = await http_request(
        w[2][0].url + "/offer", "POST",
        json.dumps({"room": "r", "peer_id": "ann", "offer": {"type": "offer", "sdp": await _sdp()}}).encode(),
    )  # fmt: skip
    assert status == 409 and json.loads(body)["code"] == "ERR_PEER_ID_TAKEN"
    # the host leaves on worker 0: everyone, everywhere, is told, and bob is host
    await ann.close()
    for rec in (bob_rec, cat_rec):
        left = await rec.expect("left")
        assert left["id"] == "ann" and left["isHost"] is True
    await until(lambda: bob.is_host and not cat.is_host)
    assert [(p["id"], p["isHost"]) for p in await w[2][1].fetch_room_peers("r")] == [
        ("bob", True),
        ("cat", False),
    ]
    del ann_rec


async def test_server_speech_and_kick_from_any_worker(cluster: Any) -> None:
    w = [await cluster.add_worker() for _ in range(3)]
    ann, ann_rec = await cluster.join(w[0], "r", "ann")
    bob, bob_rec = await cluster.join(w[1], "r", "bob")
    speaker = w[2][1]  # holds nobody of this room
    assert await speaker.send_message("r", "hello all") == 2
    for rec in (ann_rec, bob_rec):
        assert (await rec.expect("message"))[:2] == ("server", "hello all")
    assert await speaker.emit("r", "only", 1, to="bob") == 1
    assert (await bob_rec.expect("message"))[2] == "only"
    from peerpyrtc import UnknownPeer

    with pytest.raises(UnknownPeer):
        await speaker.emit("r", "x", to="nobody")
    assert await speaker.kick("r", "bob", "bye bob") is True
    assert await bob_rec.expect("close") == "bye bob"
    assert (await ann_rec.expect("left"))["id"] == "bob"
    assert await speaker.kick("r", "bob") is False


async def test_leave_and_candidate_reach_the_owning_worker(cluster: Any) -> None:
    w = [await cluster.add_worker() for _ in range(2)]
    ann, ann_rec = await cluster.join(w[0], "r", "ann")
    bob, _ = await cluster.join(w[0], "r", "bob")
    from rawsignal import local_address

    address = await local_address()
    candidate = {
        "candidate": f"candidate:1 1 udp 2122260223 {address} 40000 typ host",
        "sdpMid": "0",
        "sdpMLineIndex": 0,
    }
    body = {"room": "r", "peer_id": "bob", "candidate": {**candidate, "session": "wrong" * 8}}
    status, _, raw = await http_request(
        w[1][0].url + "/candidate", "POST", json.dumps(body).encode()
    )
    assert status == 403, raw  # the owner checked the session
    body["candidate"]["session"] = bob.session
    status, _, raw = await http_request(
        w[1][0].url + "/candidate", "POST", json.dumps(body).encode()
    )
    assert status == 200, raw
    peer = w[0][1].peers.active[("r", "bob")]
    assert peer.candidates == 1  # applied on the worker that holds the connection
    body = {"room": "r", "peer_id": "bob", "session": bob.session}
    status, _, raw = await http_request(w[1][0].url + "/leave", "POST", json.dumps(body).encode())
    assert status == 200, raw
    assert (await ann_rec.expect("left"))["id"] == "bob"
    assert [p["id"] for p in await w[1][1].fetch_room_peers("r")] == ["ann"]


async def test_unreachable_redis_is_a_clear_error(tmp_path: Any) -> None:
    manager = AsyncSignalingManager(backplane=f"unix://{tmp_path}/nothing.sock")
    with pytest.raises(Unavailable, match="unreachable"):
        await manager.start()
    await manager.close()
    with pytest.raises(ValueError, match="backplane"):
        AsyncSignalingManager(backplane="http://localhost")


async def test_the_redis_password_reaches_no_client_log_or_stderr(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from conftest import http_request
    from peerpyrtc import start_server

    secret = "hunter2-redis-password"
    url = f"redis://default:{secret}@127.0.0.1:1/0"  # nothing listens on port 1
    manager = AsyncSignalingManager(backplane=url)
    server = await start_server(manager)
    try:
        with caplog.at_level("DEBUG", logger="peerpyrtc"):
            status, _, body = await http_request(
                f"{server.url}/offer", "POST",
                json.dumps({"room": "r", "peer_id": "ann",
                            "offer": {"type": "offer", "sdp": await _sdp()}}).encode(),
            )  # fmt: skip
        assert status == 503 and b'"ERR_UNAVAILABLE"' in body
        assert secret.encode() not in body and b"127.0.0.1:1" not in body  # nothing of Redis
        logged = "\n".join(r.getMessage() for r in caplog.records)
        assert "redis://default:***@127.0.0.1:1/0" in logged  # the operator sees where
        assert secret not in logged
    finally:
        await server.close()
        await manager.close()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "peerpyrtc", "serve", "--port", "0", "--redis", url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2 and b"unreachable" in err
    assert secret.encode() not in out + err and b"default:***@" in err


async def test_without_a_backplane_no_redis_is_imported() -> None:
    import sys

    code = (
        "import sys, asyncio, peerpyrtc\n"
        "async def main():\n"
        "    m = peerpyrtc.AsyncSignalingManager()\n"
        "    await m.start(); await m.close()\n"
        "asyncio.run(main())\n"
        "assert 'redis' not in sys.modules, 'redis imported'\n"
    )
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", code)
    assert await asyncio.wait_for(proc.wait(), 60) == 0


async def _sdp() -> str:
    from rawsignal import offer_sdp

    return await offer_sdp()


_ = (PeerIdTaken, TIMEOUT)
