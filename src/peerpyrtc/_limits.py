"""Configurable limits and the validation of ids and signalling objects."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from ._errors import InvalidRequest, PayloadTooLarge, ProtocolError
from ._wire.protocol import SERVER_ID, check_contents, encode, utf8_len

__all__ = ["Limits", "new_session", "validate_id", "validate_info", "validate_session"]

#: Room names and peer ids: ASCII only, so no look-alike (a Cyrillic a in ``alice``) passes.
_ID = re.compile(r"[A-Za-z0-9_.:@~+-]+")
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
    #: In a mesh room, the first this many members (in join order) connect directly to each
    #: other; the others are reached through the relay (nobody holds more than this - 1).
    mesh_max_peers: int = 8
    #: Bytes queued for one peer before it is disconnected as too slow.
    max_queue_bytes: int = 32 * 1024 * 1024
    #: Seconds an answered offer may take to open its channel.
    pending_timeout: float = 15.0
    #: Candidates kept for one session that arrive before its offer.
    max_early_candidates: int = 16
    #: Sustained messages per second one peer may send (a token bucket)...
    max_messages_per_second: float = 20_000.0
    #: ...and the burst it may send above that rate. A flood is disconnected.
    message_burst: int = 40_000
    #: Sustained bytes per second one peer may send, every frame counted (0: no limit)...
    max_bytes_per_second: float = 512 * 1024
    #: ...and the burst above that rate. Metering the sender keeps its receivers' queues
    #: (``max_queue_bytes``) from filling: the sender is cut off, never its receivers.
    byte_burst: int = 4 * 1024 * 1024
    #: Bytes of envelopes waiting for the moderation hooks from one peer; past it, cut off.
    max_inbox_bytes: int = 4 * 1024 * 1024
    #: Largest message body a client may send (data and binary attachments); larger ones
    #: are refused at the sender, before anything is sent.
    max_message_bytes: int = 16 * 1024 * 1024
    #: Sustained bytes per second of large messages (those spanning frames) one peer may
    #: send, counted apart from ``max_bytes_per_second``...
    max_transfer_bytes_per_second: float = 8 * 1024 * 1024
    #: ...and the burst above that rate: two largest messages at once are no flood; a sender
    #: streaming without pause is cut off.
    transfer_burst: int = 32 * 1024 * 1024
    #: Large messages one peer may have in progress at once.
    max_streams_per_peer: int = 8
    #: Bytes of one peer's large messages the server holds while they arrive, only when a
    #: hook needs their data (a handler of their event, or a moderation hook); past it, cut off.
    max_reassembly_bytes: int = 32 * 1024 * 1024
    #: Seconds of silence after which the server pings a peer...
    heartbeat_interval: float = 4.0
    #: ...and after which a silent peer is taken to be gone (``peer_left`` fires).
    heartbeat_timeout: float = 8.0
    #: Sessions with early candidates kept at once, server-wide (cluster-wide with Redis)...
    max_early_sessions: int = 1000
    #: ...and per client address.
    max_early_sessions_per_address: int = 20
    #: Seconds such early candidates are kept.
    early_candidate_ttl: float = 30.0
    #: Candidates one peer connection may receive in all (before and after its offer).
    max_candidates_per_peer: int = 64
    #: Answered offers not yet open, server-wide (each holds sockets and ICE checks)...
    max_pending_offers: int = 256
    #: ...and per remote address (as the adapter saw it).
    max_pending_per_address: int = 20
    #: Open (and pending) connections from one address, server-wide; past it, 429. Keeps
    #: one client from holding every UDP port of ``udp_ports`` or every seat.
    max_peers_per_address: int = 64
    #: ``POST /ice`` requests one address may make per minute (each may mint TURN
    #: credentials); past it, 429.
    max_ice_requests_per_minute: int = 30
    #: Candidate addresses the server never sends connectivity checks to for a client
    #: (CIDRs): loopback, unspecified, link-local and cloud metadata, multicast, broadcast.
    #: Private LAN ranges are allowed. Set to ``()`` to allow every address.
    blocked_candidate_networks: tuple[str, ...] = (
        "0.0.0.0/8",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "100.100.100.200/32",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/128",
        "::1/128",
        "fe80::/10",
        "fd00:ec2::254/128",
        "ff00::/8",
    )
    #: Built-in HTTP server: seconds to receive a request head...
    http_header_timeout: float = 10.0
    #: ...its body...
    http_body_timeout: float = 10.0
    #: ...and seconds an idle keep-alive connection is kept.
    http_idle_timeout: float = 15.0
    #: Built-in HTTP server: open connections at once; past it, new ones are closed.
    max_http_connections: int = 1000


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
            f"'{what}' may only hold ASCII letters, digits and . : @ ~ + - _ (got {value[:80]!r})"
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
        check_contents(value)
        size = utf8_len(encode(value))
    except ProtocolError as exc:
        raise InvalidRequest(f"'info' must be plain JSON: {exc}") from None
    if size > limits.max_info_bytes:
        raise PayloadTooLarge(f"'info' is larger than {limits.max_info_bytes} bytes")
    return {k: v for k, v in value.items() if k not in ("id", "isHost", "joinedAt")}


def new_session() -> str:
    """A fresh, unguessable session secret (192 bits)."""
    return secrets.token_urlsafe(24)
