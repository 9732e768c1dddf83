"""The built-in HTTP server (h11 underneath): slow and idle clients, the connection cap, strict heads."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from conftest import TIMEOUT
from peerpyrtc import (
    Limits,
)


async def test_the_built_in_server_bounds_slow_clients_and_connections(make_server: Any) -> None:
    limits = Limits(http_header_timeout=0.5, http_idle_timeout=0.5, http_body_timeout=0.5,
                    max_http_connections=4)  # fmt: skip
    server, _ = await make_server(limits=limits)

    async def opened() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(server.host, server.port)

    slow_head = await opened()
    slow_head[1].write(b"POST /offer HTTP/1.1\r\nHost: x\r\n")
    slow_body = await opened()
    slow_body[1].write(b"POST /offer HTTP/1.1\r\nContent-Length: 10\r\n\r\n{")
    idle = await opened()
    for reader, _ in (slow_head, slow_body, idle):  # each is hung up on, on its own
        await asyncio.wait_for(reader.read(), TIMEOUT)
        assert reader.at_eof()
    held = [await opened() for _ in range(4)]
    extra = await opened()
    assert b" 503 " in await asyncio.wait_for(extra[0].read(), TIMEOUT)
    for _, writer in [*held, extra, slow_head, slow_body, idle]:
        writer.close()


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"Content-Length: 2\r\nContent-Length: 2\r\n", 400),
        (b"Content-Length: 2\r\nContent-Length: 3\r\n", 400),
        (b"Content-Length: +2\r\n", 400),
        (b"Content-Length: 1_0\r\n", 400),
        (b"Content-Length:  2 \r\nX: y\r\n", 200),  # optional white space is fine
        (b"Transfer-Encoding: chunked\r\n", 411),
        (b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n", 411),
        (b"Bad Header: x\r\n", 400),
    ],
)
async def test_the_built_in_server_parses_heads_strictly(
    make_server: Any, head: bytes, status: int
) -> None:
    server, _ = await make_server()
    reader, writer = await asyncio.open_connection(server.host, server.port)
    body = b'{"room":"r","peer_id":"p"}' if status == 200 else b"{}"
    if status == 200:
        head = head.replace(b" 2 ", f" {len(body)} ".encode())
    writer.write(b"POST /leave HTTP/1.1\r\nHost: x\r\n" + head + b"\r\n" + body)
    answer = (
        await asyncio.wait_for(reader.read(), TIMEOUT)
        if status != 200
        else await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
    )
    writer.close()
    assert answer.startswith(f"HTTP/1.1 {status} ".encode()), answer[:200]
    if status != 200:
        assert json.loads(answer.partition(b"\r\n\r\n")[2])["code"].startswith("ERR_")
