"""Worker processes sharing rooms through a real redis-server: killed workers, a restarted
Redis, ``peerpyrtc serve --workers N``."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest

from conftest import TIMEOUT, Recorder, RedisServer, Serve, flush, http_request, until
from peerpyrtc import AsyncClient, AsyncSignalingManager

TOKEN = "cluster-admin-token-0123456789"


@pytest.fixture
async def clients() -> AsyncIterator[list[AsyncClient]]:
    made: list[AsyncClient] = []
    yield made
    for client in made:
        await client.close()


async def join(made: list[AsyncClient], url: str, room: str, peer_id: str) -> Recorder:
    client = AsyncClient(url, room, peer_id, max_reconnect_attempts=0)
    made.append(client)
    rec = Recorder(client)
    await client.connect()
    return rec


async def test_a_killed_worker_takes_its_peers_out_within_ten_seconds(
    serve: Serve, clients: list[AsyncClient], redis_server: RedisServer
) -> None:
    workers = [await serve.start("--redis", redis_server.url) for _ in range(3)]
    recs = []
    for i, (_, url) in enumerate(workers):  # ann (host) and dan on worker 0
        recs.append(await join(clients, url, "r", ["ann", "bob", "cat"][i]))
    recs.append(await join(clients, workers[0][1], "r", "dan"))
    ann, bob, cat, dan = clients
    await until(lambda: len(bob.peers) == 4 and len(cat.peers) == 4)
    await ann.send_message("from worker 0")
    assert (await recs[2].expect("message"))[1] == "from worker 0"
    loop = asyncio.get_running_loop()
    killed_at = loop.time()
    workers[0][0].kill()  # SIGKILL: no goodbye from the worker
    for rec in (recs[1], recs[2]):
        gone = {(await rec.expect("left", timeout=15))["id"] for _ in range(2)}
        assert gone == {"ann", "dan"}
    took = loop.time() - killed_at
    print(f"a killed worker's peers were gone for the others after {took:.1f}s")
    assert took < 10
    await until(lambda: bob.is_host and not cat.is_host)
    manager = AsyncSignalingManager(backplane=redis_server.url)
    try:  # the cluster's view agrees: bob (host) and cat
        peers = await manager.fetch_room_peers("r")
        assert [(p["id"], p["isHost"]) for p in peers] == [("bob", True), ("cat", False)]
    finally:
        await manager.close()
    await bob.send_message("still here")
    assert (await recs[2].expect("message"))[1] == "still here"


async def test_a_redis_restart_keeps_local_peers_and_reconciles(
    redis_server: RedisServer, clients: list[AsyncClient], cluster: Any
) -> None:
    workers = [await cluster.add_worker() for _ in range(2)]
    ann = await join(clients, workers[0][0].url, "r", "ann")
    bob = await join(clients, workers[0][0].url, "r", "bob")
    cat = await join(clients, workers[1][0].url, "r", "cat")
    await until(lambda: all(len(c.peers) == 3 for c in clients))
    presence = [[e for e in r.history if e[0] in ("joined", "left")] for r in (ann, bob, cat)]
    redis_server.stop()
    await until(lambda: not workers[0][1].parts.delivery.linked, timeout=15)  # type: ignore[attr-defined]
    status, _, body = await http_request(workers[0][0].url + "/health")
    assert (status, json.loads(body)["backplane"]) == (200, "lost")  # still serving its own
    await clients[0].send_message("while Redis is away")  # same worker: still served
    assert (await bob.expect("message"))[1] == "while Redis is away"
    redis_server.start()
    await until(lambda: all(m.parts.delivery.linked for _, m in workers), timeout=15)  # type: ignore[attr-defined]
    status, _, body = await http_request(workers[0][0].url + "/health")
    assert (status, json.loads(body)["backplane"]) == (200, "linked")
    peers = await workers[1][1].fetch_room_peers("r")
    assert [(p["id"], p["isHost"]) for p in peers] == [
        ("ann", True), ("bob", False), ("cat", False),
    ]  # fmt: skip
    await clients[2].send_message("across again")
    for rec in (ann, bob):
        assert (await rec.expect("message"))[1] == "across again"
    after = [[e for e in r.history if e[0] in ("joined", "left")] for r in (ann, bob, cat)]
    assert after == presence  # nobody was told of a leave or a second join
    assert [len(c.peers) for c in clients] == [3, 3, 3]


async def test_serve_workers_share_one_port(
    serve: Serve, clients: list[AsyncClient], redis_server: RedisServer
) -> None:
    proc, url = await serve.start("--workers", "3", "--redis", redis_server.url,
                                  "--admin-token", TOKEN)  # fmt: skip
    recs = [await join(clients, url, "r", f"p{i}") for i in range(6)]
    await until(lambda: all(len(c.peers) == 6 for c in clients))
    await clients[5].send_message("to all five")
    for rec in recs[:5]:
        assert (await rec.expect("message"))[1] == "to all five"
    import redis.asyncio as aioredis

    r = aioredis.Redis.from_url(redis_server.url)
    try:
        assert await r.scard("peerpyrtc:workers") == 3
        for _ in range(3):  # any worker answers /rooms with the whole cluster
            status, _, body = await http_request(
                url + "/rooms", headers={"Authorization": f"Bearer {TOKEN}"}
            )
            assert status == 200 and json.loads(body)["r"]["peer_count"] == 6
    finally:
        await r.aclose()


async def test_serve_refuses_to_start_without_redis(serve: Serve, tmp_path: Any) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "peerpyrtc", "serve", "--port", "0",
        "--redis", f"unix://{tmp_path}/none.sock",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    assert proc.returncode == 2 and b"unreachable" in err and b"Traceback" not in err
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "peerpyrtc", "serve", "--workers", "2",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    assert proc.returncode == 2 and b"needs --redis" in err


async def test_a_worker_cut_off_long_enough_to_be_reaped_comes_back_announced(
    redis_server: RedisServer, clients: list[AsyncClient], cluster: Any
) -> None:
    workers = [await cluster.add_worker() for _ in range(2)]
    ann = await join(clients, workers[0][0].url, "r", "ann")
    await join(clients, workers[1][0].url, "r", "cat")
    await until(lambda: all(len(c.peers) == 2 for c in clients))
    plane = workers[1][1].parts.backplane
    assert plane is not None
    register = plane._register
    cut = True

    async def unreachable() -> bool:
        if cut:
            raise ConnectionError("cut off (test)")
        return await register()

    plane._register = unreachable  # type: ignore[method-assign]
    left = await ann.expect("left", timeout=15)  # reaped after its key expired
    assert left["id"] == "cat"
    cut = False
    joined = await ann.expect("joined", timeout=15)  # back, and announced once
    assert joined["id"] == "cat"
    await clients[1].send_message("back again")
    assert (await ann.expect("message"))[1] == "back again"
    peers = await workers[0][1].fetch_room_peers("r")
    assert [(p["id"], p["isHost"]) for p in peers] == [("ann", True), ("cat", False)]
    assert [e[1]["id"] for e in ann.history if e[0] == "joined"] == ["cat", "cat"]


def _flask_worker(manager: Any, results: Any, done: Any) -> None:
    """One WSGI worker process (as gunicorn -w N --preload forks them)."""
    import threading

    import flask
    from werkzeug.serving import make_server

    from peerpyrtc.contrib.flask import signaling_blueprint

    app = flask.Flask(__name__)
    app.register_blueprint(signaling_blueprint(manager), url_prefix="/rtc")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    results.put(f"http://127.0.0.1:{server.port}/rtc")
    done.wait(60)
    server.shutdown()
    manager.close()


async def test_forked_wsgi_workers_share_rooms_through_the_backplane(
    redis_server: RedisServer, clients: list[AsyncClient]
) -> None:
    import multiprocessing

    from peerpyrtc import SignalingManager

    await flush(redis_server)
    manager = SignalingManager(backplane=redis_server.url)  # made in the parent (--preload)
    context = multiprocessing.get_context("fork")
    results, done = context.Queue(), context.Event()
    children = [context.Process(target=_flask_worker, args=(manager, results, done)) for _ in "ab"]
    for child in children:
        child.start()
    try:
        loop = asyncio.get_running_loop()
        urls = [await loop.run_in_executor(None, results.get, True, TIMEOUT) for _ in children]
        ann = await join(clients, urls[0], "r", "ann")
        bob = await join(clients, urls[1], "r", "bob")
        await clients[1].send_message("from the other worker")
        assert (await ann.expect("message"))[1] == "from the other worker"
        await clients[0].broadcast("b", 1)
        assert (await bob.expect("message"))[2] == "b"
        assert [p["id"] for p in clients[1].peers] == ["ann", "bob"]
    finally:
        done.set()
        for child in children:
            await loop.run_in_executor(None, child.join, TIMEOUT)
        manager.close()


@pytest.mark.browser
async def test_browser_tabs_chat_through_three_workers(
    serve: Serve, redis_server: RedisServer
) -> None:
    """Chromium trickles candidates as it gathers them: with three workers behind one port,
    /offer and each /candidate may reach different workers (parked, then forwarded)."""
    from browser_support import chromium

    proc, url = await serve.start("--workers", "3", "--redis", redis_server.url, "--debug")
    # real addresses in candidates (not mDNS names, which the server skips)
    async with chromium("--disable-features=WebRtcHideLocalIpsWithMdns") as browser:
        pages: list[Any] = []
        for name in ("Ann", "Bob", "Cat"):
            page = await browser.new_page()
            await page.goto(url)
            await page.get_by_label("Your name").fill(name)
            await page.get_by_role("button", name="Join").click()
            await page.get_by_role("status").filter(has_text="Connected to lobby").wait_for()
            pages.append(page)
        await pages[2].get_by_label("Message").fill("hello from Cat")
        await pages[2].get_by_label("Message").press("Enter")
        for page in pages[:2]:
            await page.get_by_text("Cat: hello from Cat").wait_for()
        users = pages[1].get_by_role("list", name="Online users")
        await users.locator("li").nth(2).wait_for()
        assert await users.locator("li").count() == 3
        assert "host" in await users.locator("li").filter(has_text="Ann").inner_text()
    await serve.stop()
    assert proc.stderr is not None
    log = (await proc.stderr.read()).decode()
    # the kernel spread the HTTP requests of each page over the workers
    assert "forwarded to worker" in log or "parked candidates" in log


def udp_port_bound(address: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((address, port))
        except OSError:
            return True
        return False


async def test_serve_workers_each_take_their_own_single_udp_port(
    serve: Serve, clients: list[AsyncClient], redis_server: RedisServer
) -> None:
    from rawsignal import local_address

    address = await local_address()
    port = next(
        p for p in range(47000, 48000, 7) if not any(udp_port_bound(address, p + i) for i in (0, 1))
    )
    proc, url = await serve.start(
        "--workers", "2", "--redis", redis_server.url, "--udp-port", str(port)
    )
    await until(lambda: udp_port_bound(address, port) and udp_port_bound(address, port + 1))
    for i in range(4):
        await join(clients, url, "r", f"p{i}")
    used = set()
    for client in clients:
        pc = client.connection.pc
        assert pc is not None
        (pair,) = pc.sctp.transport.transport._connection._nominated.values()
        used.add(pair.remote_candidate.port)
    assert used <= {port, port + 1}, used  # worker i answers from PORT+i
