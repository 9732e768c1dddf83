"""A minimal asyncio HTTP/1.1 client for JSON POSTs (no dependency)."""

from __future__ import annotations

import asyncio
import json
import ssl
from typing import Any
from urllib.parse import urlsplit

from .._errors import RoomFull, SignalingError
from .._wire.http import HeadError, body_length, parse_head

__all__ = ["post_json"]


async def post_json(
    url: str, payload: Any, timeout: float = 10.0, headers: dict[str, str] | None = None
) -> Any:
    """POST ``payload`` as JSON and return the decoded JSON answer.

    Raises :class:`SignalingError` with the server's ``error`` message on a
    non-2xx status (:class:`RoomFull` for a full room), or a clear message when the
    answer is not JSON.
    """
    return await asyncio.wait_for(_post(url, payload, headers or {}), timeout)


async def _post(url: str, payload: Any, headers: dict[str, str]) -> Any:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    reader, writer = await asyncio.open_connection(
        parts.hostname, port, ssl=ssl.create_default_context() if secure else None
    )
    try:
        body = json.dumps(payload, separators=(",", ":")).encode()
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host = parts.netloc.rsplit("@", 1)[-1]
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items() if "\n" not in k + v)
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"{extra}Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        try:
            (_, code, _), answer_headers = parse_head(head)
            status = int(code)
            if "transfer-encoding" not in answer_headers:
                body_length(answer_headers)  # a malformed length is refused before reading
        except (HeadError, ValueError):
            raise SignalingError(f"{url} answered with a malformed HTTP head", 502) from None
        if "chunked" in answer_headers.get("transfer-encoding", "").lower():
            data = b""
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    break
                data += await reader.readexactly(size + 2)
                data = data[:-2]
        elif "content-length" in answer_headers:
            data = await reader.readexactly(body_length(answer_headers))
        else:
            data = await reader.read()
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except (ConnectionError, ssl.SSLError):
            pass
    try:
        answer = json.loads(data) if data else None
    except ValueError:
        answer = None
    if not 200 <= status < 300:
        if isinstance(answer, dict) and "error" in answer:
            message = f"{url} answered {status}: {answer['error']}"
            given = answer.get("code")
            server_code = given if isinstance(given, str) else None
            if server_code == RoomFull.code:  # final: the clients fail at once, no retry
                raise RoomFull(message)
            raise SignalingError(message, status, server_code)
        snippet = data[:200].decode("utf-8", "replace")
        kind = "JSON without 'error'" if answer is not None else "not JSON"
        raise SignalingError(f"{url} answered {status} ({kind}): {snippet!r}", status)
    if answer is None and data:
        raise SignalingError(f"{url} answered {status} with a body that is not JSON", status)
    return answer
