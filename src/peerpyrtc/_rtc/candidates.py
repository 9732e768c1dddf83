"""ICE candidates from clients: parsing, mDNS handling and the address policy.

Facts this module exists for (see the design notes):

* Chromium hides host candidates behind mDNS names (``<uuid>.local``); aioice
  stalls trying to resolve them. We drop them: the browser's own checks reach
  the server's host candidate, which yields a peer-reflexive pair.
* A candidate is an address the server will send STUN checks to on a
  stranger's word. Addresses a server must never probe for a client
  (loopback, link-local and cloud metadata, multicast, ...) and host names
  (which aioice would resolve through DNS) are dropped, in ``/candidate`` and
  in the offer's SDP alike. Private LAN ranges are allowed.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from aiortc import RTCIceCandidate
from aiortc.sdp import candidate_from_sdp

from .._errors import InvalidRequest

__all__ = [
    "MAX_CANDIDATE_LENGTH",
    "AddressPolicy",
    "candidate_from_json",
    "filter_sdp_candidates",
    "is_mdns_candidate",
    "strip_mdns_candidates",
]

logger = logging.getLogger(__name__)

#: Longest candidate line accepted (real ones are under 200 characters).
MAX_CANDIDATE_LENGTH = 512

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class AddressPolicy:
    """Which candidate addresses the server may send connectivity checks to."""

    def __init__(self, blocked: Iterable[str]) -> None:
        self.blocked: tuple[Network, ...] = tuple(ipaddress.ip_network(n) for n in blocked)

    def allows(self, host: str) -> bool:
        """True for an IP literal outside every blocked network; False for names."""
        try:
            address = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return False  # a host name: resolving it would make us query DNS for a stranger
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return not any(address in net for net in self.blocked if net.version == address.version)


#: Allows every IP literal (still refuses host names).
ALLOW_ALL = AddressPolicy(())


def is_mdns_candidate(candidate: str) -> bool:
    """True for a candidate whose address is an mDNS name (``<uuid>.local``)."""
    bits = candidate.split()
    return len(bits) > 4 and bits[4].endswith(".local")


def _candidate_host(line: str) -> str | None:
    bits = line.split()
    return bits[4] if len(bits) > 5 else None


def filter_sdp_candidates(sdp: str, policy: AddressPolicy) -> str:
    """Drop ``a=candidate`` lines with mDNS names or addresses ``policy`` refuses."""
    if "a=candidate:" not in sdp:
        return sdp
    newline = "\r\n" if "\r\n" in sdp else "\n"
    kept = []
    for line in sdp.split(newline):
        if line.startswith("a=candidate:"):
            host = _candidate_host(line)
            if host is None or host.endswith(".local") or not policy.allows(host):
                logger.debug("offer candidate dropped: %.120s", line)
                continue
        kept.append(line)
    return newline.join(kept)


def strip_mdns_candidates(sdp: str) -> str:
    """Drop ``a=candidate`` lines with mDNS addresses (and host names) from an SDP."""
    return filter_sdp_candidates(sdp, ALLOW_ALL)


def candidate_from_json(data: Any, policy: AddressPolicy = ALLOW_ALL) -> RTCIceCandidate | None:
    """Parse the browser's ``RTCIceCandidate.toJSON()`` shape.

    Returns None for end-of-candidates (an empty candidate string), for mDNS
    candidates, and for addresses ``policy`` refuses: all are skipped on
    purpose. Raises :class:`InvalidRequest` when the object is malformed.
    """
    if not isinstance(data, Mapping):
        raise InvalidRequest("'candidate' must be an object like RTCIceCandidate.toJSON()")
    text = data.get("candidate")
    if not isinstance(text, str):
        raise InvalidRequest("'candidate.candidate' must be a string")
    if len(text) > MAX_CANDIDATE_LENGTH or not text.isascii():
        raise InvalidRequest(
            f"'candidate.candidate' must be ASCII of at most {MAX_CANDIDATE_LENGTH} characters"
        )
    text = text.strip()
    if text.startswith("candidate:"):
        text = text[len("candidate:") :]
    elif text.startswith("a=candidate:"):
        text = text[len("a=candidate:") :]
    if not text:
        return None
    mid = data.get("sdpMid")
    index = data.get("sdpMLineIndex")
    if mid is not None and not (isinstance(mid, str) and len(mid) <= 32 and mid.isascii()):
        raise InvalidRequest("'candidate.sdpMid' must be a short string or null")
    if index is not None and (isinstance(index, bool) or not isinstance(index, int)):
        raise InvalidRequest("'candidate.sdpMLineIndex' must be an integer or null")
    if index is not None and not 0 <= index < 64:
        raise InvalidRequest("'candidate.sdpMLineIndex' is out of range")
    if mid is None and index is None:
        raise InvalidRequest("a candidate needs 'sdpMid' or 'sdpMLineIndex'")
    if is_mdns_candidate(text):
        return None
    try:
        candidate = candidate_from_sdp(text)
    except (AssertionError, ValueError, IndexError, TypeError) as exc:
        raise InvalidRequest(f"malformed ICE candidate: {text[:80]!r}") from exc
    if not policy.allows(candidate.ip):
        logger.debug("candidate for a refused address skipped: %.80s", text)
        return None
    candidate.sdpMid = mid
    candidate.sdpMLineIndex = index
    return candidate
