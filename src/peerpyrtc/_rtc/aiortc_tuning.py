"""Guarded tuning of aiortc: SACKs coalesced per loop turn; one DTLS certificate and context;
nothing transmitted once an association has stopped.

Stopped transmits: a retransmission timer that fired just before ``stop()`` leaves a
``_transmit`` task behind (``asyncio.ensure_future`` in ``_t3_expired``); upstream runs it
anyway, during or after the DTLS shutdown, where it raises ``ConnectionError`` or
``SSL.Error: protocol is shutdown`` in a task nobody awaits ("Task exception was never
retrieved", seen when thousands of idle peers time out at once). Here ``_transmit`` on a
closed association sends nothing, and a send that fails because the association or its
DTLS transport is closing ends quietly; on an open one it is upstream's, errors included.

SCTP SACKs: aiortc answers every received packet with its own SACK, each one a
DTLS record and a datagram, and the sender processes each in Python. Here the
SACK is sent once per event-loop turn, after every packet already queued has
been handled (RFC 4960 6.2 allows delaying a SACK up to 200 ms; this delays it
by microseconds). Measured in fan-out: 2x-5x the deliveries per second and a
third of the server CPU per delivery.

DTLS memory:

aiortc makes a new ECDSA certificate and a new OpenSSL ``SSL_CTX`` for every
peer connection and keeps OpenSSL's record buffers for the connection's life.
A relay holds thousands of idle connections, so that adds up (measured here:
190 KiB per idle peer, 151 KiB with this). This shares one certificate (renewed
daily, well inside its 30-day validity) and one ``SSL_CTX`` per certificate,
and lets OpenSSL release idle buffers (``SSL_MODE_RELEASE_BUFFERS``). All
connections of a server then show the same DTLS fingerprint, as browsers'
per-origin certificates do. Each change is applied by ``_patches`` (never on
import), only to checked aiortc versions.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import aiortc
from aiortc.rtcdtlstransport import RTCCertificate
from aiortc.rtcsctptransport import InitChunk, RTCSctpTransport, parse_packet
from OpenSSL import SSL

__all__ = [
    "CERTIFICATE_LIFETIME",
    "CHECKED_VERSIONS",
    "certificate_installed",
    "checked",
    "install_certificate",
    "install_sack",
    "install_ssl_context",
    "install_stopped_transmit",
    "sack_installed",
    "ssl_context_installed",
    "stopped_transmit_installed",
]

logger = logging.getLogger(__name__)

CHECKED_VERSIONS = frozenset({"1.14.0", "1.15.0", "1.16.0"})
#: Seconds a shared certificate is handed out before a fresh one is made.
CERTIFICATE_LIFETIME = 24 * 3600.0

_generate = RTCCertificate.generateCertificate.__func__  # type: ignore[attr-defined]
_create_context = RTCCertificate._create_ssl_context
_shared: list[tuple[float, Any]] = []
_contexts: dict[tuple[int, tuple[bytes, ...]], SSL.Context] = {}
_sack_tasks: set[asyncio.Task[None]] = set()
_transmit = RTCSctpTransport._transmit


def _shared_certificate(cls: Any) -> Any:
    now = time.monotonic()
    if not _shared or now - _shared[0][0] > CERTIFICATE_LIFETIME:
        _shared[:] = [(now, _generate(cls))]
        _contexts.clear()  # contexts of the old certificate go with it
    return _shared[0][1]


def _shared_context(self: Any, srtp_profiles: list[Any]) -> SSL.Context:
    key = (id(self), tuple(p.openssl_profile for p in srtp_profiles))
    context = _contexts.get(key)
    if context is None:
        context = _create_context(self, srtp_profiles)
        context.set_mode(SSL.MODE_RELEASE_BUFFERS)
        if _shared and self is _shared[0][1]:  # held alive by _shared, so its id is stable
            _contexts[key] = context
    return context


async def _handle_data(self: Any, data: bytes) -> None:
    """aiortc 1.16's ``RTCSctpTransport._handle_data``, the SACK deferred to the turn's end."""
    try:
        _, _, verification_tag, chunks = parse_packet(data)
    except ValueError:
        return
    if any(isinstance(x, InitChunk) for x in chunks):
        assert len(chunks) == 1
        expected_tag = 0
    else:
        expected_tag = self._local_verification_tag
    if verification_tag != expected_tag:
        return
    for chunk in chunks:
        await self._receive_chunk(chunk)
    if self._sack_needed and not getattr(self, "_peerpyrtc_sack_due", False):
        self._peerpyrtc_sack_due = True
        asyncio.get_running_loop().call_soon(_flush_sack, self)


def _flush_sack(transport: Any) -> None:
    transport._peerpyrtc_sack_due = False
    if transport._sack_needed:
        task = asyncio.ensure_future(_send_sack(transport))
        _sack_tasks.add(task)
        task.add_done_callback(_sack_tasks.discard)


async def _send_sack(transport: Any) -> None:
    try:
        await transport._send_sack()
    except (ConnectionError, SSL.Error) as exc:
        # The association or its DTLS session closed between the packet and the end of the
        # turn ("protocol is shutdown"): nothing is left to acknowledge. Upstream sends the
        # SACK inline, where the same error ends the receive loop that is closing anyway; a
        # deferred SACK must not turn it into a "Task exception was never retrieved".
        logger.debug("SACK not sent, the transport is closing: %s", exc)


def checked() -> bool:
    """True for an aiortc this was checked against."""
    return aiortc.__version__ in CHECKED_VERSIONS


def install_certificate() -> None:
    RTCCertificate.generateCertificate = classmethod(_shared_certificate)  # type: ignore[method-assign,assignment]


def certificate_installed() -> bool:
    return getattr(RTCCertificate.generateCertificate, "__func__", None) is _shared_certificate


def install_ssl_context() -> None:
    RTCCertificate._create_ssl_context = _shared_context  # type: ignore[method-assign]


def ssl_context_installed() -> bool:
    return RTCCertificate._create_ssl_context is _shared_context


def install_sack() -> None:
    RTCSctpTransport._handle_data = _handle_data  # type: ignore[method-assign]


def sack_installed() -> bool:
    return RTCSctpTransport._handle_data is _handle_data


async def _stopped_transmit(self: Any) -> None:
    """``RTCSctpTransport._transmit``, but nothing once the association is closed."""
    if self._association_state == RTCSctpTransport.State.CLOSED:
        return
    try:
        await _transmit(self)
    except (ConnectionError, SSL.Error) as exc:
        closing = self._association_state == RTCSctpTransport.State.CLOSED
        if not closing and self.transport.state == "connected":
            raise
        logger.debug("SCTP transmit dropped, the association is closing: %s", exc)


def install_stopped_transmit() -> None:
    RTCSctpTransport._transmit = _stopped_transmit  # type: ignore[method-assign]


def stopped_transmit_installed() -> bool:
    return RTCSctpTransport._transmit is _stopped_transmit
