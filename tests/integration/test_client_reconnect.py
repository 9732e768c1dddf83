"""AsyncClient reconnection: a lost transport keeps the peer's place and host role; every failure ends in closed."""

from __future__ import annotations

import asyncio
from typing import Any

from conftest import TIMEOUT, Recorder
from peerpyrtc import (
    AsyncClient,
)
from peers import joined


async def test_a_python_client_that_loses_its_transport_keeps_its_place(make_server: Any) -> None:
    server, manager = await make_server()
    host = AsyncClient(server.url, "r", "host", reconnect_delay=0.1)
    host_rec = Recorder(host)
    await host.connect()
    other, ro = await joined(server.url, "r", "other")
    session = host.session
    reconnected = asyncio.Event()
    host.on_reconnect = reconnected.set
    try:
        assert host.connection is not None
        host.connection.fail("transport broke (test)")  # the client side only
        await asyncio.wait_for(reconnected.wait(), TIMEOUT)
        assert host.session == session and host.is_host and other.host_id == "host"
        assert [k for k, _ in ro.history if k in ("left", "joined")] == []
        await host.send_message("back")
        assert await ro.expect("message") == ("host", "back", None)
        assert [k for k, _ in host_rec.history if k == "close"] == []
    finally:
        await host.close()
        await other.close()


async def test_reconnection_failures_of_any_kind_end_in_closed(make_server: Any) -> None:
    """A server that answers garbage (not HTTP, cut mid-answer): retried, then closed."""
    server, manager = await make_server()
    client = AsyncClient(server.url, "r", "p", reconnect_delay=0.05, reconnect_timeout=1.5)
    rec = Recorder(client)
    await client.connect()

    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{")  # cut short
        writer.close()

    bad = await asyncio.start_server(garbage, "127.0.0.1", 0)
    client.server_url = f"http://127.0.0.1:{bad.sockets[0].getsockname()[1]}/"
    try:
        await manager.kick("r", "p", "gone for a test")  # a kick says: do not come back
        assert await rec.expect("close") == "gone for a test"
        client2 = AsyncClient(server.url, "r", "q", reconnect_delay=0.05, reconnect_timeout=1.5)
        rec2 = Recorder(client2)
        await client2.connect()
        client2.server_url = client.server_url
        await manager.close()  # a restart: reconnect is allowed, and every attempt gets garbage
        reason = await rec2.expect("close", timeout=TIMEOUT)
        assert reason and client2.state == "closed"
    finally:
        bad.close()
        await bad.wait_closed()
        await client.close()


async def test_each_attempt_gets_its_connection_from_the_injected_factory(
    make_server: Any,
) -> None:
    """The connection seam (the browser's createTransport): every attempt's connection comes
    from ``create_connection``; failing the current one makes the client come back through
    a new one from the same factory, keeping its session."""
    from peerpyrtc._client.conn import ClientConnection

    made: list[ClientConnection] = []

    def factory(*args: Any, **kwargs: Any) -> ClientConnection:
        made.append(ClientConnection(*args, **kwargs))
        return made[-1]

    server, manager = await make_server()
    client = AsyncClient(server.url, "r", "p", reconnect_delay=0.05, create_connection=factory)
    back = asyncio.Event()
    client.on_reconnect = back.set
    try:
        await client.connect()
        assert made == [client.connection]
        session = client.session
        made[0].fail("broken by the test")
        await asyncio.wait_for(back.wait(), TIMEOUT)
        assert len(made) == 2 and client.connection is made[1]
        assert client.session == session and client.connected
        assert [p["id"] for p in manager.get_room_peers("r")] == ["p"]
    finally:
        await client.close()
