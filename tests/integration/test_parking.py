"""Candidates parked in Redis before their offer (hardening round 3, findings 3 and 12):
only validated fields, bounded per session, per address and in the whole cluster, under
keys that no two (room, peer, session) share, evictable by their own session only."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest

from conftest import flush, http_request
from peerpyrtc import AsyncSignalingManager, Limits, RateLimited, start_server

pytestmark = pytest.mark.redis

CAND = "candidate:1 1 udp 2122260223 192.0.2.7 {port} typ host"


def candidate(session: str, port: int = 5000, **extra: Any) -> dict[str, Any]:
    return {"candidate": CAND.format(port=port), "sdpMid": "0", "sdpMLineIndex": 0,
            "session": session, **extra}  # fmt: skip


def session() -> str:
    return secrets.token_urlsafe(24)


@pytest.fixture
async def workers(redis_server: Any) -> AsyncIterator[list[AsyncSignalingManager]]:
    await flush(redis_server)
    made: list[AsyncSignalingManager] = []
    for _ in range(2):
        m = AsyncSignalingManager(
            backplane=redis_server.url,
            limits=Limits(max_early_sessions=6, max_early_sessions_per_address=4),
        )
        await m.start()
        made.append(m)
    yield made
    for m in made:
        await m.close()


def at(addr: str) -> dict[str, Any]:
    return {"remote_addr": addr}


async def test_only_validated_fields_are_parked_and_each_session_is_bounded(
    workers: list[AsyncSignalingManager], redis_client: Any
) -> None:
    a, _ = workers
    mine = session()
    await a.candidate("r", "ann", candidate(mine, junk="x" * 100_000, usernameFragment="u"))
    raw = await redis_client.lrange(f"peerpyrtc:early:r\0ann\0{mine}".encode(), 0, -1)
    assert [json.loads(c) for c in raw] == [
        {"candidate": CAND.format(port=5000), "sdpMid": "0", "sdpMLineIndex": 0}
    ]
    for port in range(5001, 5016):  # 16 in all for one session
        await a.candidate("r", "ann", candidate(mine, port), metadata=at("198.51.100.1"))
    with pytest.raises(RateLimited, match="too many candidates"):
        await a.candidate("r", "ann", candidate(mine, 6000))
    assert len(await a.parts.backplane.take_parked("r", "ann", mine)) == 16  # type: ignore[union-attr]


async def test_sessions_are_bounded_per_address_and_across_the_cluster(
    workers: list[AsyncSignalingManager],
) -> None:
    a, b = workers
    for i in range(4):  # one address: 4 sessions, on either worker
        await (a if i % 2 else b).candidate("r", f"p{i}", candidate(session()), metadata=at("198.51.100.1"))  # fmt: skip
    for worker in (a, b):
        with pytest.raises(RateLimited, match="this address"):
            await worker.candidate("r", "p9", candidate(session()), metadata=at("198.51.100.1"))
    await a.candidate("r", "q0", candidate(session()), metadata=at("198.51.100.2"))
    await b.candidate("r", "q1", candidate(session()), metadata=at("198.51.100.3"))
    for worker in (a, b):  # 6 sessions in the whole cluster
        with pytest.raises(RateLimited, match="too many sessions"):
            await worker.candidate("r", "q2", candidate(session()), metadata=at("198.51.100.4"))


async def test_keys_never_collide_and_other_sessions_cannot_evict(
    workers: list[AsyncSignalingManager],
) -> None:
    a, b = workers
    plane_a, plane_b = a.parts.backplane, b.parts.backplane
    assert plane_a is not None and plane_b is not None
    same = session()
    await a.candidate("a", "b:c", candidate(same, 5001))  # room a, peer b:c
    await a.candidate("a:b", "c", candidate(same, 5002))  # room a:b, peer c
    mine = session()
    await a.candidate("r", "ann", candidate(mine, 5003))
    for i in range(3):  # strangers posting for ann under sessions of their own
        await b.candidate("r", "ann", candidate(session(), 5100 + i), metadata=at(f"203.0.113.{i}"))  # fmt: skip
    took = await plane_b.take_parked("a", "b:c", same)
    assert [c["candidate"] for c in took] == [CAND.format(port=5001)]
    assert [c["candidate"] for c in await plane_a.take_parked("a:b", "c", same)] == [
        CAND.format(port=5002)
    ]
    assert [c["candidate"] for c in await plane_b.take_parked("r", "ann", mine)] == [
        CAND.format(port=5003)
    ]
    assert await plane_a.take_parked("r", "ann", mine) == []  # taken once


async def test_a_stranger_posting_candidates_cannot_grow_redis(
    redis_server: Any, redis_client: Any
) -> None:
    await flush(redis_server)
    manager = AsyncSignalingManager(backplane=redis_server.url)
    server = await start_server(manager)
    try:
        await manager.start()
        before = (await redis_client.info("memory"))["used_memory"]
        statuses = []
        for i in range(300):  # what grew Redis by 80 MB before: big bodies, fresh sessions
            body = candidate(session(), 5000, junk="y" * 200_000)
            status, _, _ = await http_request(
                f"{server.url}/candidate", "POST",
                json.dumps({"room": "r", "peer_id": f"p{i}", "candidate": body}).encode(),
            )  # fmt: skip
            statuses.append(status)
        grown = (await redis_client.info("memory"))["used_memory"] - before
        assert statuses.count(200) == Limits().max_early_sessions_per_address  # one address: 20
        assert set(statuses[20:]) == {429}
        assert grown < 200_000, grown  # a few KiB of parsed fields, not 60 MB of junk
    finally:
        await server.close()
        await manager.close()


async def test_taken_and_expired_sessions_free_their_places_and_leave_no_keys(
    redis_server: Any, redis_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the cluster-wide bounds count must go when a session is taken by its offer or
    expires (else the caps fill up for good), and no key may stay behind."""
    import time
    import types

    import peerpyrtc._cluster.parking as parking

    clock = [time.time()]  # the parking's clock: the bounds expire sessions by it
    monkeypatch.setattr(parking, "time", types.SimpleNamespace(time=lambda: clock[0]))
    await flush(redis_server)
    limits = Limits(max_early_sessions=3, max_early_sessions_per_address=2,
                    early_candidate_ttl=0.4)  # fmt: skip
    manager = AsyncSignalingManager(backplane=redis_server.url, limits=limits)
    await manager.start()
    plane = manager.parts.backplane
    assert plane is not None
    try:
        first, second = session(), session()
        await manager.candidate("r", "p1", candidate(first), metadata=at("198.51.100.1"))
        await manager.candidate("r", "p2", candidate(second), metadata=at("198.51.100.1"))
        with pytest.raises(RateLimited, match="this address"):
            await manager.candidate("r", "p3", candidate(session()), metadata=at("198.51.100.1"))
        assert len(await plane.take_parked("r", "p1", first)) == 1  # its offer took it
        await manager.candidate("r", "p3", candidate(session()), metadata=at("198.51.100.1"))
        await manager.candidate("r", "q1", candidate(session()), metadata=at("198.51.100.2"))
        with pytest.raises(RateLimited, match="too many sessions"):
            await manager.candidate("r", "q2", candidate(session()), metadata=at("198.51.100.3"))
        clock[0] += 1  # past the TTL: every session expired
        for i in range(3):
            await manager.candidate("r", f"z{i}", candidate(session()), metadata=at(f"203.0.113.{i}"))  # fmt: skip
        clock[0] += 1
        await manager.candidate("r", "last", candidate(session()), metadata=at("203.0.113.9"))
        keys = {k.decode() for k in await redis_client.keys("peerpyrtc:early*")}
        lists = {k for k in keys if k.startswith("peerpyrtc:early:r\0")}
        assert keys - lists == {  # the expired sessions' addresses and entries are gone
            "peerpyrtc:early:addr:203.0.113.9", "peerpyrtc:early:addrs", "peerpyrtc:early:all"}  # fmt: skip
        for key in [*lists, "peerpyrtc:early:addr:203.0.113.9"]:  # and what is left expires
            assert 0 < await redis_client.pttl(key) <= 400, key
        assert await redis_client.zcard("peerpyrtc:early:all") == 1
        assert await redis_client.hlen("peerpyrtc:early:addrs") == 1
    finally:
        await manager.close()
