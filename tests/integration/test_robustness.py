"""Security and robustness: authorization, sessions, limits, floods, slow and dead peers."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from conftest import TIMEOUT, Recorder
from peerpyrtc import (
    AsyncClient,
    Limits,
    RoomFull,
    SignalingError,
)

HERE = Path(__file__).resolve().parents[1]  # tests/: the helper scripts


@pytest.fixture
async def clients() -> AsyncIterator[list[AsyncClient]]:
    made: list[AsyncClient] = []
    yield made
    await asyncio.gather(*(c.close() for c in made))


async def connect(
    clients: list[AsyncClient], url: str, room: str, peer_id: str, **kw: Any
) -> tuple[AsyncClient, Recorder]:
    client = AsyncClient(url, room, peer_id, **kw)
    rec = Recorder(client)
    clients.append(client)
    await client.connect()
    return client, rec


SECRET = b"server-side secret"


def sign(room: str, peer_id: str) -> str:
    return hmac.new(SECRET, f"{room}:{peer_id}".encode(), hashlib.sha256).hexdigest()


async def test_authorize_with_a_signed_token(make_server: Any, clients: list[AsyncClient]) -> None:
    server, manager = await make_server()
    seen: list[dict[str, Any]] = []

    @manager.authorize
    async def check_token(room: str, peer_id: str, metadata: dict[str, Any]) -> bool | str:
        seen.append(metadata)
        auth = metadata["headers"].get("authorization", "")
        if not auth.startswith("Bearer "):
            return "missing token"
        return hmac.compare_digest(auth[len("Bearer ") :], sign(room, peer_id)) or "bad token"

    alice, _ = await connect(
        clients, server.url, "r", "alice", headers={"Authorization": f"Bearer {sign('r', 'alice')}"}
    )
    assert alice.connected
    assert seen[0]["remote_addr"] == "127.0.0.1" and "info" in seen[0]
    for headers, says in (
        ({}, "refused: missing token"),
        ({"Authorization": f"Bearer {sign('other-room', 'mallory')}"}, "refused: bad token"),
        ({"Authorization": f"Bearer {sign('r', 'alice')}"}, "refused: bad token"),  # alice's token
    ):
        with pytest.raises(SignalingError) as info:
            await AsyncClient(
                server.url, "r", "mallory", headers=headers, max_reconnect_attempts=0
            ).connect()
        assert info.value.status == 403 and says in str(info.value)
    assert [p["id"] for p in manager.get_room_peers("r")] == ["alice"]


async def test_a_raising_authorizer_refuses(make_server: Any) -> None:
    server, manager = await make_server()

    @manager.authorize
    def broken(room: str, peer_id: str, metadata: dict[str, Any]) -> bool:
        raise RuntimeError("database down")

    with pytest.raises(SignalingError) as info:
        await AsyncClient(server.url, "r", "alice").connect()
    assert info.value.status == 403 and "authorization failed" in str(info.value)


async def test_sessions_are_unguessable_and_bound_to_one_peer(
    make_server: Any, clients: list[AsyncClient]
) -> None:
    server, manager = await make_server()
    alice, _ = await connect(clients, server.url, "r", "alice")
    bob, rb = await connect(clients, server.url, "r", "bob")
    other, _ = await connect(clients, server.url, "elsewhere", "alice")
    sessions = {AsyncClient("http://x", "r").session for _ in range(200)}
    assert len(sessions) == 200 and all(len(s) == 32 for s in sessions)  # 192 random bits each
    # alice's secret does nothing for bob, nor for the alice of another room
    await manager.leave("r", "bob", session=alice.session)
    await manager.leave("elsewhere", "alice", session=alice.session)
    from peerpyrtc import Forbidden

    with pytest.raises(Forbidden):
        await manager.candidate(
            "r", "bob", {"candidate": "", "sdpMid": "0", "session": alice.session}
        )
    assert [p["id"] for p in manager.get_room_peers("r")] == ["alice", "bob"]
    assert [p["id"] for p in manager.get_room_peers("elsewhere")] == ["alice"]
    # an offer for bob with alice's secret is still a taken id
    with pytest.raises(SignalingError) as info:
        impostor = AsyncClient(server.url, "r", "bob", max_reconnect_attempts=0)
        impostor.session = alice.session
        await impostor.connect()
    assert info.value.status == 409
    await alice.send_message("all fine")
    assert await rb.expect("message") == ("alice", "all fine", None)


async def test_a_flood_is_disconnected_and_nobody_else_notices(
    make_server: Any, clients: list[AsyncClient]
) -> None:
    server, manager = await make_server(
        limits=Limits(max_messages_per_second=200, message_burst=300)
    )
    flooder, _ = await connect(clients, server.url, "r", "flooder", max_reconnect_attempts=0)
    calm, rc = await connect(clients, server.url, "r", "calm")
    other, ro = await connect(clients, server.url, "r", "other")
    closed = asyncio.Event()
    flooder.on_close = lambda reason: closed.set()
    for i in range(2000):
        try:
            await flooder.send_message(f"spam {i}")
        except Exception:
            break
    await asyncio.wait_for(closed.wait(), TIMEOUT)
    assert flooder.close_reason is not None and "flooding" in flooder.close_reason
    left = await rc.expect("left")
    assert left["id"] == "flooder" and "flooding" in left["reason"]
    await calm.send_message("still here")
    assert await ro.expect("message", lambda m: m[0] == "calm") == ("calm", "still here", None)
    assert [p["id"] for p in manager.get_room_peers("r")] == ["calm", "other"]


async def test_room_and_server_size_limits(make_server: Any, clients: list[AsyncClient]) -> None:
    server, manager = await make_server(limits=Limits(max_peers_per_room=2, max_rooms=2))
    await connect(clients, server.url, "a", "p1")
    await connect(clients, server.url, "a", "p2")
    started = time.monotonic()
    with pytest.raises(RoomFull) as full:  # final: not retried like a rate limit
        await AsyncClient(server.url, "a", "p3", timeout=10).connect()
    assert time.monotonic() - started < 3  # retrying would take the whole 10 s
    assert full.value.status == 429 and full.value.code == "ERR_ROOM_FULL"
    assert "full" in str(full.value)
    await connect(clients, server.url, "b", "p1")
    with pytest.raises(RoomFull) as many:
        await AsyncClient(server.url, "c", "p1").connect()
    assert many.value.status == 429 and "maximum of 2 rooms" in str(many.value)
    assert manager.rooms_info()["a"]["peer_count"] == 2


async def peer_process(url: str, room: str, peer_id: str) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(HERE / "peer_process.py"),
        url,
        room,
        peer_id,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert await asyncio.wait_for(proc.stdout.readline(), TIMEOUT) == b"ready\n"
    return proc


async def test_a_killed_peer_is_gone_within_ten_seconds(
    make_server: Any, clients: list[AsyncClient]
) -> None:
    server, manager = await make_server()
    left_at: asyncio.Future[float] = asyncio.get_running_loop().create_future()

    @manager.peer_left_handler
    def left(room: str, peer_id: str, info: dict[str, Any]) -> None:
        if peer_id == "doomed" and not left_at.done():
            left_at.set_result(time.monotonic())

    proc = await peer_process(server.url, "r", "doomed")  # joins first: the host
    watcher, rec = await connect(clients, server.url, "r", "watcher")
    assert watcher.host_id == "doomed"
    killed_at = time.monotonic()
    proc.send_signal(signal.SIGKILL)
    await proc.wait()
    detected = await asyncio.wait_for(left_at, 12) - killed_at
    assert detected < 10, detected
    assert (await rec.expect("left"))["id"] == "doomed"
    assert watcher.is_host  # re-elected
    print(f"dead peer detected after {detected:.1f}s")


async def test_a_slow_consumer_is_cut_off_and_the_room_keeps_its_rate(
    make_server: Any, clients: list[AsyncClient]
) -> None:
    # the sender's byte meter off: this is about a receiver that stops reading
    limits = Limits(max_queue_bytes=512 * 1024, max_bytes_per_second=0)
    server, manager = await make_server(limits=limits)
    sender, _ = await connect(clients, server.url, "r", "sender")
    fast, rf = await connect(clients, server.url, "r", "fast")
    proc = await peer_process(server.url, "r", "frozen")
    try:
        proc.send_signal(signal.SIGSTOP)  # alive but reads nothing: its buffers fill up
        got = 0
        gone = asyncio.Event()
        fast.on_peer_left = lambda peer: gone.set() if peer["id"] == "frozen" else None
        payload = "x" * 1000
        for i in range(6000):
            await sender.send_message(f"{i}:{payload}")
        while not gone.is_set() or got < 6000:
            _, text, _ = await rf.expect("message", timeout=TIMEOUT)
            assert int(text.split(":")[0]) == got  # nothing lost or reordered for the fast one
            got += 1
        assert gone.is_set()
        assert [p["id"] for p in manager.get_room_peers("r")] == ["sender", "fast"]
    finally:
        proc.send_signal(signal.SIGKILL)
        await proc.wait()


async def test_python_client_reconnects_after_a_server_restart(clients: list[AsyncClient]) -> None:
    from processes import ServerProcess

    first = ServerProcess()
    url = await first.start()
    port = int(url.rsplit(":", 1)[1])
    second = ServerProcess()
    try:
        client = AsyncClient(url, "r", "survivor", reconnect_delay=0.2, max_reconnect_attempts=10)
        clients.append(client)
        rec = Recorder(client)
        back = asyncio.Event()
        client.on_reconnect = back.set
        await client.connect()
        await first.kill()  # no goodbye: the client's heartbeat notices the silence
        await second.start(port)
        await asyncio.wait_for(back.wait(), 30)
        assert client.connected and client.is_host
        other = AsyncClient(second.url, "r", "newcomer")
        clients.append(other)
        await other.connect()
        assert [p["id"] for p in other.peers] == ["survivor", "newcomer"]
        await other.send_message("welcome back")
        assert await rec.expect("message") == ("newcomer", "welcome back", None)
    finally:
        await first.kill()
        await second.kill()


async def test_one_address_cannot_hold_every_connection(clients: list[AsyncClient]) -> None:
    """Finding 13: connections per address are capped (behind a trusted proxy, per client),
    so one address cannot take every port of a UDP range from everyone else."""
    from peerpyrtc import AsyncSignalingManager, start_server

    manager = AsyncSignalingManager(limits=Limits(max_peers_per_address=3), udp_ports="50300-50309")
    server = await start_server(manager, trusted_proxies=["127.0.0.1"])
    try:
        mallory = {"X-Forwarded-For": "198.51.100.66"}
        for i in range(3):
            await connect(clients, server.url, "r", f"m{i}", headers=mallory)
        with pytest.raises(SignalingError) as refused:
            await AsyncClient(server.url, "r", "m3", headers=mallory, timeout=1).connect()
        assert refused.value.status == 429 and "this address" in str(refused.value)
        again = AsyncClient(server.url, "r", "m0", headers=mallory, timeout=5)
        again.session = clients[0].session  # its own reconnect is never refused
        await again.connect()
        clients.append(again)
        await connect(clients, server.url, "r", "alice", headers={"X-Forwarded-For": "203.0.113.5"})
        assert len(manager.get_room_peers("r")) == 4
    finally:
        await server.close()
        await manager.close()
