"""Guarded memory tuning for aiortc's DTLS: one certificate and one SSL context per process.

aiortc makes a new ECDSA certificate and a new OpenSSL ``SSL_CTX`` for every
peer connection and keeps OpenSSL's record buffers for the connection's life.
A relay holds thousands of idle connections, so that adds up (measured here:
190 KiB per idle peer, 151 KiB with this). This shares one certificate (renewed
daily, well inside its 30-day validity) and one ``SSL_CTX`` per certificate,
and lets OpenSSL release idle buffers (``SSL_MODE_RELEASE_BUFFERS``). All
connections of a server then show the same DTLS fingerprint, as browsers'
per-origin certificates do. Applied only to checked aiortc versions;
``PEERPYRTC_AIORTC_TUNING=0`` turns it off.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import aiortc
from aiortc.rtcdtlstransport import RTCCertificate
from OpenSSL import SSL

__all__ = ["CERTIFICATE_LIFETIME", "CHECKED_VERSIONS", "applied", "apply"]

logger = logging.getLogger(__name__)

CHECKED_VERSIONS = frozenset({"1.14.0", "1.15.0", "1.16.0"})
#: Seconds a shared certificate is handed out before a fresh one is made.
CERTIFICATE_LIFETIME = 24 * 3600.0

_generate = RTCCertificate.generateCertificate.__func__  # type: ignore[attr-defined]
_create_context = RTCCertificate._create_ssl_context
_shared: list[tuple[float, Any]] = []
_contexts: dict[tuple[int, tuple[bytes, ...]], SSL.Context] = {}


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


def applied() -> bool:
    return RTCCertificate._create_ssl_context is _shared_context


def apply() -> bool:
    """Install the tuning if this aiortc is a checked version; returns whether it is on."""
    if os.environ.get("PEERPYRTC_AIORTC_TUNING", "1") == "0":
        return False
    if aiortc.__version__ not in CHECKED_VERSIONS:
        logger.debug("aiortc %s not checked: DTLS tuning not applied", aiortc.__version__)
        return False
    RTCCertificate.generateCertificate = classmethod(_shared_certificate)  # type: ignore[method-assign,assignment]
    RTCCertificate._create_ssl_context = _shared_context  # type: ignore[method-assign]
    return True
