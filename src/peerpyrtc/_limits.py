"""Configurable limits and the validation of ids and signalling objects."""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

from ._errors import InvalidRequest, PayloadTooLarge
from ._protocol import SERVER_ID

__all__ = ["Limits", "new_session", "validate_id", "validate_info", "validate_session"]

_ID = re.compile(r"[\w.:@~+-]+")
_SESSION = re.compile(r"[A-Za-z0-9_-]{16,128}")


@dataclass(frozen=True)
class Limits:
    """Bounds a server enforces. Defaults never cut off a well-behaved client."""

    #: Longest room name and peer id, in characters.
    max_id_length: int = 64
    #: Largest HTTP request body the adapters accept.
    max_body_bytes: int = 256 * 1024
    #: Largest SDP in an offer.
    max_sdp_bytes: int = 128 * 1024
    #: Largest client-supplied peer info object (JSON bytes).
    max_info_bytes: int = 4096
    #: Most rooms one server holds.
    max_rooms: int = 100_000
    #: Most peers (open or pending) in one room.
    max_peers_per_room: int = 1000
    #: Bytes queued for one peer before it is disconnected as too slow.
    max_queue_bytes: int = 32 * 1024 * 1024
    #: Seconds an answered offer may take to open its channel.
    pending_timeout: float = 15.0
    #: Candidates kept for one session that arrive before its offer.
    max_early_candidates: int = 64
    #: Sustained messages per second one peer may send (a token bucket)...
    max_messages_per_second: float = 20_000.0
    #: ...and the burst it may send above that rate. A flood is disconnected.
    message_burst: int = 40_000
    #: Seconds of silence after which the server pings a peer...
    heartbeat_interval: float = 4.0
    #: ...and after which a silent peer is taken to be gone (``peer_left`` fires).
    heartbeat_timeout: float = 8.0
    #: Sessions with early candidates kept at once, server-wide.
    max_early_sessions: int = 10_000
    #: Seconds such early candidates are kept.
    early_candidate_ttl: float = 30.0


def validate_id(value: Any, what: str, limits: Limits) -> str:
    """Check a room name or peer id; raise :class:`InvalidRequest` saying what is wrong."""
    if not isinstance(value, str):
        raise InvalidRequest(f"'{what}' must be a string, not {type(value).__name__}")
    if not value:
        raise InvalidRequest(f"'{what}' must not be empty")
    if len(value) > limits.max_id_length:
        raise InvalidRequest(f"'{what}' is longer than {limits.max_id_length} characters")
    if not _ID.fullmatch(value):
        raise InvalidRequest(
            f"'{what}' may only hold letters, digits and . : @ ~ + - _ (got {value[:80]!r})"
        )
    if what == "peer_id" and value == SERVER_ID:
        raise InvalidRequest(f"peer id {SERVER_ID!r} is reserved for the server")
    return value


def validate_session(value: Any) -> str | None:
    """A client-made session secret: 16 to 128 URL-safe characters, or None."""
    if value is None:
        return None
    if not isinstance(value, str) or not _SESSION.fullmatch(value):
        raise InvalidRequest("'session' must be 16 to 128 characters of [A-Za-z0-9_-]")
    return value


def validate_info(value: Any, limits: Limits) -> dict[str, Any]:
    """Client-supplied peer info: a small JSON object shown to other peers."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRequest("'info' must be an object")
    try:
        size = len(json.dumps(value, separators=(",", ":")).encode())
    except (TypeError, ValueError) as exc:
        raise InvalidRequest("'info' must be plain JSON") from exc
    if size > limits.max_info_bytes:
        raise PayloadTooLarge(f"'info' is larger than {limits.max_info_bytes} bytes")
    return {k: v for k, v in value.items() if k not in ("id", "isHost", "joinedAt")}


def new_session() -> str:
    """A fresh, unguessable session secret (192 bits)."""
    return secrets.token_urlsafe(24)
