"""AsyncClient's HTTP: JSON POSTs through one httpx client per AsyncClient.

httpx keeps connections alive between an AsyncClient's requests, takes proxies from the
environment (``HTTPS_PROXY``, ``NO_PROXY``: ``trust_env``) and verifies TLS as Python users
expect; an application passes its own ``httpx.AsyncClient`` (custom CA, client
certificates, a proxy, transports) as ``AsyncClient(http_client=...)``.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from .._errors import RoomFull, SignalingError

__all__ = ["HttpSession", "Post", "post_json"]

#: ``post(url, payload)``: the decoded JSON answer (what the connection is given).
Post = Callable[[str, Any], Awaitable[Any]]


_context: ssl.SSLContext | None = None


def _tls() -> ssl.SSLContext:
    """httpx's default verification (certifi, ``SSL_CERT_FILE``), built once per process:
    loading the CA bundle costs tens of milliseconds, every AsyncClient would pay it."""
    global _context
    if _context is None:
        _context = httpx.create_ssl_context(trust_env=True)
    return _context


class HttpSession:
    """The HTTP client of one AsyncClient (``client``: the application's own, left open)."""

    def __init__(self, client: httpx.AsyncClient | None = None) -> None:
        self._client = client
        self._owned = client is None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(trust_env=True, verify=_tls())
        return self._client

    async def post_json(
        self, url: str, payload: Any, timeout: float, headers: dict[str, str]
    ) -> Any:
        """POST ``payload`` as JSON and return the decoded JSON answer.

        Raises :class:`SignalingError` with the server's ``error`` message on a non-2xx
        status (:class:`RoomFull` for a full room), or a clear message when the answer is
        not JSON; ``ConnectionError`` when the server cannot be reached, ``TimeoutError``.
        """
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"not an http(s) URL: {url!r}")
        body = json.dumps(payload, separators=(",", ":")).encode()
        sent = {k: v for k, v in headers.items() if "\n" not in k + v and "\r" not in k + v}
        sent["Content-Type"] = "application/json"
        try:
            answer = await self._http().post(url, content=body, headers=sent, timeout=timeout)
        except httpx.TimeoutException:
            raise asyncio.TimeoutError(f"{url} did not answer within {timeout}s") from None
        except httpx.TransportError as exc:  # refused, reset, TLS, DNS: as a socket would
            raise ConnectionError(f"{url}: {exc or type(exc).__name__}") from exc
        return _decode(url, answer.status_code, answer.content)

    async def aclose(self) -> None:
        if self._owned and self._client is not None:
            await self._client.aclose()
            self._client = None


def _decode(url: str, status: int, data: bytes) -> Any:
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


async def post_json(
    url: str, payload: Any, timeout: float = 10.0, headers: dict[str, str] | None = None
) -> Any:
    """One JSON POST with a client of its own (see :meth:`HttpSession.post_json`)."""
    session = HttpSession()
    try:
        return await session.post_json(url, payload, timeout, headers or {})
    finally:
        await session.aclose()
