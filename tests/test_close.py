"""Closing ends every connection, task and timer."""

from __future__ import annotations

import asyncio
from typing import Any

from conftest import Recorder
from peerpyrtc import AsyncClient, AsyncSignalingManager, start_server


async def test_close_ends_everything_and_tells_the_peers() -> None:
    baseline = {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}
    manager = AsyncSignalingManager()
    server = await start_server(manager)
    seen: list[Any] = []

    @manager.message_handler
    async def slow(room: str, peer: str, message: str) -> None:
        seen.append(message)
        await asyncio.Event().wait()  # never ends by itself: close() must cancel it

    clients = [AsyncClient(server.url, "r", f"p{i}", max_reconnect_attempts=0) for i in range(3)]
    recs = [Recorder(c) for c in clients]
    await asyncio.gather(*(c.connect() for c in clients))
    await clients[0].send_message("hi")
    await recs[1].expect("message")
    await server.close()
    await manager.close()
    reasons = [await r.expect("close") for r in recs]
    assert all(reason == "server shutting down" for reason in reasons)
    assert manager.rooms_info() == {}
    assert manager._pending == {} and manager._active == {}
    await asyncio.gather(*(c.close() for c in clients))
    leftover = {t for t in asyncio.all_tasks() if t is not asyncio.current_task()} - baseline
    print(leftover)
    assert leftover == set()
    assert seen == ["hi"]


async def test_a_closed_manager_refuses_offers() -> None:
    import pytest

    manager = AsyncSignalingManager()
    await manager.close()
    with pytest.raises(RuntimeError, match="closed"):
        await manager.offer("r", "p", {"sdp": "v=0", "type": "offer"})
