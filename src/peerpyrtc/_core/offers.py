"""What a client's offer must be, and the candidates kept until their offer arrives.

Both are edges where a stranger's input meets the server: everything here is
validated and bounded before anything is allocated for it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, NamedTuple

from .._errors import InvalidRequest, PayloadTooLarge, ProtocolError, RateLimited
from .._limits import Limits, new_session, validate_info, validate_session
from .._wire.protocol import PROTOCOL_VERSION, check_contents

__all__ = [
    "AddressRate",
    "EarlyCandidates",
    "ValidOffer",
    "remote_addr",
    "validate_offer",
]


class ValidOffer(NamedTuple):
    sdp: str
    session: str
    info: dict[str, Any]


def validate_offer(offer: Any, limits: Limits) -> ValidOffer:
    """Check an offer object (``{sdp, type, session?, protocol?, info?}``) from a client.

    Raises :class:`InvalidRequest` (or :class:`PayloadTooLarge`) saying what is wrong.
    """
    if not isinstance(offer, Mapping):
        raise InvalidRequest("'offer' must be an object with 'sdp' and 'type'")
    sdp, kind = offer.get("sdp"), offer.get("type")
    if kind != "offer":
        raise InvalidRequest(f"'offer.type' must be 'offer', not {str(kind)[:40]!r}")
    if not isinstance(sdp, str) or not sdp.strip():
        raise InvalidRequest("'offer.sdp' must be a non-empty string")
    if len(sdp) > limits.max_sdp_bytes:
        raise PayloadTooLarge(f"'offer.sdp' is larger than {limits.max_sdp_bytes} bytes")
    try:  # routes other than ours may hand us anything their JSON parser accepted
        check_contents(dict(offer))
    except ProtocolError as exc:
        raise InvalidRequest(f"'offer' {exc}") from None
    if not sdp.lstrip().startswith("v=0"):
        raise InvalidRequest("'offer.sdp' is not an SDP (it must start with 'v=0')")
    version = offer.get("protocol", PROTOCOL_VERSION)
    if version != PROTOCOL_VERSION or isinstance(version, bool):
        raise InvalidRequest(
            f"protocol version {str(version)[:20]!r} is not supported (server speaks 1)"
        )
    media = [line[2:].split(" ", 1)[0] for line in sdp.splitlines() if line.startswith("m=")]
    if media != ["application"]:
        raise InvalidRequest(
            "the offer must hold exactly one media section, the data channel's "
            f"(m=application); it has {media[:8]}"
        )
    session = validate_session(offer.get("session")) or new_session()
    info = validate_info(offer.get("info"), limits)
    lines = sdp.splitlines()
    for attribute, what in (("a=fingerprint:", "DTLS fingerprint"), ("a=setup:", "DTLS role")):
        if not any(line.startswith(attribute) for line in lines):
            raise InvalidRequest(f"the offer has no {what} ({attribute.rstrip(':')})")
    return ValidOffer(sdp, session, info)


class EarlyCandidates:
    """Candidates that arrive before their offer, bounded in count, size, time and per address.

    Only the parsed fields are kept (never the client's object), so one
    session costs at most ``max_early_candidates`` short strings.
    """

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._kept: dict[tuple[str, str, str], tuple[float, str | None, list[dict[str, Any]]]] = {}

    def __len__(self) -> int:
        return len(self._kept)

    def keep(
        self, room: str, peer_id: str, session: str, cand: dict[str, Any], addr: str | None
    ) -> None:
        """Keep one (already validated) candidate; raise :class:`RateLimited` past a bound."""
        limits = self.limits
        now = time.monotonic()
        for k in [k for k, (t, _, _) in self._kept.items() if now - t > limits.early_candidate_ttl]:
            del self._kept[k]
        key = (room, peer_id, session)
        entry = self._kept.get(key)
        if entry is None:
            if len(self._kept) >= limits.max_early_sessions:
                raise RateLimited("too many sessions are waiting for their offer; try again later")
            if addr is not None:
                same = sum(1 for _, a, _ in self._kept.values() if a == addr)
                if same >= limits.max_early_sessions_per_address:
                    raise RateLimited("too many sessions from this address wait for their offer")
            entry = self._kept[key] = (now, addr, [])
        kept = entry[2]
        if len(kept) >= limits.max_early_candidates:
            raise RateLimited("too many candidates before the offer")
        kept.append({k: cand.get(k) for k in ("candidate", "sdpMid", "sdpMLineIndex") if k in cand})

    def sessions(self) -> list[tuple[str, str, str]]:
        """``(room, peer_id, session)`` of every session with candidates kept."""
        return list(self._kept)

    def kept(self, room: str, peer_id: str, session: str) -> list[dict[str, Any]]:
        """The candidates kept for one session (a copy; nothing is taken)."""
        entry = self._kept.get((room, peer_id, session))
        return list(entry[2]) if entry is not None else []

    def take(self, room: str, peer_id: str, session: str) -> list[dict[str, Any]]:
        return self._kept.pop((room, peer_id, session), (0.0, None, []))[2]

    def clear(self) -> None:
        self._kept.clear()


class AddressRate:
    """A per-address token bucket (``per_minute`` requests, the same burst), bounded in the
    addresses it remembers (the idlest are forgotten first, which only forgives them)."""

    def __init__(self, per_minute: int, remember: int = 10_000) -> None:
        self.per_minute = per_minute
        self.remember = remember
        self._buckets: dict[str, tuple[float, float]] = {}  # addr -> (tokens, when)

    def take(self, addr: str | None, what: str) -> None:
        """Take one request for ``addr``; raise :class:`RateLimited` when its bucket is dry."""
        if addr is None or self.per_minute <= 0:
            return
        now = time.monotonic()
        tokens, when = self._buckets.pop(addr, (float(self.per_minute), now))
        tokens = min(float(self.per_minute), tokens + (now - when) * self.per_minute / 60.0)
        if tokens < 1:
            self._buckets[addr] = (tokens, now)
            raise RateLimited(f"too many {what} from this address; try again in a minute")
        self._buckets[addr] = (tokens - 1, now)  # last in the dict: most recently used
        while len(self._buckets) > self.remember:
            del self._buckets[next(iter(self._buckets))]


def remote_addr(metadata: dict[str, Any] | None) -> str | None:
    """The client's address as the adapter saw it (``metadata["remote_addr"]``), or None."""
    addr = (metadata or {}).get("remote_addr")
    return addr if isinstance(addr, str) else None
