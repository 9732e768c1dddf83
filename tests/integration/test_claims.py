"""Who may change an id's claim and membership (hardening round 3, findings 1 and 2).

Every store change is conditional on the worker that made it, so a session that moved to
another worker is never evicted by its old worker's late leave; and every failure after an
offer claimed its id gives the claim back, so no id, room seat or room slot leaks.
"""

from __future__ import annotations

from typing import Any

import pytest

import peerpyrtc._rtc.aiortc_transport as transport_module
from conftest import TIMEOUT, Recorder, Serve, flush, until
from peerpyrtc import AsyncClient, AsyncSignalingManager, Limits, start_server

pytestmark = pytest.mark.redis


async def test_a_session_that_moved_workers_stays_visible_and_its_old_connection_goes(
    serve: Serve, redis_server: Any
) -> None:
    (_, url_a), (_, url_b) = [await serve.start("--redis", redis_server.url) for _ in range(2)]
    first = AsyncClient(url_a, "r", "ann", max_reconnect_attempts=0)
    first_rec = Recorder(first)
    bob = AsyncClient(url_b, "r", "bob", max_reconnect_attempts=0)
    bob_rec = Recorder(bob)
    second = AsyncClient(url_b, "r", "ann", max_reconnect_attempts=0)
    second.session = first.session  # the same client, reconnecting through another worker
    second_rec = Recorder(second)
    observer = AsyncSignalingManager(backplane=redis_server.url)
    try:
        await first.connect()
        await bob.connect()
        await second.connect()
        # worker A lets its connection go (it can no longer act for the id): no hidden peer
        await first_rec.expect("close", timeout=TIMEOUT)
        await observer.start()
        peers = await observer.fetch_room_peers("r")
        assert [(p["id"], p["isHost"]) for p in peers] == [("ann", True), ("bob", False)]
        await bob.send_message("to ann")
        assert await second_rec.expect("message") == ("bob", "to ann", None)
        assert not [v for k, v in first_rec.history if k == "message"]
        # nobody saw ann leave: A's late leave changed nothing in the store
        assert not [v for k, v in bob_rec.history if k == "left"]
        # a kick from a worker that holds nobody reaches the connection that holds the id
        assert await observer.kick("r", "ann", "bye now") is True
        assert await second_rec.expect("close") is not None
        await until(lambda: len(bob.peers) == 1)
        assert [p["id"] for p in await observer.fetch_room_peers("r")] == ["bob"]
        # the id is free again, and only its new holder hears what is sent to it
        async with AsyncClient(url_a, "r", "ann") as third:
            third_rec = Recorder(third)
            await bob.emit("hi", 1, to="ann")
            assert await third_rec.expect("message") == ("bob", 1, "hi")
    finally:
        for c in (first, second, bob):
            await c.close()
        await observer.close()


class FailingAt:
    """Makes the server's answering fail at one step after its claim."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, manager: AsyncSignalingManager) -> None:
        self.monkeypatch = monkeypatch
        self.manager = manager

    def arm(self, step: str) -> None:
        base = transport_module.RTCPeerConnection

        def boom(*_: Any, **__: Any) -> Any:
            raise RuntimeError(f"injected failure at {step}")

        async def aboom(*_: Any, **__: Any) -> Any:
            boom()

        if step == "parked":
            # (RateLimited in the attack: a 429 the client retries, so fail for good here)
            self.monkeypatch.setattr(self.manager.parts.early, "keep", boom)
        elif step == "peer connection":
            self.monkeypatch.setattr(transport_module, "RTCPeerConnection", boom)
        else:
            method = {"remote description": "setRemoteDescription",
                      "answer": "createAnswer", "local description": "setLocalDescription"}[step]  # fmt: skip
            failing = type("Failing", (base,), {method: aboom})
            self.monkeypatch.setattr(transport_module, "RTCPeerConnection", failing)


STEPS = ["parked", "peer connection", "remote description", "answer", "local description"]


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("store", ["memory", "redis"])
async def test_every_failure_after_the_claim_gives_it_back(
    step: str, store: str, monkeypatch: pytest.MonkeyPatch, redis_server: Any
) -> None:
    if step == "parked" and store == "memory":
        pytest.skip("only a backplane parks candidates for an offer")
    await flush(redis_server)
    backplane = redis_server.url if store == "redis" else None
    limits = Limits(max_peers_per_room=1, max_rooms=1)  # a leaked claim would fill both
    manager = AsyncSignalingManager(backplane=backplane, limits=limits)
    server = await start_server(manager)
    try:
        victim = AsyncClient(server.url, "r", "ann", max_reconnect_attempts=0, timeout=3)
        if step == "parked":  # a candidate that reached the cluster before its offer
            await manager.candidate("r", "ann", {
                "candidate": "candidate:1 1 udp 2122260223 192.0.2.7 5000 typ host",
                "sdpMid": "0", "sdpMLineIndex": 0, "session": victim.session})  # fmt: skip
        FailingAt(monkeypatch, manager).arm(step)
        with pytest.raises(Exception):  # noqa: B017 - any failure; what matters is after it
            await victim.connect()
        await victim.close()
        monkeypatch.undo()
        # the id, the room's one seat and the server's one room are free for someone else
        async with AsyncClient(server.url, "r", "ann", timeout=5) as again:
            assert again.connected
        async with AsyncClient(server.url, "r", "ann", timeout=5) as later:
            assert [p["id"] for p in later.peers] == ["ann"]
    finally:
        await server.close()
        await manager.close()


async def test_a_closing_worker_gives_back_the_claims_of_offers_it_was_answering(
    redis_server: Any,
) -> None:
    await flush(redis_server)
    manager = AsyncSignalingManager(backplane=redis_server.url)
    await manager.start()
    store = manager.parts.store
    await store.claim("r", "ann", "s" * 22)  # an offer being answered when the worker stops
    await manager.close()
    other = AsyncSignalingManager(backplane=redis_server.url, limits=Limits(max_rooms=1))
    server = await start_server(other)
    try:  # a restart, and the id (and the one room) is free at once, not after 35 s
        async with AsyncClient(server.url, "r", "ann", timeout=5) as ann:
            assert ann.connected
    finally:
        await server.close()
        await other.close()
