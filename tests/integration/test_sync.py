"""The sync facade: one loop thread, driven from many threads."""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import inspect
import json
import multiprocessing
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from conftest import TIMEOUT, Recorder, http_request, until
from peerpyrtc import (
    AsyncClient,
    AsyncSignalingManager,
    InvalidRequest,
    Limits,
    ServerOptions,
    SignalingManager,
    start_server,
)
from peers import joined
from seedapp import Served, load


@pytest.fixture
def sync_manager() -> Iterator[SignalingManager]:
    manager = SignalingManager()
    yield manager
    manager.close()


async def serve(manager: SignalingManager) -> Any:
    """Serve the facade's async core on its own loop thread (as an adapter would)."""
    future = asyncio.run_coroutine_threadsafe(start_server(manager.async_manager), manager.loop)
    return await asyncio.wrap_future(future)


async def test_calls_from_many_threads_while_peers_join(sync_manager: SignalingManager) -> None:
    server = await serve(sync_manager)
    clients = [AsyncClient(server.url, "r", f"p{i}") for i in range(4)]
    try:
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            reads = [pool.submit(sync_manager.rooms_info) for _ in range(50)]
            await asyncio.gather(*(c.connect() for c in clients))
            reads += [pool.submit(sync_manager.get_room_peers, "r") for _ in range(50)]
            for future in reads[:50]:
                rooms = future.result(TIMEOUT)
                assert set(rooms) <= {"r"} and all(r["peer_count"] <= 4 for r in rooms.values())
            for future in reads[50:]:
                assert sorted(p["id"] for p in future.result(TIMEOUT)) == ["p0", "p1", "p2", "p3"]
            sends = [pool.submit(sync_manager.emit, "r", "tick", i) for i in range(20)]
            assert [f.result(TIMEOUT) for f in sends] == [4] * 20
        assert sync_manager.rooms_info()["r"]["peer_count"] == 4
        peers = sync_manager.get_room_peers("r")  # concurrent joins: the server picks the order
        assert sorted(p["id"] for p in peers) == ["p0", "p1", "p2", "p3"]
        assert [p["isHost"] for p in peers] == [True, False, False, False]
    finally:
        await asyncio.gather(*(c.close() for c in clients))
        await asyncio.wrap_future(
            asyncio.run_coroutine_threadsafe(server.close(), sync_manager.loop)
        )


async def test_handlers_may_speak_through_the_facade(sync_manager: SignalingManager) -> None:
    server = await serve(sync_manager)

    threads: list[str] = []

    @sync_manager.on("ping")
    def answer(room: str, sender: str, data: Any) -> None:
        # a plain handler runs on the hook thread: the blocking API works there
        threads.append(threading.current_thread().name)
        assert sync_manager.rooms_info()["r"]["peer_count"] == 1
        assert sync_manager.emit(room, "pong", data, to=sender) == 1

    @sync_manager.on("ping")
    async def answer_async(room: str, sender: str, data: Any) -> None:
        # an async handler runs on the loop thread: speaking schedules instead of blocking
        threads.append(threading.current_thread().name)
        assert sync_manager.emit(room, "pong-async", data, to=sender) is None
        with pytest.raises(RuntimeError, match="own loop thread"):
            sync_manager.rooms_info()

    client = AsyncClient(server.url, "r", "alice")
    rec = Recorder(client)
    try:
        await client.connect()
        await client.emit("ping", 42)
        got = {await rec.expect("message"), await rec.expect("message")}
        assert got == {("server", 42, "pong"), ("server", 42, "pong-async")}
        assert sorted(t.split("_")[0] for t in threads) == ["peerpyrtc-hooks", "peerpyrtc-loop"]
    finally:
        await client.close()
        await asyncio.wrap_future(
            asyncio.run_coroutine_threadsafe(server.close(), sync_manager.loop)
        )


def test_close_is_idempotent_and_final() -> None:
    manager = SignalingManager()
    assert manager.rooms_info() == {}
    manager.close()
    manager.close()
    assert not manager.started
    with pytest.raises(RuntimeError, match="closed"):
        manager.rooms_info()


def test_errors_cross_the_thread_bridge(sync_manager: SignalingManager) -> None:
    from peerpyrtc import UnknownPeer

    with pytest.raises(InvalidRequest, match=r"'offer\.type'"):
        sync_manager.offer("r", "p", {"sdp": "v=0", "type": "answer"})
    with pytest.raises(UnknownPeer):
        sync_manager.candidate("r", "p", {"candidate": "", "sdpMid": "0"})
    with pytest.raises(InvalidRequest, match="peer_id"):
        sync_manager.leave("r", "")
    assert sync_manager.leave("r", "p") is None  # no such peer: quiet
    assert sync_manager.rooms_info() == {}


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
