"""The sync facade: one loop thread, driven from many threads."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from conftest import TIMEOUT, Recorder
from peerpyrtc import AsyncClient, SignalingManager, start_server


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
    from peerpyrtc import InvalidRequest, UnknownPeer

    with pytest.raises(InvalidRequest, match=r"'offer\.type'"):
        sync_manager.offer("r", "p", {"sdp": "v=0", "type": "answer"})
    with pytest.raises(UnknownPeer):
        sync_manager.candidate("r", "p", {"candidate": "", "sdpMid": "0"})
    with pytest.raises(InvalidRequest, match="peer_id"):
        sync_manager.leave("r", "")
    assert sync_manager.leave("r", "p") is None  # no such peer: quiet
    assert sync_manager.rooms_info() == {}
