"""Closing ends every connection, task and timer."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from conftest import Recorder
from peerpyrtc import AsyncClient, AsyncSignalingManager, start_server

PEER_PROCESS = Path(__file__).resolve().parents[1] / "peer_process.py"


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
    assert manager.peers.pending == {} and manager.peers.active == {}
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


async def test_many_peers_dropped_at_once_under_traffic_leave_a_clean_stderr(
    capfd: Any,
) -> None:
    """Peers that vanish together (here: the server is told they are gone while it is still
    sending to them) are closed without a send after the DTLS shutdown and without a task
    whose exception nobody retrieves."""
    import gc
    import sys

    from conftest import same_package, until
    from peerpyrtc import Limits

    loop = asyncio.get_running_loop()
    unretrieved: list[Any] = []
    loop.set_exception_handler(lambda _, context: unretrieved.append(context))
    limits = Limits(heartbeat_interval=0.3, heartbeat_timeout=1.5)
    manager = AsyncSignalingManager(limits=limits)
    server = await start_server(manager)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(PEER_PROCESS), server.url, "r", "idle", "16",
        stdout=asyncio.subprocess.PIPE, env=same_package(),
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        assert await asyncio.wait_for(proc.stdout.readline(), 60) == b"ready\n"
        assert len(manager.get_room_peers("r")) == 16

        sent = [0]

        async def chatter() -> None:
            while True:
                await manager.send_message("r", "x" * 2000)
                sent[0] += 1
                await asyncio.sleep(0.005)

        talking = asyncio.ensure_future(chatter())
        await until(lambda: sent[0] >= 50)  # traffic in flight to every peer
        proc.kill()  # all 16 vanish at once, with data in flight to each
        await proc.wait()
        await until(lambda: not manager.get_room_peers("r"), 20)  # timed out by the heartbeat
        talking.cancel()
        await asyncio.gather(talking, return_exceptions=True)
        # whatever their timers left behind runs to its end (not awaited: never retrieved)
        await until(lambda: not [t for t in asyncio.all_tasks() if not t.done()
                                 and getattr(t.get_coro(), "__qualname__", "").endswith("_transmit")])  # fmt: skip
        gc.collect()
        await asyncio.sleep(0)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await server.close()
        await manager.close()
        loop.set_exception_handler(None)
    assert unretrieved == []
    err = capfd.readouterr().err
    assert "Task exception was never retrieved" not in err and "Traceback" not in err
