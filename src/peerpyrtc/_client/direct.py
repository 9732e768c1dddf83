"""The rules of direct mesh links apart from the mesh's state machine: the bounds and
timings both clients share (tests/cases/mesh.json checks the browser's are the same), and
what a peer may send another (validated as the server validates a client's envelopes)."""

from __future__ import annotations

import json
from typing import Any

from .._errors import PeerPyRTCError
from .._wire import protocol
from .._wire.binary import pack, parse_frame, volatile_frame, volatile_message

__all__ = ["direct_envelope", "direct_volatile", "with_skip"]

MAX_DIRECT_BYTES = 64000
ACK_EVERY = 32
ACK_AFTER = 0.1
MAX_UNACKED = 10000
#: A direct frame this large is acknowledged at once (large messages: not after ACK_EVERY).
ACK_FRAME_BYTES = 16 * 1024
#: A sender with this many unacknowledged direct bytes waits for acknowledgements...
ACK_WINDOW = 512 * 1024
#: ...and falls back when none came for this long (a peer that never acknowledges).
ACK_WAIT = 2.0
#: Unacknowledged direct bytes per pair: past it the pair falls back, and the resend of at
#: most this much through the relay stays well inside the server's byte burst (4 MiB), so a
#: peer that never acknowledges cannot make the server cut this one off as a flooder.
MAX_UNACKED_BYTES = 1 << 20
#: A fallback that had to resend more than this is a strike against the pair: no new link
#: with that peer for RETRY[strikes] seconds, so a peer that never acknowledges cannot make
#: this one resend through the relay again and again.
STRIKE_BYTES = 64 * 1024
RETRY = (1.0, 3.0, 10.0, 30.0)
NEW_LINK_SECONDS = 0.5
#: Direct envelopes held before the peer's ``switch``: past it the pair falls back.
MAX_HELD = 1024
#: Candidates kept for a link whose description has not arrived.
MAX_EARLY = 64
#: The link's second negotiated channel: unordered, no retransmissions (volatile messages),
#: used once the peer's ``switch`` says it has one (``"v": 1``)...
VOLATILE_CHANNEL_ID = 1
#: ...and a volatile message is dropped while it holds more than this.
VOLATILE_HIGH_WATER = 64 * 1024


def direct_envelope(env: Any) -> tuple[str | None, Any] | None:
    """``(event, data)`` of a direct ``msg``/``emit`` envelope another peer sent, validated
    as the server validates a client's (strict JSON contents, a string event name of 1 to
    128 characters, a string message); None for anything else."""
    if not isinstance(env, dict):
        return None
    try:
        protocol.check_contents(env)
    except PeerPyRTCError:
        return None
    kind, event, data = env.get("t"), env.get("e"), env.get("d")
    if kind == "msg" and isinstance(data, str):
        return None, data
    if kind == "emit" and isinstance(event, str) and 0 < len(event) <= protocol.MAX_EVENT_LENGTH:
        return event, data
    return None


def direct_volatile(frame: str | bytes) -> tuple[str, Any] | None:
    """``(event, data)`` of a volatile frame another peer sent on a direct link, checked as
    the server checks a client's (one ``emit``, text or one binary frame, at most
    ``MAX_VOLATILE_BYTES``); None for anything else."""
    try:
        volatile_frame(frame, "}")  # the check alone: "}" closes the header as it was
        event, data, _, _ = volatile_message(frame)
    except PeerPyRTCError:
        return None
    return event, data


def with_skip(frame: str | bytes, peers: list[str]) -> str | bytes:
    """A volatile frame for the relay that skips ``peers`` (reached directly): ``x``."""
    skip = json.dumps(peers, separators=(",", ":"))
    if isinstance(frame, str):
        return f'{frame.rstrip()[:-1]},"x":{skip}}}'
    header, payload = parse_frame(frame)
    return pack(f'{header.rstrip()[:-1]},"x":{skip}}}', payload)
