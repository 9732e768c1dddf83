"""ICE configuration: the server pool, and the ICE sockets' buffers.

Facts this module exists for (see the design notes):

* aiortc with no configuration asks a public STUN server; we always pass an
  explicit list, empty unless the user configures servers.
* A configured STUN/TURN server that does not answer makes aiortc wait 5 s for
  gathering on every connection. :class:`IceServerPool` probes each server
  once in a while and only hands out the ones that answered.
* Candidates from clients are parsed and screened in ``_candidates``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

from aioice import stun
from aiortc import RTCConfiguration, RTCIceServer
from aiortc.rtcicetransport import parse_stun_turn_uri

__all__ = [
    "SOCKET_BUFFER_BYTES",
    "IceServerPool",
    "IceServerSpec",
    "enable_socket_buffers",
    "enlarge_socket_buffers",
    "normalize_ice_servers",
    "socket_buffers_enabled",
]

logger = logging.getLogger(__name__)

IceServerSpec = str | Mapping[str, Any] | RTCIceServer


def normalize_ice_servers(servers: Iterable[IceServerSpec] | None) -> list[RTCIceServer]:
    """Turn URLs, ``{"urls", "username", "credential"}`` dicts or RTCIceServer into RTCIceServer.

    Raises :class:`ValueError` for a malformed URL, at configuration time.
    """
    result: list[RTCIceServer] = []
    for spec in servers or ():
        if isinstance(spec, RTCIceServer):
            server = spec
        elif isinstance(spec, str):
            server = RTCIceServer(urls=spec)
        elif isinstance(spec, Mapping):
            server = RTCIceServer(
                urls=spec["urls"],
                username=spec.get("username"),
                credential=spec.get("credential"),
            )
        else:
            raise TypeError(f"an ICE server is a URL or a dict, not {type(spec).__name__}")
        for url in [server.urls] if isinstance(server.urls, str) else server.urls:
            parse_stun_turn_uri(url)
        result.append(server)
    return result


def _urls(server: RTCIceServer) -> list[str]:
    return [server.urls] if isinstance(server.urls, str) else list(server.urls)


class IceServerPool:
    """The configured ICE servers, minus the ones that did not answer a probe.

    A probe is one STUN binding request (UDP) or one TCP connect, bounded by
    ``probe_timeout``. Results are kept for ``ttl`` seconds; a stale result is
    refreshed in the background while the old one keeps serving.
    """

    def __init__(
        self, servers: list[RTCIceServer], probe_timeout: float = 0.5, ttl: float = 30.0
    ) -> None:
        self.servers = servers
        self.probe_timeout = probe_timeout
        self.ttl = ttl
        self._usable: list[RTCIceServer] | None = None
        self._checked_at = 0.0
        self._probe: asyncio.Task[list[RTCIceServer]] | None = None
        self._down: set[tuple[str, ...]] = set()  # servers last seen not answering

    async def configuration(self) -> RTCConfiguration:
        """An RTCConfiguration with the servers that answered (never aiortc's default)."""
        return RTCConfiguration(iceServers=await self.usable())

    async def usable(self) -> list[RTCIceServer]:
        if not self.servers:
            return []
        stale = time.monotonic() - self._checked_at > self.ttl
        if stale and (self._probe is None or self._probe.done()):
            self._probe = asyncio.ensure_future(self._probe_all())
        if self._usable is None:
            assert self._probe is not None
            return await asyncio.shield(self._probe)
        return self._usable

    async def close(self) -> None:
        if self._probe is not None and not self._probe.done():
            self._probe.cancel()
            await asyncio.gather(self._probe, return_exceptions=True)

    async def _probe_all(self) -> list[RTCIceServer]:
        answers = await asyncio.gather(*(self._probe_server(s) for s in self.servers))
        usable = [s for s, ok in zip(self.servers, answers, strict=True) if ok]
        for server, ok in zip(self.servers, answers, strict=True):  # changes only, once each
            key = tuple(_urls(server))
            if not ok and key not in self._down:
                self._down.add(key)
                logger.warning(
                    "ICE server %s did not answer within %.1fs; not handed out until it does",
                    list(key),
                    self.probe_timeout,
                )
            elif ok and key in self._down:
                self._down.discard(key)
                logger.info("ICE server %s answers again", list(key))
        self._usable = usable
        self._checked_at = time.monotonic()
        return usable

    async def _probe_server(self, server: RTCIceServer) -> bool:
        for url in _urls(server):
            parsed = parse_stun_turn_uri(url)
            try:
                if parsed.get("transport") == "tcp":
                    ok = await self._probe_tcp(parsed["host"], parsed["port"])
                else:
                    ok = await self._probe_udp(parsed["host"], parsed["port"])
            except OSError:
                ok = False
            if ok:
                return True
        return False

    async def _probe_tcp(self, host: str, port: int) -> bool:
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port), self.probe_timeout
            )
        except (asyncio.TimeoutError, OSError):
            return False
        writer.close()
        return True

    async def _probe_udp(self, host: str, port: int) -> bool:
        loop = asyncio.get_running_loop()
        answered: asyncio.Future[bool] = loop.create_future()
        request = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)

        class Probe(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: Any) -> None:
                try:
                    reply = stun.parse_message(data)
                except ValueError:
                    return
                if reply.transaction_id == request.transaction_id and not answered.done():
                    answered.set_result(True)

            def error_received(self, exc: Exception) -> None:
                if not answered.done():
                    answered.set_result(False)

        transport, _ = await loop.create_datagram_endpoint(Probe, remote_addr=(host, port))
        try:
            transport.sendto(bytes(request))
            return await asyncio.wait_for(answered, self.probe_timeout)
        except asyncio.TimeoutError:
            return False
        finally:
            transport.close()


#: UDP buffer size asked for each ICE socket. Linux's default (208 KiB) overflows under
#: bursts and every lost SCTP packet may cost a 1 s retransmission timeout.
SOCKET_BUFFER_BYTES = 4 * 1024 * 1024


_socket_buffers = False


def enable_socket_buffers() -> None:
    """Switch :func:`enlarge_socket_buffers` on (a guarded workaround, see ``_patches``)."""
    global _socket_buffers
    _socket_buffers = True


def socket_buffers_enabled() -> bool:
    return _socket_buffers


def enlarge_socket_buffers(pc: Any, size: int = SOCKET_BUFFER_BYTES) -> int:
    """Ask for larger UDP buffers on a peer connection's gathered ICE sockets.

    Reaches into aiortc/aioice internals, so it runs only when switched on
    (``_patches``: checked aiortc versions) and every step is optional: returns
    how many sockets were enlarged (0 if off or the layout is not the one
    expected). The kernel caps the size at ``net.core.rmem_max`` / ``wmem_max``.
    """
    import socket

    if not _socket_buffers:
        return 0
    count = 0
    try:
        transports = {t.receiver.transport.transport for t in pc.getTransceivers()}
        sctp = pc.sctp
        if sctp is not None:
            transports.add(sctp.transport.transport)
        for ice_transport in transports:
            connection = ice_transport.iceGatherer._connection
            for protocol in connection._protocols:
                sock = protocol.transport.get_extra_info("socket")
                if sock is None or size <= 0:
                    continue
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)
                count += 1
    except (AttributeError, OSError) as exc:
        logger.debug("could not enlarge ICE socket buffers: %s", exc)
    return count
