"""ICE configuration, candidate parsing and mDNS handling.

Facts this module exists for (see the design notes):

* aiortc with no configuration asks a public STUN server; we always pass an
  explicit list, empty unless the user configures servers.
* A configured STUN/TURN server that does not answer makes aiortc wait 5 s for
  gathering on every connection. :class:`IceServerPool` probes each server
  once in a while and only hands out the ones that answered.
* Chromium hides host candidates behind mDNS names (``<uuid>.local``); aioice
  stalls trying to resolve them. We drop them: the browser's own checks reach
  the server's host candidate, which yields a peer-reflexive pair.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

from aioice import stun
from aiortc import RTCConfiguration, RTCIceCandidate, RTCIceServer
from aiortc.rtcicetransport import parse_stun_turn_uri
from aiortc.sdp import candidate_from_sdp

from ._errors import InvalidRequest

__all__ = [
    "SOCKET_BUFFER_BYTES",
    "IceServerPool",
    "IceServerSpec",
    "candidate_from_json",
    "enlarge_socket_buffers",
    "is_mdns_candidate",
    "normalize_ice_servers",
    "strip_mdns_candidates",
]

logger = logging.getLogger(__name__)

IceServerSpec = str | Mapping[str, Any] | RTCIceServer
MAX_CANDIDATE_LENGTH = 1024


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
        for server, ok in zip(self.servers, answers, strict=True):
            if not ok:
                logger.warning(
                    "ICE server %s did not answer within %.1fs; not used for now",
                    _urls(server),
                    self.probe_timeout,
                )
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


def is_mdns_candidate(candidate: str) -> bool:
    """True for a candidate whose address is an mDNS name (``<uuid>.local``)."""
    bits = candidate.split()
    return len(bits) > 4 and bits[4].endswith(".local")


def strip_mdns_candidates(sdp: str) -> str:
    """Drop ``a=candidate`` lines with mDNS addresses from an SDP."""
    if ".local" not in sdp:
        return sdp
    lines = sdp.split("\r\n") if "\r\n" in sdp else sdp.split("\n")
    kept = [ln for ln in lines if not (ln.startswith("a=candidate:") and is_mdns_candidate(ln))]
    return ("\r\n" if "\r\n" in sdp else "\n").join(kept)


def candidate_from_json(data: Any) -> RTCIceCandidate | None:
    """Parse the browser's ``RTCIceCandidate.toJSON()`` shape.

    Returns None for end-of-candidates (an empty candidate string) and for
    mDNS candidates, which we deliberately skip. Raises
    :class:`InvalidRequest` when the object is malformed.
    """
    if not isinstance(data, Mapping):
        raise InvalidRequest("'candidate' must be an object like RTCIceCandidate.toJSON()")
    text = data.get("candidate")
    if not isinstance(text, str):
        raise InvalidRequest("'candidate.candidate' must be a string")
    if len(text) > MAX_CANDIDATE_LENGTH:
        raise InvalidRequest(f"'candidate.candidate' is longer than {MAX_CANDIDATE_LENGTH}")
    text = text.strip()
    if text.startswith("candidate:"):
        text = text[len("candidate:") :]
    elif text.startswith("a=candidate:"):
        text = text[len("a=candidate:") :]
    if not text:
        return None
    mid = data.get("sdpMid")
    index = data.get("sdpMLineIndex")
    if mid is not None and not isinstance(mid, str):
        raise InvalidRequest("'candidate.sdpMid' must be a string or null")
    if index is not None and (isinstance(index, bool) or not isinstance(index, int)):
        raise InvalidRequest("'candidate.sdpMLineIndex' must be an integer or null")
    if mid is None and index is None:
        raise InvalidRequest("a candidate needs 'sdpMid' or 'sdpMLineIndex'")
    if is_mdns_candidate(text):
        return None
    try:
        candidate = candidate_from_sdp(text)
    except (AssertionError, ValueError, IndexError) as exc:
        raise InvalidRequest(f"malformed ICE candidate: {text[:80]!r}") from exc
    candidate.sdpMid = mid
    candidate.sdpMLineIndex = index
    return candidate


#: UDP buffer size asked for each ICE socket. Linux's default (208 KiB) overflows under
#: bursts and every lost SCTP packet may cost a 1 s retransmission timeout.
SOCKET_BUFFER_BYTES = 4 * 1024 * 1024


def enlarge_socket_buffers(pc: Any, size: int = SOCKET_BUFFER_BYTES) -> int:
    """Ask for larger UDP buffers on a peer connection's gathered ICE sockets.

    Reaches into aiortc/aioice internals, so every step is optional: returns how
    many sockets were enlarged (0 if the layout is not the one expected). The
    kernel caps the size at ``net.core.rmem_max`` / ``wmem_max``.
    """
    import socket

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
