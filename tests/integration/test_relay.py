"""Relay semantics with real aiortc peers on loopback."""

from __future__ import annotations

import asyncio

from conftest import TIMEOUT, Join
from peerpyrtc import AsyncSignalingManager, PeerPyRTCError


async def test_message_reaches_every_other_peer_not_the_sender(join: Join) -> None:
    a, ra = await join("room", "alice")
    b, rb = await join("room", "bob")
    c, rc = await join("room", "carol")
    await a.send_message("hello")
    assert await rb.expect("message") == ("alice", "hello", None)
    assert await rc.expect("message") == ("alice", "hello", None)
    await b.send_message("back")  # alice receives bob's, never her own
    assert await ra.expect("message") == ("bob", "back", None)
    assert all(v[0] != "alice" for k, v in ra.history if k == "message")


async def test_emit_to_others_and_targeted_emit(join: Join) -> None:
    a, ra = await join("room", "alice")
    b, rb = await join("room", "bob")
    c, rc = await join("room", "carol")
    got_b: asyncio.Queue[object] = asyncio.Queue()
    b.on("move", lambda sender, data: got_b.put_nowait((sender, data)))
    await a.emit("move", {"x": 5, "y": 3})
    assert await asyncio.wait_for(got_b.get(), 10) == ("alice", {"x": 5, "y": 3})
    assert await rc.expect("message") == ("alice", {"x": 5, "y": 3}, "move")
    await a.emit("secret", "for carol", to="carol")
    await a.emit("marker", None)  # ordered channel: bob sees the marker, never the secret
    assert await rc.expect("message") == ("alice", "for carol", "secret")
    assert await rb.expect("message", lambda m: m[2] == "marker")
    assert not [m for k, m in rb.history if k == "message" and m[2] == "secret"]


async def test_broadcasts_arrive_in_one_order_at_every_peer(join: Join) -> None:
    peers = [await join("room", name) for name in ("p0", "p1", "p2")]

    async def burst(i: int) -> None:
        for n in range(50):
            await peers[i][0].broadcast("tick", f"{i}-{n}")

    await asyncio.gather(*(burst(i) for i in range(3)))
    orders = []
    for _, rec in peers:
        got = await rec.messages(150)
        assert all(event == "tick" for _, _, event in got)
        orders.append([data for _, data, _ in got])
    assert orders[0] == orders[1] == orders[2]
    assert sorted(orders[0]) == sorted(f"{i}-{n}" for i in range(3) for n in range(50))
    for i in range(3):  # each sender's own order survives
        mine = [d for d in orders[0] if d.startswith(f"{i}-")]
        assert mine == [f"{i}-{n}" for n in range(50)]


async def test_many_messages_in_a_burst_all_arrive_in_order(join: Join) -> None:
    a, _ = await join("room", "alice")
    b, rb = await join("room", "bob")
    for n in range(2000):
        await a.send_message(str(n))
    got = await rb.messages(2000)
    assert [int(m[1]) for m in got] == list(range(2000))


async def test_rooms_are_isolated(join: Join) -> None:
    a, _ = await join("one", "alice")
    b, rb = await join("two", "bob")
    c, rc = await join("one", "carol")
    await a.send_message("only room one")
    assert await rc.expect("message") == ("alice", "only room one", None)
    await b.send_message("room two")
    await a.send_message("again")
    assert await rc.expect("message") == ("alice", "again", None)
    assert not [m for k, m in rb.history if k == "message"]
    assert not [m for k, m in rc.history if k == "message" and m[0] == "bob"]


async def test_presence_host_election_and_room_removal(
    join: Join, manager: AsyncSignalingManager
) -> None:
    a, ra = await join("room", "alice")
    assert a.is_host and [p["id"] for p in a.peers] == ["alice"]
    b, rb = await join("room", "bob")
    assert (await ra.expect("joined"))["id"] == "bob"
    assert [(p["id"], p["isHost"]) for p in b.peers] == [("alice", True), ("bob", False)]
    c, rc = await join("room", "carol")
    await ra.expect("joined")
    await rb.expect("joined")
    info = manager.rooms_info()["room"]
    assert info["peer_count"] == 3 and info["host_id"] == "alice"
    assert [p["id"] for p in manager.get_room_peers("room")] == ["alice", "bob", "carol"]

    await a.close()  # the host leaves: the longest-present peer (bob) takes over
    left = await rb.expect("left")
    assert left["id"] == "alice"
    await rc.expect("left")
    assert b.is_host and not c.is_host and c.host_id == "bob"
    assert manager.rooms_info()["room"]["host_id"] == "bob"
    assert [p["isHost"] for p in c.peers] == [True, False]

    await b.close()
    await rc.expect("left")
    assert c.is_host
    await c.close()
    assert manager.rooms_info() == {}
    assert manager.get_room_peers("room") == []


async def test_peer_info_is_shown_to_others(join: Join, manager: AsyncSignalingManager) -> None:
    a, _ = await join("room", "alice", info={"name": "Alice", "userAgent": "pytest"})
    b, _ = await join("room", "bob")
    alice = next(p for p in b.peers if p["id"] == "alice")
    assert alice["name"] == "Alice" and alice["userAgent"] == "pytest"
    assert isinstance(alice["joinedAt"], int)
    assert manager.get_room_peers("room")[0]["name"] == "Alice"


async def test_server_speaks_into_rooms(join: Join, manager: AsyncSignalingManager) -> None:
    a, ra = await join("room", "alice")
    b, rb = await join("room", "bob")
    assert await manager.send_message("room", "maintenance soon") == 2
    assert await ra.expect("message") == ("server", "maintenance soon", None)
    assert await rb.expect("message") == ("server", "maintenance soon", None)
    assert await manager.emit("room", "score", {"bob": 3}, to="bob") == 1
    assert await rb.expect("message") == ("server", {"bob": 3}, "score")
    assert await manager.emit("empty-room", "x") == 0
    try:
        await manager.emit("room", "x", to="nobody")
    except PeerPyRTCError as exc:
        assert exc.status == 404
    else:
        raise AssertionError("emit to an unknown peer must raise")


async def test_targeted_emit_to_unknown_peer_reports_an_error(join: Join) -> None:
    a, _ = await join("room", "alice")
    errors: asyncio.Queue[object] = asyncio.Queue()
    a.on("error", lambda sender, env: errors.put_nowait(env))
    await a.emit("x", 1, to="ghost")
    err = await asyncio.wait_for(errors.get(), 10)
    assert err["code"] == "ERR_UNKNOWN_PEER"  # type: ignore[index]


async def test_ping_measures_a_round_trip_to_the_server(join: Join) -> None:
    a, _ = await join("room", "alice")
    rtts = [await a.ping() for _ in range(3)]
    assert all(0 < rtt < TIMEOUT for rtt in rtts)
