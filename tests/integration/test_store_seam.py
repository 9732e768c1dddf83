"""The manager asks its room store, which may answer late (a shared store does I/O)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from conftest import TIMEOUT, Recorder, until
from peerpyrtc import AsyncClient, AsyncSignalingManager
from peerpyrtc._rooms.store import Joined, MemoryStore


def gate_joins(manager: AsyncSignalingManager) -> asyncio.Event:
    """Make the manager's store hold every join until the returned event is set."""
    store = manager.parts.store
    assert isinstance(store, MemoryStore)
    release = asyncio.Event()
    original = store.join

    async def join(room: str, peer_id: str, session: str, info: dict[str, Any]) -> Joined:
        await release.wait()
        return await original(room, peer_id, session, info)

    store.join = join  # type: ignore[method-assign]
    return release


def server_peer(manager: AsyncSignalingManager, peer_id: str) -> Any:
    return next((p for (_, pid), p in manager.peers.active.items() if pid == peer_id), None)


async def test_frames_sent_before_the_welcome_are_relayed_once_joined(make_server: Any) -> None:
    server, manager = await make_server()
    ann = AsyncClient(server.url, "r", "ann")
    rec = Recorder(ann)
    await ann.connect()
    release = gate_joins(manager)
    bob = AsyncClient(server.url, "r", "bob")
    connecting = asyncio.ensure_future(bob.connect())
    try:
        await until(lambda: getattr(server_peer(manager, "bob"), "state", "") == "joining")
        channel = bob.connection.queue.channel if bob.connection else None
        assert channel is not None and channel.readyState == "open"
        for i in range(3):  # a raw client may speak as soon as its channel opens
            channel.send(f'{{"t":"msg","d":"early {i}"}}')
        await until(lambda: len(server_peer(manager, "bob").held) == 3)
        assert manager.get_room_peers("r") == manager.get_room_peers("r")[:1]  # not yet a member
        release.set()
        await asyncio.wait_for(connecting, TIMEOUT)
        joined = await rec.expect("joined")
        assert joined["id"] == "bob"
        got = [m[1] for m in await rec.messages(3)]
        assert got == ["early 0", "early 1", "early 2"]  # after the join notice, in order
    finally:
        release.set()
        await bob.close()
        await ann.close()


async def test_a_peer_removed_while_joining_never_appears(make_server: Any) -> None:
    server, manager = await make_server()
    ann = AsyncClient(server.url, "r", "ann")
    rec = Recorder(ann)
    await ann.connect()
    release = gate_joins(manager)
    bob = AsyncClient(server.url, "r", "bob", max_reconnect_attempts=0)
    connecting = asyncio.ensure_future(bob.connect())
    try:
        await until(lambda: getattr(server_peer(manager, "bob"), "state", "") == "joining")
        assert await manager.kick("r", "bob", "not today")
        release.set()
        await asyncio.wait_for(asyncio.gather(connecting, return_exceptions=True), TIMEOUT)
        await until(lambda: len(manager.parts.tasks) == 0)
        assert [p["id"] for p in manager.get_room_peers("r")] == ["ann"]
        assert list(manager.parts.store.claims) == ["r"]  # type: ignore[attr-defined]
        assert list(manager.parts.store.claims["r"]) == ["ann"]  # type: ignore[attr-defined]
        assert await manager.send_message("r", "after") == 1
        assert (await rec.expect("message"))[1] == "after"
        assert not [k for k, _ in rec.history if k in ("joined", "left")]
    finally:
        release.set()
        await bob.close()
        await ann.close()


async def test_a_failed_or_expired_offer_gives_its_claim_back(make_server: Any) -> None:
    from peerpyrtc import Limits

    server, manager = await make_server(limits=Limits(pending_timeout=0.3))
    store = manager.parts.store
    assert isinstance(store, MemoryStore)
    from rawsignal import offer_sdp, post

    sdp = await offer_sdp()
    status, body = await post(
        server.url, "/offer", {"room": "r", "peer_id": "x", "offer": {"type": "offer", "sdp": sdp}}
    )
    assert status == 200, body
    assert store.claims == {"r": {"x": body["answer"]["session"]}}
    await until(lambda: store.claims == {}, timeout=TIMEOUT)  # it never connected
    no_ufrag = "\r\n".join(x for x in sdp.split("\r\n") if not x.startswith("a=ice-ufrag"))
    offer = {"type": "offer", "sdp": no_ufrag}  # refused by aiortc, after the claim
    status, body = await post(server.url, "/offer", {"room": "r", "peer_id": "y", "offer": offer})
    assert status == 400 and "ICE" in body["error"] and store.claims == {}


def test_one_place_walks_a_room_to_send() -> None:
    """Every room fan-out goes through Delivery.deliver_local (the seam a backplane uses)."""
    import ast
    from pathlib import Path

    import peerpyrtc

    found = []
    for path in sorted(Path(peerpyrtc.__file__).parent.rglob("*.py")):
        text = path.read_text()
        if "mutmut" in text:  # a mutation run rewrote this copy into trampolines
            pytest.skip("the package source is mutmut's rewrite")
        tree = ast.parse(text)
        for func in ast.walk(tree):
            if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for loop in ast.walk(func):
                if not isinstance(loop, (ast.For, ast.AsyncFor)):
                    continue
                sends = any(
                    isinstance(c, ast.Call)
                    and isinstance(c.func, ast.Attribute)
                    and c.func.attr in ("send", "put")
                    for c in ast.walk(loop)
                )
                iterated = ast.unparse(loop.iter)
                if sends and ("members" in iterated or "rooms" in iterated or "local" in iterated):
                    found.append((path.parent.name + "/" + path.name, func.name, iterated))
    assert found == [("_rooms/delivery.py", "deliver_local", "members.items()")]


async def test_deliveries_are_counted_exactly_and_a_leaver_is_no_longer_served(
    make_server: Any,
) -> None:
    server, manager = await make_server()
    clients = [AsyncClient(server.url, "r", name) for name in ("a", "b", "c")]
    recs = [Recorder(c) for c in clients]
    for client in clients:
        await client.connect()
    a, b, c = clients
    try:
        await recs[0].expect("joined", lambda p: p["id"] == "c")
        await until(lambda: len(manager.parts.delivery.local["r"]) == 3)
        m = manager.metrics
        before, bytes_before = m.deliveries, m.bytes_out
        await a.send_message("x")
        for rec in recs[1:]:
            assert (await rec.expect("message"))[1] == "x"
        assert m.deliveries == before + 2
        assert m.bytes_out == bytes_before + 2 * len('{"t":"msg","d":"x","from":"a"}')
        before, bytes_before = m.deliveries, m.bytes_out
        await a.emit("e", 1, to="b")
        assert (await recs[1].expect("message"))[2] == "e"
        assert m.deliveries == before + 1
        assert m.bytes_out == bytes_before + len('{"t":"emit","e":"e","d":1,"to":"b","from":"a"}')
        await c.close()
        for rec in recs[:2]:
            assert (await rec.expect("left"))["id"] == "c"
        assert list(manager.parts.delivery.local["r"]) == ["a", "b"]
        before = m.deliveries
        await a.send_message("y")
        assert (await recs[1].expect("message"))[1] == "y"
        assert m.deliveries == before + 1
    finally:
        for client in clients:
            await client.close()
    await until(lambda: manager.parts.delivery.local == {})


async def test_a_flood_before_the_welcome_cuts_off_the_sender(make_server: Any) -> None:
    """Mutant: the bound on frames held while the store answers (256) never runs."""
    from peerpyrtc._core.relay import MAX_HELD_FRAMES

    server, manager = await make_server()
    ann = AsyncClient(server.url, "r", "ann")
    rec = Recorder(ann)
    await ann.connect()
    release = gate_joins(manager)
    bob = AsyncClient(server.url, "r", "bob", max_reconnect_attempts=0)
    connecting = asyncio.ensure_future(bob.connect())
    try:
        await until(lambda: getattr(server_peer(manager, "bob"), "state", "") == "joining")
        channel = bob.connection.queue.channel if bob.connection else None
        assert channel is not None
        for i in range(MAX_HELD_FRAMES + 1):
            channel.send(f'{{"t":"msg","d":"early {i}"}}')
        with pytest.raises(Exception):  # noqa: B017 - refused before it ever joined
            await asyncio.wait_for(connecting, TIMEOUT)
        release.set()
        await until(lambda: server_peer(manager, "bob") is None)
        assert [p["id"] for p in manager.get_room_peers("r")] == ["ann"]
        assert not [m for k, m in rec.history if k in ("message", "joined")]
        assert manager.metrics.drops["flood"] >= 1
    finally:
        release.set()
        await bob.close()
        await ann.close()
