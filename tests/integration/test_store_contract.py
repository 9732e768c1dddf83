"""The room store contract: every RoomStore implementation passes these, unchanged.

Parametrized over implementations (``store_factory`` in conftest): the
in-memory store always, the Redis store when ``redis-server`` is installed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from peerpyrtc import Limits, PeerIdTaken, RoomFull
from peerpyrtc._rooms.store import RoomStore

Factory = Callable[..., Awaitable[RoomStore]]


async def member(store: RoomStore, room: str, peer_id: str, info: dict | None = None) -> None:
    await store.claim(room, peer_id, f"s-{peer_id}")
    await store.join(room, peer_id, f"s-{peer_id}", info or {})


async def redis_store(store_factory: Factory, request: pytest.FixtureRequest, why: str) -> Any:
    """The Redis implementation (skipping the in-memory run with ``why``): for what only a
    shared store has (several workers, lost data)."""
    if "redis" not in request.node.callspec.id:
        pytest.skip(why)
    from peerpyrtc._cluster.redis_store import RedisStore

    store = await store_factory()
    assert isinstance(store, RedisStore)
    return store


async def test_an_id_is_held_by_one_session(store_factory: Factory) -> None:
    store = await store_factory()
    await store.claim("r", "ann", "s1")
    await store.claim("r", "ann", "s1")  # the holder may claim again (a reconnect)
    with pytest.raises(PeerIdTaken):
        await store.claim("r", "ann", "s2")
    await store.claim("other", "ann", "s2")  # ids are per room
    await store.release("r", "ann", "s2")  # not the holder: nothing happens
    with pytest.raises(PeerIdTaken):
        await store.claim("r", "ann", "s2")
    await store.release("r", "ann", "s1")
    await store.claim("r", "ann", "s2")
    assert await store.owner("r", "ann") == store.worker_id
    assert await store.owner("r", "bob") is None
    assert await store.owner("nowhere", "ann") is None


async def test_claims_count_toward_the_caps(store_factory: Factory) -> None:
    store = await store_factory(Limits(max_peers_per_room=2, max_rooms=2))
    await store.claim("a", "p1", "s1")
    await member(store, "a", "p2")
    with pytest.raises(RoomFull, match="full"):
        await store.claim("a", "p3", "s3")
    await store.claim("a", "p1", "s1")  # a holder is never refused for the cap
    await store.claim("b", "p1", "s1")
    with pytest.raises(RoomFull, match="maximum"):
        await store.claim("c", "p1", "s1")
    await store.release("a", "p1", "s1")
    await store.claim("a", "p3", "s3")  # a released claim frees its place
    await store.leave("a", "p2", "s-p2")
    await store.release("a", "p3", "s3")
    await store.claim("c", "p1", "s1")  # an emptied room frees its place too


async def test_first_member_is_host_and_order_is_join_order(store_factory: Factory) -> None:
    store = await store_factory()
    await store.claim("r", "ann", "s1")
    joined = await store.join("r", "ann", "s1", {"name": "Ann"})
    assert joined.host_id == "ann" and not joined.rejoined
    assert joined.member["isHost"] is True and joined.member["name"] == "Ann"
    assert [p["id"] for p in joined.peers] == ["ann"]
    await store.claim("r", "bob", "s2")
    bob = await store.join("r", "bob", "s2", {})
    assert bob.host_id == "ann" and bob.member["isHost"] is False
    assert isinstance(joined.order, int) and bob.order > joined.order
    assert [(p["id"], p["isHost"]) for p in bob.peers] == [("ann", True), ("bob", False)]
    assert isinstance(bob.member["joinedAt"], int)
    assert await store.room_peers("r") == bob.peers
    assert await store.room_peers("nowhere") == []


async def test_join_needs_the_claim(store_factory: Factory) -> None:
    store = await store_factory()
    with pytest.raises(PeerIdTaken):
        await store.join("r", "ann", "s1", {})
    await store.claim("r", "ann", "s1")
    with pytest.raises(PeerIdTaken):
        await store.join("r", "ann", "s2", {})
    assert await store.room_peers("r") == []


async def test_the_host_leaving_hands_over_to_the_longest_present(store_factory: Factory) -> None:
    store = await store_factory()
    for peer_id in ("ann", "bob", "cat"):
        await member(store, "r", peer_id)
    left = await store.leave("r", "bob", "s-bob")
    assert left is not None and left.new_host is None and left.host_id == "ann"
    assert left.member["id"] == "bob" and left.member["isHost"] is False
    left = await store.leave("r", "ann", "s-ann")
    assert left is not None and left.new_host == "cat" and left.host_id == "cat"
    assert left.member["isHost"] is True  # the role it had
    assert [(p["id"], p["isHost"]) for p in await store.room_peers("r")] == [("cat", True)]
    left = await store.leave("r", "cat", "s-cat")
    assert left is not None and left.host_id is None and left.new_host is None
    assert await store.rooms_info() == {}
    await member(store, "r", "dan")  # a new room: a new host
    assert (await store.room_peers("r"))[0]["isHost"] is True


async def test_leave_is_for_the_member_session_only(store_factory: Factory) -> None:
    store = await store_factory()
    await member(store, "r", "ann")
    assert await store.leave("r", "ann", "stale") is None
    assert await store.leave("r", "bob", "s-bob") is None
    assert await store.leave("elsewhere", "ann", "s-ann") is None
    assert [p["id"] for p in await store.room_peers("r")] == ["ann"]
    await store.release("r", "ann", "s-ann")  # a member is not released: it leaves
    assert [p["id"] for p in await store.room_peers("r")] == ["ann"]
    assert await store.leave("r", "ann", "s-ann") is not None
    assert await store.leave("r", "ann", "s-ann") is None  # once
    await store.claim("r", "ann", "other")  # the id is free again


async def test_a_rejoin_keeps_place_and_role_and_updates_info(store_factory: Factory) -> None:
    store = await store_factory()
    await member(store, "r", "ann", {"v": 1})
    await member(store, "r", "bob")
    again = await store.join("r", "ann", "s-ann", {"v": 2})
    assert again.rejoined and again.host_id == "ann"
    assert [(p["id"], p.get("v")) for p in again.peers] == [("ann", 2), ("bob", None)]
    first = await store.join("r", "bob", "s-bob", {})
    assert first.rejoined and first.host_id == "ann" and first.member["isHost"] is False
    again_bob = await store.join("r", "bob", "s-bob", {"v": 3})
    assert again_bob.order == first.order > again.order  # the join order is kept


async def test_presence_data_cannot_shadow_the_server_fields(store_factory: Factory) -> None:
    store = await store_factory()
    await member(store, "r", "ann", {"id": "mallory", "isHost": False, "joinedAt": 0, "x": 1})
    [peer] = await store.room_peers("r")
    assert peer["id"] == "ann" and peer["isHost"] is True and peer["joinedAt"] > 0
    assert peer["x"] == 1


async def test_one_broadcast_order_per_room(store_factory: Factory) -> None:
    store = await store_factory()
    await member(store, "a", "ann")
    await member(store, "b", "bob")
    numbers = await asyncio.gather(*(store.next_seq("a") for _ in range(50)))
    assert sorted(numbers) == list(range(1, 51))
    assert await store.next_seq("b") == 1
    await store.leave("a", "ann", "s-ann")
    await member(store, "a", "ann")
    assert await store.next_seq("a") == 1  # an emptied room starts again


async def test_rooms_info_lists_rooms_with_members(store_factory: Factory) -> None:
    store = await store_factory()
    await member(store, "a", "ann", {"name": "Ann"})
    await member(store, "a", "bob")
    await store.claim("b", "cat", "s-cat")  # claimed, not joined: not listed
    info = await store.rooms_info()
    assert list(info) == ["a"]
    assert info["a"]["peer_count"] == 2 and info["a"]["host_id"] == "ann"
    assert [p["id"] for p in info["a"]["peers"]] == ["ann", "bob"]
    assert info["a"]["peers"][0]["name"] == "Ann"


async def test_concurrent_claims_of_one_id_admit_one_session(store_factory: Factory) -> None:
    store = await store_factory()
    results = await asyncio.gather(
        *(store.claim("r", "ann", f"s{i}") for i in range(20)), return_exceptions=True
    )
    assert sum(r is None for r in results) == 1
    assert all(isinstance(r, PeerIdTaken) for r in results if r is not None)


async def test_only_the_owner_changes_a_claim_or_a_membership(store_factory: Factory) -> None:
    """Every change is conditional on the worker that made it (a late leave from a worker
    the session has left must not evict the member another worker now serves)."""
    store = await store_factory()
    assert await store.claim("r", "ann", "s1") is None  # nobody held it before
    await store.release("r", "ann", "s1", owner="elsewhere")
    with pytest.raises(PeerIdTaken):  # still held: another owner cannot give it up
        await store.claim("r", "ann", "s2")
    await store.join("r", "ann", "s1", {})
    assert await store.leave("r", "ann", "s1", owner="elsewhere") is None
    assert [p["id"] for p in await store.room_peers("r")] == ["ann"]
    left = await store.leave("r", "ann", "s1", owner=store.worker_id)
    assert left is not None and left.member["id"] == "ann"
    assert await store.room_peers("r") == []


async def test_a_session_moving_to_another_worker_names_the_old_one(
    store_factory: Factory, request: pytest.FixtureRequest
) -> None:
    a = await redis_store(store_factory, request, "one in-memory store serves one worker")
    b = type(a)(a.redis, a.limits, worker_id="w2", prefix=a.prefix)
    await a.claim("r", "ann", "s1")
    await a.join("r", "ann", "s1", {})
    assert await b.claim("r", "ann", "s1") == "w1"  # moved: w1 must let its connection go
    assert await b.claim("r", "ann", "s1") is None  # already here
    assert await a.owner("r", "ann") == "w2"
    assert await a.leave("r", "ann", "s1") is None  # w1's late leave changes nothing
    await a.release("r", "ann", "s1")
    assert [p["id"] for p in await b.room_peers("r")] == ["ann"]
    assert await a.take_worker("w1") == []  # w1 owns nothing any more
    assert await b.leave("r", "ann", "s1") is not None


async def test_emptied_rooms_free_the_room_cap_and_live_rooms_stay_listed(
    store_factory: Factory,
) -> None:
    """A long-running cluster must not end up refusing every new room at max_rooms with no
    live room (an emptied room must leave the rooms set), nor lose a live one."""
    store = await store_factory(Limits(max_rooms=2))
    for cycle in range(3):  # rooms come and go, always two at a time
        for room in (f"a{cycle}", f"b{cycle}"):
            await member(store, room, "ann")
            await member(store, room, "bob")
        with pytest.raises(RoomFull, match="maximum"):
            await store.claim(f"c{cycle}", "ann", "s")
        await store.leave(f"a{cycle}", "ann", "s-ann")  # a room with a member left
        info = await store.rooms_info()
        assert sorted(info) == [f"a{cycle}", f"b{cycle}"] and info[f"a{cycle}"]["peer_count"] == 1
        for room in (f"a{cycle}", f"b{cycle}"):
            for peer in ("ann", "bob"):
                await store.leave(room, peer, f"s-{peer}")
        assert await store.rooms_info() == {}


async def test_take_worker_takes_exactly_that_workers_claims_once(
    store_factory: Factory, request: pytest.FixtureRequest
) -> None:
    a = await redis_store(
        store_factory, request, "the in-memory store has one worker and nothing to take over"
    )
    b = type(a)(a.redis, a.limits, worker_id="w2", prefix=a.prefix)
    await member(a, "r", "ann")  # a member
    await a.claim("r", "pending", "s-pending")  # a claim that never joined
    await member(a, "q", "ann")
    await member(b, "r", "bob")  # another worker's
    await member(a, "r", "gone")
    await a.leave("r", "gone", "s-gone")  # no longer a's
    await a.claim("r", "freed", "s-freed")
    await a.release("r", "freed", "s-freed")
    assert sorted(await b.take_worker("w1")) == [
        ("q", "ann", "s-ann"), ("r", "ann", "s-ann"), ("r", "pending", "s-pending")]  # fmt: skip
    assert await b.take_worker("w1") == []  # once
    assert await a.take_worker("w2") == [("r", "bob", "s-bob")]


async def test_restore_puts_a_member_back_in_its_place(
    store_factory: Factory, request: pytest.FixtureRequest
) -> None:
    store = await redis_store(
        store_factory, request, "only a shared store can lose its data under a live worker"
    )
    await member(store, "r", "ann", {"name": "Ann"})
    await member(store, "r", "bob")
    ann_order = (await store.join("r", "ann", "s-ann", {"name": "Ann"})).order
    bob = (await store.join("r", "bob", "s-bob", {})).order
    peers = {p["id"]: p for p in await store.room_peers("r")}
    keys = await store.redis.keys(f"{store.prefix}*")
    await store.redis.delete(*keys)  # Redis lost everything (a restart without persistence)
    assert await store.restore("r", "bob", "s-bob", {}, peers["bob"]["joinedAt"], bob) == (
        False, "bob")  # fmt: skip
    restored = await store.restore(
        "r", "ann", "s-ann", {"name": "Ann"}, peers["ann"]["joinedAt"], ann_order
    )
    assert restored == (False, "ann")  # the lowest order is host again, whoever came back first
    after = await store.room_peers("r")
    assert [(p["id"], p["isHost"], p.get("name")) for p in after] == [
        ("ann", True, "Ann"), ("bob", False, None)]  # fmt: skip
    assert [p["joinedAt"] for p in after] == [peers["ann"]["joinedAt"], peers["bob"]["joinedAt"]]
    assert await store.restore("r", "ann", "s-ann", {}, 1, ann_order) == (True, "ann")  # still
    assert await store.restore("r", "ann", "other-session", {}, 1, ann_order) is None
    with pytest.raises(PeerIdTaken):  # restored claims hold
        await store.claim("r", "bob", "someone-else")
    assert sorted(await store.take_worker("w1")) == [("r", "ann", "s-ann"), ("r", "bob", "s-bob")]
    await member(store, "r", "cat")  # the join counter continues past the restored orders
    cat = (await store.join("r", "cat", "s-cat", {})).order
    assert cat > max(ann_order, bob)


async def test_the_room_cap_and_the_server_cap_are_not_confused(store_factory: Factory) -> None:
    store = await store_factory(Limits(max_peers_per_room=3, max_rooms=1))
    for peer in ("a", "b", "c"):
        await member(store, "r", peer)  # three seats in the one room
    with pytest.raises(RoomFull, match="full"):
        await store.claim("r", "d", "s-d")
    with pytest.raises(RoomFull, match="maximum"):
        await store.claim("other", "a", "s-a")


async def test_a_redis_room_leaves_no_keys_behind(
    store_factory: Factory, request: pytest.FixtureRequest
) -> None:
    """Every key a room used goes when it empties (a stale owner would route a candidate to
    a dead worker; a stale w:<worker> entry would be evicted twice)."""
    store = await redis_store(store_factory, request, "the in-memory store drops its dicts")
    await member(store, "r", "ann", {"name": "Ann"})
    await member(store, "r", "bob")
    await store.claim("r", "cat", "s-cat")  # a claim that never joins
    await store.next_seq("r")
    await store.release("r", "cat", "s-cat")
    await store.leave("r", "bob", "s-bob")
    assert await store.owner("r", "bob") is None and await store.holder("r", "bob") is None
    await store.leave("r", "ann", "s-ann")
    left = sorted(k.decode() for k in await store.redis.keys(f"{store.prefix}*"))
    assert left == [f"{store.prefix}order"], left  # the join counter alone


async def test_a_restored_member_is_owned_listed_and_ordered(
    store_factory: Factory, request: pytest.FixtureRequest
) -> None:
    store = await redis_store(
        store_factory, request, "only a shared store can lose its data under a live worker"
    )
    await member(store, "r", "ann")
    order = (await store.join("r", "ann", "s-ann", {})).order
    assert order == 1
    await store.redis.delete(*await store.redis.keys(f"{store.prefix}*"))  # Redis lost it all
    assert await store.restore("r", "ann", "s-ann", {}, 5, order) == (False, "ann")
    assert await store.owner("r", "ann") == store.worker_id  # forwarded ops find it
    assert list(await store.rooms_info()) == ["r"]
    await member(store, "r", "bob")  # the counter restarts past the restored order
    assert (await store.join("r", "bob", "s-bob", {})).order > order
