"""Mesh rooms with Python peers (aiortc to aiortc): direct links, a paused server, the cap,
fallback, and what the server never sees."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from conftest import TIMEOUT, Recorder, same_package, until
from peerpyrtc import AsyncClient, Limits

HERE = Path(__file__).resolve().parents[1]  # tests/: the helper scripts


def all_direct(client: AsyncClient, count: int) -> bool:
    """``count`` peers linked both ways: our messages go direct, and theirs are taken from the
    link (their ``switch`` came through the server: a server paused before it holds them)."""
    pairs = client.mesh.pairs
    return sum(p["isDirect"] and pairs[p["id"]].in_direct for p in client.peers) == count


@pytest.fixture
async def clients() -> AsyncIterator[list[AsyncClient]]:
    made: list[AsyncClient] = []
    yield made
    await asyncio.gather(*(c.close() for c in made))


async def join(made: list[AsyncClient], url: str, peer_id: str) -> Recorder:
    client = AsyncClient(url, "mesh-room", peer_id)
    made.append(client)
    rec = Recorder(client)
    await client.connect()
    return rec


async def test_python_peers_talk_directly_while_the_server_is_paused(
    clients: list[AsyncClient],
) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(HERE / "serve_process.py"), "mesh", stdout=asyncio.subprocess.PIPE, cwd=HERE.parent, env=same_package()
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), TIMEOUT)).decode()
        url = re.search(r"serving on (\S+)", line).group(1)  # type: ignore[union-attr]
        recs = [await join(clients, url, name) for name in ("alice", "bob", "carol")]
        alice, bob, carol = clients
        await until(lambda: all(all_direct(c, 2) for c in clients))
        assert alice.topology == "mesh"
        os.kill(proc.pid, signal.SIGSTOP)
        try:
            for i in range(30):
                await alice.send_message(f"a{i}")
            await carol.emit("only-bob", {"n": 1}, to="bob")
            for rec in recs[1:]:
                got = [m for m in await rec.messages(30) if m[0] == "alice"]
                assert got == [("alice", f"a{i}", None) for i in range(30)]
            assert await recs[1].expect("message") == ("carol", {"n": 1}, "only-bob")
        finally:
            os.kill(proc.pid, signal.SIGCONT)
        await bob.broadcast("tick", 1)  # through the server again
        for rec in recs:
            assert (await rec.expect("message"))[2] == "tick"
        assert not [m for m in recs[0].history if m[0] == "message" and m[1][2] == "only-bob"]
    finally:
        proc.terminate()
        await proc.wait()


async def test_the_server_never_sees_direct_messages_and_the_cap_holds(
    make_server: Any, clients: list[AsyncClient]
) -> None:
    server, manager = await make_server(topology="mesh", limits=Limits(mesh_max_peers=2))
    seen: list[Any] = []
    manager.message_handler(lambda room, sender, message: seen.append(message))
    manager.on("direct")(lambda room, sender, data: seen.append(("direct", data)))
    a, b, c = [await join(clients, server.url, n) for n in ("alice", "bob", "carol")]
    alice, bob, carol = clients
    await until(lambda: all_direct(alice, 1) and all_direct(bob, 1))
    assert all_direct(carol, 0)  # past the cap: reached through the relay
    for i in range(20):
        await alice.send_message(f"m{i}")
    for rec in (b, c):
        assert [m[1] for m in await rec.messages(20)] == [f"m{i}" for i in range(20)]
    await until(lambda: len(seen) == 20)
    # the server saw them once each: for carol (relayed, with bob skipped); bob got them directly
    assert seen == [f"m{i}" for i in range(20)]
    await alice.emit("direct", 1, to="bob")
    assert await b.expect("message") == ("alice", 1, "direct")
    await alice.send_message("marker")  # relayed for carol, after the emit in alice's order
    await until(lambda: seen[-1] == "marker")
    assert seen == [f"m{i}" for i in range(20)] + ["marker"]  # the emit never reached it
    assert await manager.send_message("mesh-room", "from the server") == 3
    del a


async def test_a_python_link_that_drops_mid_stream_loses_and_repeats_nothing(
    make_server: Any, clients: list[AsyncClient]
) -> None:
    server, _ = await make_server(topology="mesh")
    _, b = [await join(clients, server.url, n) for n in ("alice", "bob")]
    alice, bob = clients
    await until(lambda: all_direct(alice, 1) and all_direct(bob, 1))
    for i in range(300):
        await alice.send_message(f"m{i}")
        if i == 150:
            link = alice.mesh.pairs["bob"].link
            assert link is not None
            await link.pc.close()  # the link drops
        if i % 20 == 0:
            await asyncio.sleep(0.005)
    got = await b.messages(300)
    assert [m[1] for m in got] == [f"m{i}" for i in range(300)]
    await alice.broadcast("end")  # through the server: after every resend in alice's order
    assert (await b.expect("message"))[2] == "end"
    assert len([m for m in b.history if m[0] == "message"]) == 301  # nothing came twice
    await until(lambda: all_direct(alice, 1), timeout=TIMEOUT)  # upgraded again


async def test_sig_envelopes_are_for_mesh_rooms_only(
    make_server: Any, clients: list[AsyncClient]
) -> None:
    server, _ = await make_server()
    await join(clients, server.url, "alice")
    bob = await join(clients, server.url, "bob")
    alice = clients[0]
    errors: asyncio.Queue[Any] = asyncio.Queue()
    alice.on("error", lambda sender, error: errors.put_nowait(error))
    assert alice.topology == "relay" and alice.connection is not None
    alice.connection.queue.put('{"t":"sig","to":"bob","d":{"k":"neg"}}')
    error = await asyncio.wait_for(errors.get(), TIMEOUT)
    assert error["code"] == "ERR_PROTOCOL" and "mesh" in error["message"]
    await alice.send_message("still here")
    assert await bob.expect("message") == ("alice", "still here", None)


async def test_a_skip_list_cannot_hide_a_relay_room_message_from_chosen_members(
    make_server: Any, clients: list[AsyncClient]
) -> None:
    server, manager = await make_server()
    seen: list[Any] = []
    manager.message_handler(lambda room, peer_id, message: seen.append(message))
    await join(clients, server.url, "alice")
    bob = await join(clients, server.url, "bob")
    carol = await join(clients, server.url, "carol")
    alice = clients[0]
    errors: asyncio.Queue[Any] = asyncio.Queue()
    alice.on("error", lambda sender, error: errors.put_nowait(error))
    assert alice.connection is not None
    alice.connection.queue.put('{"t":"msg","d":"not for bob","x":["bob"]}')
    error = await asyncio.wait_for(errors.get(), TIMEOUT)
    assert error["code"] == "ERR_PROTOCOL" and "mesh" in error["message"]
    await alice.send_message("for everyone")  # nothing of the refused one reached anyone
    for rec in (bob, carol):
        assert await rec.expect("message") == ("alice", "for everyone", None)
    await until(lambda: seen == ["for everyone"])


HOSTILE_SIGNALS = [
    {"k": "resend", "s": 10**9, "e": {"t": "emit", "e": [1], "d": 1}},  # unhashable event
    {"k": "resend", "s": 10**9 + 1, "e": {"t": "emit", "e": {"a": 1}, "d": 1}},
    {"k": "resend", "s": 10**9 + 2, "e": {"t": "msg", "d": ["not", "text"]}},
    {"k": "resend", "s": "7", "e": None},
    {"k": "neg", "link": ["x"], "description": 5},
    {
        "k": "neg",
        "link": "l1",
        "candidate": {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host", "sdpMid": "0"},
    },
    {"k": "switch", "link": {"a": 1}},
    {"k": ["fallback"]},
]


async def test_hostile_signals_and_direct_frames_end_nothing_for_a_python_peer(
    make_server: Any, clients: list[AsyncClient]
) -> None:
    """What another member sends a Python peer is validated as the server validates client
    frames: the victim keeps its connection and every broadcast (finding 4)."""
    import json

    from peerpyrtc._client.mesh import ClientMesh

    server, _ = await make_server(topology="mesh")
    recs = [await join(clients, server.url, name) for name in ("victim", "zed")]
    victim, zed = clients
    victim_rec = recs[0]
    await until(lambda: all_direct(victim, 1) and all_direct(zed, 1))
    assert zed.connection is not None
    for i in range(20):  # the attack, interleaved with the room's broadcasts
        for d in HOSTILE_SIGNALS:
            zed.connection.queue.put(json.dumps({"t": "sig", "to": "victim", "d": d}))
        await zed.broadcast("tick", i)
    got = [await victim_rec.expect("message", lambda m: m[2] == "tick") for _ in range(20)]
    assert [m[1] for m in got] == list(range(20))
    assert victim.connected and not [k for k, _ in victim_rec.history if k == "close"]
    assert not [m for k, m in victim_rec.history if k == "message" and m[2] != "tick"]
    # direct frames: strict JSON, and a peer that never switches cannot make us hold more
    mesh: ClientMesh = victim.mesh
    pair = mesh.pairs["zed"]
    link = pair.link
    assert link is not None
    for frame in ['{"t":"d","s":1,"b":[NaN]}', '{"t":"d","s":1,"b":["\\ud800"]}', "[[[[", 5]:
        mesh.on_frame(pair, link, frame)  # type: ignore[arg-type]
    pair.in_direct = False  # as if zed had never sent its switch
    flood = json.dumps({"t": "d", "s": pair.in_seq + 1, "b": [{"t": "msg", "d": "x"}] * 1100})
    mesh.on_frame(pair, link, flood)
    assert pair.held == [] and link.closed  # fell back instead of holding without bound
    # (its own numbers it may spoil: the resends above put its sequence far ahead, so the
    # victim now ignores zed's numbered messages; the room's broadcasts still arrive)
    await zed.broadcast("after", 1)
    assert await victim_rec.expect("message", lambda m: m[2] == "after") == ("zed", 1, "after")
    assert victim.connected


async def test_a_peer_that_never_acknowledges_costs_a_bounded_resend_and_a_pause(
    make_server: Any, clients: list[AsyncClient]
) -> None:
    """Finding 5: a member that never acknowledges direct frames makes its peer fall back
    after 1 MiB, resend at most that through the relay (inside the server's byte burst, so
    it is not cut off as a flooder), and wait before trusting a direct link with it again.
    Everything still arrives exactly once, in order."""
    import json

    from peerpyrtc._client.mesh import MAX_UNACKED_BYTES

    server, _ = await make_server(topology="mesh")
    victim_rec, zed_rec = [await join(clients, server.url, n) for n in ("victim", "zed")]
    victim, zed = clients
    await until(lambda: all_direct(victim, 1) and all_direct(zed, 1))
    zed.mesh._ack = lambda pair: None  # type: ignore[method-assign]  # the hostile peer
    resent: list[int] = []
    signal = victim.mesh.signal

    def spy(to: str, d: dict[str, Any]) -> None:
        if d.get("k") == "resend":
            resent.append(len(json.dumps(d["e"], separators=(",", ":"))))
        signal(to, d)

    victim.mesh.signal = spy  # type: ignore[method-assign]
    for i in range(1500):  # 1.5 MB: past the bound once
        await victim.send_message(f"{i:05d}" + "v" * 1000)
    got = [m[1][:5] for m in await zed_rec.messages(1500, timeout=30)]
    assert got == [f"{i:05d}" for i in range(1500)]  # once each, in order
    assert 0 < sum(resent) <= MAX_UNACKED_BYTES + 1100  # a bounded resend, not everything
    assert victim.connected and not [k for k, _ in victim_rec.history if k == "close"]
    assert victim.mesh.pairs["zed"].strikes >= 1  # no new link with zed for a while


async def test_a_large_transfer_on_a_direct_link_waits_for_the_link_instead_of_falling_back(
    make_server: Any, clients: list[AsyncClient]
) -> None:
    """Backpressure on direct links: a sender that awaits ``send_message`` is paced by the
    link's buffer and its acknowledgements (large frames are acknowledged at once), so 7 MB
    go direct, in order, with the link's buffer bounded, and the link never falls back."""
    from peerpyrtc._client.mesh import MAX_DIRECT_BYTES
    from peerpyrtc._rtc.sendqueue import HIGH_WATER

    server, manager = await make_server(topology="mesh")
    _, b = [await join(clients, server.url, n) for n in ("alice", "bob")]
    alice, bob = clients
    await until(lambda: all_direct(alice, 1) and all_direct(bob, 1))
    link = alice.mesh.pairs["bob"].link
    assert link is not None
    relayed_before = manager.metrics.frames_in
    chunk = "y" * 60_000
    most = 0
    for i in range(120):
        await alice.send_message(f"{i:04d}{chunk}")
        most = max(most, link.channel.bufferedAmount)
        assert alice.mesh.is_direct("bob"), f"fell back at message {i}"
    got = await b.messages(120)
    assert [m[1][:4] for m in got] == [f"{i:04d}" for i in range(120)]
    assert alice.mesh.pairs["bob"].link is link  # the same link all along
    assert most <= HIGH_WATER + MAX_DIRECT_BYTES
    assert manager.metrics.frames_in - relayed_before < 10  # acks and pings only: no relay


async def test_volatile_messages_go_on_direct_links_and_through_the_relay_once(
    make_server: Any, clients: list[AsyncClient]
) -> None:
    server, manager = await make_server(topology="mesh", limits=Limits(mesh_max_peers=2))
    moderated: list[Any] = []

    @manager.before_relay
    def watch(message: Any) -> Any:
        moderated.append((message.volatile, message.event, message.data))
        return message

    a, b, c = [await join(clients, server.url, n) for n in ("alice", "bob", "carol")]
    alice, bob, carol = clients
    await until(lambda: all_direct(alice, 1) and all_direct(bob, 1))
    # the link's volatile channel is up once bob's switch said it has one
    await until(lambda: alice.mesh.pairs["bob"].volatile and bob.mesh.pairs["alice"].volatile)
    await alice.emit("cursor", {"x": 1}, volatile=True)
    await alice.emit("cursor", b"\x01\x02", volatile=True)  # binary, in one frame
    for rec in (b, c):  # bob directly, carol through the relay: each once
        got = [await rec.expect("message") for _ in range(2)]
        assert sorted(map(repr, got)) == sorted(
            map(repr, [("alice", {"x": 1}, "cursor"), ("alice", b"\x01\x02", "cursor")])
        )
    await until(lambda: len(moderated) == 2)  # the server saw them once, for carol
    await alice.emit("only-bob", [1], to="bob", volatile=True)  # direct: the server never
    assert await b.expect("message") == ("alice", [1], "only-bob")
    await bob.emit("back", "hi", volatile=True)  # and the other way, carol through the relay
    assert await a.expect("message") == ("bob", "hi", "back")
    assert await c.expect("message") == ("bob", "hi", "back")
    await alice.send_message("marker")
    await until(lambda: moderated[-1] == (False, None, "marker"))
    assert [m for m in moderated if m[0]] == [
        (True, "cursor", {"x": 1}),
        (True, "cursor", b"\x01\x02"),
        (True, "back", "hi"),
    ]
    await alice.broadcast("end")  # through the server, after anything it relayed to bob
    await b.expect("message", lambda m: m[2] == "end")
    assert len([m for k, m in b.history if k == "message" and m[2] == "cursor"]) == 2


@pytest.mark.parametrize("size", [1024, 300 * 1024, 5 * 1024 * 1024, 16 * 1024 * 1024 - 1024])
async def test_binary_and_large_messages_reach_linked_python_peers_intact(
    make_server: Any, clients: list[AsyncClient], size: int
) -> None:
    import hashlib

    server, _ = await make_server(topology="mesh")
    _, b = [await join(clients, server.url, n) for n in ("alice", "bob")]
    alice, bob = clients
    await until(lambda: all_direct(alice, 1) and all_direct(bob, 1))
    payload = os.urandom(size)
    await asyncio.wait_for(alice.emit("file", {"data": payload, "n": 1}), TIMEOUT * 6)
    sender, data, event = await b.expect("message", timeout=TIMEOUT * 6)
    assert (sender, event, data["n"]) == ("alice", "file", 1)
    assert hashlib.sha256(data["data"]).digest() == hashlib.sha256(payload).digest()
    assert all_direct(alice, 1)  # the link stayed up beside it
