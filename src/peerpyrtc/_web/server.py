"""A small asyncio HTTP/1.1 server for the signalling routes, on h11.

It is what ``peerpyrtc serve`` runs and what the tests and benchmarks use:
the signalling routes, ``GET /rooms`` (admin token), the browser client
bundles under ``/peerpyrtc/`` and, optionally, one HTML page at ``/``.

Every client is bounded in time (a head, a body, an idle keep-alive
connection each get ``Limits.http_*_timeout``) and in number
(``Limits.max_http_connections``). h11 parses and frames requests and writes the answers;
on top of it heads are screened strictly (``_wire.http.screen_head``: no second framing
header, no folded lines) and only ``Content-Length`` bodies are taken (411 otherwise).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import socket
from collections.abc import Iterable
from typing import Any

import h11

from .._wire.http import HeadError, parse_cookies, screen_head
from .api import Responder
from .routes import SECURITY_HEADERS, error_body

__all__ = ["SignalingServer", "start_server"]

logger = logging.getLogger(__name__)

MAX_HEAD = 16 * 1024
_REASONS = {
    200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 408: "Request Timeout", 409: "Conflict", 411: "Length Required",
    413: "Payload Too Large", 429: "Too Many Requests", 431: "Request Header Fields Too Large",
    500: "Internal Server Error", 503: "Service Unavailable",
}  # fmt: skip
HTML_TYPE = "text/html; charset=utf-8"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def client_address(peer: str | None, headers: dict[str, str], trusted: list[Network]) -> str | None:
    """The client's address: ``peer``, or, when ``peer`` is a trusted proxy, the last
    address in ``X-Forwarded-For`` that is not itself a trusted proxy (what nginx's
    ``$proxy_add_x_forwarded_for`` appended). Anything malformed: ``peer``."""

    def is_trusted(address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in trusted)

    if peer is None or not trusted or not is_trusted(peer):
        return peer
    for hop in reversed(headers.get("x-forwarded-for", "").split(",")):
        hop = hop.strip()
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return peer
        if not is_trusted(hop):
            return hop
    return peer


class SignalingServer:
    """A running server; ``url`` is where clients reach it."""

    def __init__(
        self,
        manager: Responder,
        prefix: str = "",
        index_html: str | None = None,
        trusted_proxies: Iterable[str] = (),
    ) -> None:
        #: Proxies whose X-Forwarded-For names the client (rate limits count per client).
        self.trusted_proxies: list[Network] = [
            ipaddress.ip_network(p, strict=False) for p in trusted_proxies
        ]
        self.manager = manager
        self.prefix = prefix.rstrip("/")
        self.index_html = index_html
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.Task[None]] = set()
        self.host = "127.0.0.1"
        self.port = 0

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{self.prefix}"

    async def start(
        self, host: str = "127.0.0.1", port: int = 0, *, sock: socket.socket | None = None
    ) -> None:
        if sock is not None:  # a listening socket shared by worker processes
            self._server = await asyncio.start_server(self._serve, sock=sock)
        else:
            self._server = await asyncio.start_server(self._serve, host, port)
        name = self._server.sockets[0].getsockname()
        self.host, self.port = name[0], name[1]

    async def close(self) -> None:
        """Stop listening and end open HTTP connections (the manager is not closed)."""
        if self._server is not None:
            self._server.close()
            for task in list(self._conns):
                task.cancel()
            await asyncio.gather(*self._conns, return_exceptions=True)
            await self._server.wait_closed()

    async def serve_forever(self) -> None:
        assert self._server is not None
        await self._server.serve_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        if len(self._conns) >= self.manager.limits.max_http_connections:
            logger.warning("HTTP connection cap reached: a new connection was closed")
            self._send(writer, 503, {"error": "too many connections", "code": "ERR_BUSY"}, False)
            writer.close()
            return
        self._conns.add(task)
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
        try:
            while await self._one(reader, writer, conn):
                conn.start_next_cycle()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except asyncio.TimeoutError:
            pass
        except asyncio.CancelledError:
            pass
        finally:
            self._conns.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _one(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, conn: h11.Connection
    ) -> bool:
        limits = self.manager.limits
        try:  # an idle keep-alive connection gets the idle timeout, then the head its own
            first = await asyncio.wait_for(reader.readexactly(1), limits.http_idle_timeout)
            head = first + await asyncio.wait_for(
                reader.readuntil(b"\r\n\r\n"), limits.http_header_timeout
            )
        except asyncio.IncompleteReadError:
            return False
        except asyncio.LimitOverrunError:
            self._error(writer, 431, "request head too large")
            return False
        except asyncio.TimeoutError:
            return False  # a silent or slow client: hang up (nothing useful to answer)
        if len(head) > MAX_HEAD:
            self._error(writer, 431, "request head too large")
            return False
        try:
            screen_head(head)
            conn.receive_data(head)
            request = conn.next_event()
        except HeadError as exc:
            self._error(writer, exc.status, str(exc))
            return False
        except h11.RemoteProtocolError as exc:
            status = 411 if "Transfer-Encoding" in str(exc) else exc.error_status_hint
            self._error(writer, status if status < 500 else 400, f"malformed request: {exc}")
            return False
        if not isinstance(request, h11.Request) or request.http_version not in (b"1.1", b"1.0"):
            self._error(writer, 400, "unsupported HTTP version")
            return False
        headers: dict[str, str] = {}
        for raw_name, raw_value in request.headers:
            name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        if "transfer-encoding" in headers:
            self._error(
                writer, 411, "Transfer-Encoding is not accepted: send a Content-Length body"
            )
            return False
        length = int(headers.get("content-length", "0"))  # h11 took digits only
        limit = limits.max_body_bytes
        if length > limit:
            self._error(writer, 413, f"request body is larger than {limit} bytes")
            if length <= 16 * limit:  # read it away (bounded) so the client sees the 413
                with contextlib.suppress(asyncio.TimeoutError, asyncio.IncompleteReadError):
                    await asyncio.wait_for(reader.readexactly(length), limits.http_body_timeout)
            return False
        try:
            body = (
                await asyncio.wait_for(reader.readexactly(length), limits.http_body_timeout)
                if length
                else b""
            )
        except asyncio.TimeoutError:
            self._error(writer, 408, "the request body did not arrive in time")
            return False
        if body:
            conn.receive_data(body)  # (empty data would tell h11 the client hung up)
        while not isinstance(conn.next_event(), h11.EndOfMessage):
            pass  # the body's Data event (h11 counted it against Content-Length)
        method, target = request.method.decode("latin-1"), request.target.decode("latin-1")
        peer = writer.get_extra_info("peername")
        remote = client_address(peer[0] if peer else None, headers, self.trusted_proxies)
        status, ctype, data = await self._route(
            method, target.split("?", 1)[0], body, headers, remote
        )
        writer.write(
            self._answer(conn, status, b"" if method == "HEAD" else data, ctype, len(data))
        )
        # a client that does not read its answers is cut off like one that does not send
        await asyncio.wait_for(writer.drain(), limits.http_idle_timeout)
        return conn.our_state is h11.DONE  # (MUST_CLOSE: HTTP/1.0 or "Connection: close")

    async def _route(
        self, method: str, path: str, body: bytes, headers: dict[str, str], remote: str | None
    ) -> tuple[int, str, bytes]:
        if self.prefix and path.startswith(self.prefix + "/"):
            path = path[len(self.prefix) :]
        if method == "GET" and path in ("/", "/index.html") and self.index_html is not None:
            return 200, HTML_TYPE, self.index_html.encode()
        meta: dict[str, Any] = {
            "headers": headers,
            "cookies": parse_cookies(headers.get("cookie", "")),
            "remote_addr": remote,
        }
        return await self.manager.respond(method, path, body, meta)

    @staticmethod
    def _answer(conn: h11.Connection, status: int, body: bytes, ctype: str, size: int) -> bytes:
        """The answer's bytes, through h11 (which adds ``Connection: close`` when the request
        asked for it or was HTTP/1.0)."""
        headers = [
            ("Content-Type", ctype), ("Content-Length", str(size)),
            ("Cache-Control", "no-store"), *SECURITY_HEADERS,
        ]  # fmt: skip
        reason = _REASONS.get(status, "Status").encode()
        out = conn.send(h11.Response(status_code=status, headers=headers, reason=reason)) or b""
        if body:  # (none for HEAD)
            out += conn.send(h11.Data(data=body)) or b""
        return out + (conn.send(h11.EndOfMessage()) or b"")

    def _error(self, writer: asyncio.StreamWriter, status: int, message: str) -> None:
        self._send(writer, status, error_body(status, message), keep=False)

    def _send(self, writer: asyncio.StreamWriter, status: int, payload: Any, keep: bool) -> None:
        body = json.dumps(payload, separators=(",", ":")).encode()
        self._send_raw(writer, status, body, "application/json", keep)

    @staticmethod
    def _send_raw(
        writer: asyncio.StreamWriter, status: int, body: bytes, ctype: str, keep: bool
    ) -> None:
        head = (
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}\r\n"
            f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
            f"Cache-Control: no-store\r\n{_SECURITY}"
            f"Connection: {'keep-alive' if keep else 'close'}\r\n\r\n"
        )
        writer.write(head.encode() + body)


_SECURITY = "".join(f"{name}: {value}\r\n" for name, value in SECURITY_HEADERS)


async def start_server(
    manager: Responder,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    prefix: str = "",
    index_html: str | None = None,
    sock: socket.socket | None = None,
    trusted_proxies: Iterable[str] = (),
) -> SignalingServer:
    """Serve ``manager``'s signalling routes over HTTP; port 0 picks a free port.

    ``sock``: serve on this listening socket instead (``host``/``port`` unused).
    ``trusted_proxies``: addresses or networks of reverse proxies (nginx) whose
    ``X-Forwarded-For`` names the client; from anyone else the header is ignored.
    """
    server = SignalingServer(manager, prefix, index_html, trusted_proxies)
    await server.start(host, port, sock=sock)
    logger.info("serving on %s", server.url)
    return server
