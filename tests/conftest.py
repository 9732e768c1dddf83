"""Shared fixtures: a real relay server on port 0 and real aiortc clients."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from peerpyrtc import AsyncClient, AsyncSignalingManager, SignalingServer, start_server

TIMEOUT = 10.0


class Recorder:
    """Collects everything an AsyncClient sees, to be awaited in order."""

    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        self.queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.history: list[tuple[str, Any]] = []
        client.on_message = lambda sender, data, event: self._put("message", (sender, data, event))
        client.on_peer_joined = lambda peer: self._put("joined", peer)
        client.on_peer_left = lambda peer: self._put("left", peer)
        client.on_close = lambda reason: self._put("close", reason)

    def _put(self, kind: str, value: Any) -> None:
        self.history.append((kind, value))
        self.queue.put_nowait((kind, value))

    async def expect(
        self, kind: str, where: Callable[[Any], bool] | None = None, timeout: float = TIMEOUT
    ) -> Any:
        """Wait for the next event of ``kind`` (matching ``where``), skipping others."""

        async def find() -> Any:
            while True:
                k, value = await self.queue.get()
                if k == kind and (where is None or where(value)):
                    return value

        return await asyncio.wait_for(find(), timeout)

    async def messages(self, count: int, timeout: float = TIMEOUT) -> list[tuple[str, Any, Any]]:
        """The next ``count`` relayed messages, in arrival order."""
        return [await self.expect("message", timeout=timeout) for _ in range(count)]


@pytest.fixture
async def manager() -> AsyncIterator[AsyncSignalingManager]:
    m = AsyncSignalingManager()
    yield m
    await m.close()


@pytest.fixture
async def server(manager: AsyncSignalingManager) -> AsyncIterator[SignalingServer]:
    srv = await start_server(manager, "127.0.0.1", 0)
    yield srv
    await srv.close()


@pytest.fixture
async def make_server() -> AsyncIterator[Any]:
    made: list[tuple[SignalingServer, AsyncSignalingManager]] = []

    async def make(**kwargs: Any) -> tuple[SignalingServer, AsyncSignalingManager]:
        manager = AsyncSignalingManager(**kwargs)
        server = await start_server(manager)
        made.append((server, manager))
        return server, manager

    yield make
    for server, manager in made:
        await server.close()
        await manager.close()


Join = Callable[..., Awaitable[tuple[AsyncClient, Recorder]]]


@pytest.fixture
async def join(server: SignalingServer) -> AsyncIterator[Join]:
    """``await join(room, peer_id)`` -> connected (client, recorder); all closed at the end."""
    clients: list[AsyncClient] = []

    async def _join(
        room: str, peer_id: str | None = None, **kwargs: Any
    ) -> tuple[AsyncClient, Recorder]:
        client = AsyncClient(server.url, room, peer_id, **kwargs)
        recorder = Recorder(client)
        clients.append(client)
        await asyncio.wait_for(client.connect(), TIMEOUT)
        return client, recorder

    yield _join
    await asyncio.gather(*(c.close() for c in clients))


async def http_request(
    url: str, method: str = "GET", body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One raw HTTP/1.0 request (no client library between the test and the server)."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    headers = {"Content-Type": "application/json", **(headers or {})}
    if "content-type" in {k.lower() for k in headers if k != "Content-Type"}:
        del headers["Content-Type"]  # the caller's own spelling wins
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    writer.write(
        f"{method} {parts.path} HTTP/1.0\r\nHost: {parts.netloc}\r\n"
        f"{extra}Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    try:
        await writer.drain()
        # read the answer as a browser does (by its length): a server may still be reading
        # away a refused body, waiting for us to close
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        status_line, *lines = head.decode("latin-1").split("\r\n")
        status = status_line.split(" ", 2)[1]
        headers = {}
        for line in lines:
            if line:
                name, _, value = line.partition(":")
                assert name.lower() not in headers, f"a repeated {name} header"
                headers[name.lower()] = value.strip()
        if "content-length" in headers:
            length = int(headers["content-length"])
            payload = await asyncio.wait_for(reader.readexactly(length), TIMEOUT)
        else:
            payload = await asyncio.wait_for(reader.read(), TIMEOUT)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return int(status), headers, payload


POLL = 0.02


async def until(predicate: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    """Wait (bounded) for a condition that has no event of its own."""

    async def poll() -> None:
        while not predicate():  # noqa: ASYNC110 - state with no event to wait on
            await asyncio.sleep(POLL)

    await asyncio.wait_for(poll(), timeout)


async def wait_for_event(event: asyncio.Event, timeout: float = TIMEOUT) -> None:
    await asyncio.wait_for(event.wait(), timeout)


STORES = ["memory", "redis"]


@pytest.fixture(params=STORES)
async def store_factory(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    """Makes room stores of one implementation (the contract suite runs over each)."""
    from peerpyrtc._rooms.store import MemoryStore, RoomStore

    made: list[RoomStore] = []
    redis = None
    if request.param == "redis":
        import redis.asyncio as aioredis

        redis = aioredis.Redis.from_url(request.getfixturevalue("redis_server").url)

    async def make(limits: Any = None) -> RoomStore:
        store: RoomStore
        if redis is None:
            store = MemoryStore(limits)
        else:
            from peerpyrtc._cluster.redis_store import RedisStore

            store = RedisStore(redis, limits, worker_id="w1", prefix=f"t{next(_prefixes)}:")
        made.append(store)
        return store

    yield make
    for store in made:
        await store.close()
    if redis is not None:
        await redis.aclose()


class RedisServer:
    """A real redis-server on a unix socket in a temporary directory (no port to race for)."""

    def __init__(self, directory: str) -> None:
        import subprocess

        self.socket = f"{directory}/redis.sock"
        self.url = f"unix://{self.socket}"
        self._directory = directory
        self._subprocess = subprocess
        self.process: Any = None

    def start(self) -> None:
        import os
        import time

        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket)
        command = ["redis-server", "--port", "0", "--unixsocket", self.socket, "--save", ""]
        command += ["--appendonly", "no", "--dir", self._directory]
        self.process = self._subprocess.Popen(command, stdout=self._subprocess.DEVNULL)
        deadline = time.monotonic() + TIMEOUT
        while not os.path.exists(self.socket):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(TIMEOUT)
            self.process = None


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    import shutil

    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed (apt-get install -y redis-server)")
    server = RedisServer(str(tmp_path_factory.mktemp("redis")))
    server.start()
    yield server
    server.stop()


_prefixes = iter(range(1_000_000))


@pytest.fixture
async def redis_client(redis_server: RedisServer) -> AsyncIterator[Any]:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(redis_server.url)
    yield client
    await client.aclose()


Worker = tuple[SignalingServer, AsyncSignalingManager]


async def flush(redis_server: RedisServer) -> None:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(redis_server.url)
    await client.flushall()
    await client.aclose()


@pytest.fixture
async def cluster(redis_server: RedisServer) -> AsyncIterator[Any]:
    await flush(redis_server)
    workers: list[Worker] = []
    clients: list[AsyncClient] = []

    async def add_worker(**kwargs: Any) -> Worker:
        manager = AsyncSignalingManager(backplane=redis_server.url, **kwargs)
        await manager.start()
        server = await start_server(manager)
        workers.append((server, manager))
        return server, manager

    async def join(
        worker: Worker, room: str, peer_id: str, **kw: Any
    ) -> tuple[AsyncClient, Recorder]:
        client = AsyncClient(worker[0].url, room, peer_id, **kw)
        recorder = Recorder(client)
        await client.connect()
        clients.append(client)
        return client, recorder

    class Cluster:
        pass

    c = Cluster()
    c.add_worker = add_worker  # type: ignore[attr-defined]
    c.join = join  # type: ignore[attr-defined]
    c.workers = workers  # type: ignore[attr-defined]
    yield c
    for client in clients:
        await client.close()
    for server, manager in workers:
        await server.close()
        await manager.close()


class Serve:
    """``peerpyrtc serve`` processes (on a Redis backplane, say), stopped at the end."""

    def __init__(self) -> None:
        self.procs: list[asyncio.subprocess.Process] = []

    async def start(self, *args: str) -> tuple[asyncio.subprocess.Process, str]:
        import re
        import sys

        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "peerpyrtc", "serve", "--port", "0", *args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        self.procs.append(proc)
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), TIMEOUT)).decode()
        found = re.search(r"serving on (http://\S+)", line)
        assert found, line
        return proc, found.group(1)

    async def stop(self) -> None:
        import signal

        for proc in self.procs:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                await asyncio.wait_for(proc.wait(), TIMEOUT)
            except asyncio.TimeoutError:
                proc.kill()
                await proc.wait()


@pytest.fixture
async def serve(redis_server: RedisServer) -> AsyncIterator[Serve]:
    """``await serve.start(*args)`` -> (process, URL); every process stopped at the end."""
    await flush(redis_server)
    s = Serve()
    yield s
    await s.stop()


def same_package() -> dict[str, str]:
    """The environment of a child that imports the very peerpyrtc this process uses."""
    import peerpyrtc

    root = str(Path(peerpyrtc.__file__).resolve().parents[1])
    return {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}


#: What a test needs, by the fixtures it uses or the module it is in, so that any tier can be
#: selected by marker (``pytest -m "not browser and not netns ..."``; ``scripts/test-fast``).
_NEEDS_BY_FIXTURE = {
    "redis_server": "redis", "redis_client": "redis", "cluster": "redis",
    "redis_background": "redis", "coturn": "coturn",
}  # fmt: skip
_NEEDS_BY_MODULE = {
    "test_netns": ("netns", "coturn", "slow"),
    "test_network": ("netns",),
    "test_deploy": ("nginx", "slow"),
    "test_fuzz": ("slow",),
    "test_soak": ("slow",),
    "test_benchmarks": ("slow",),
    "test_lossy_benchmark": ("netns", "slow"),
    "test_cluster_processes": ("redis", "slow"),
    "test_claims": ("redis",),
    "test_parking": ("redis",),
    "test_npm_package": ("slow",),
    "test_examples": ("slow",),
}


#: Tests that wait out real timeouts or start processes (seconds each): ``slow``.
_SLOW_TESTS = {
    "test_python_client_reconnects_after_a_server_restart",
    "test_a_huge_body_is_refused_without_reading_it",
    "test_a_killed_peer_is_gone_within_ten_seconds",
    "test_a_blocking_plain_hook_does_not_stall_the_relay",
    "test_many_peers_dropped_at_once_under_traffic_leave_a_clean_stderr",
    "test_drops_are_counted_by_reason",
    "test_the_wheel_ships_the_client",
    "test_a_steady_allowed_rate_stays_connected",
    "test_one_address_cannot_hold_every_connection",
    "test_python_peers_talk_directly_while_the_server_is_paused",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        needs = set(_NEEDS_BY_MODULE.get(item.module.__name__ if item.module else "", ()))
        if getattr(item, "originalname", item.name) in _SLOW_TESTS:
            needs.add("slow")
        needs |= {m for f, m in _NEEDS_BY_FIXTURE.items() if f in item.fixturenames}
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("store_factory") == "redis":
            needs.add("redis")
        for name in sorted(needs):
            item.add_marker(getattr(pytest.mark, name))
