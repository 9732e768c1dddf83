"""What a peer may send another on a direct mesh link: the validation of its envelopes
(the same rules the server applies to a client's), apart from the mesh's state machine."""

from __future__ import annotations

from typing import Any

from .._errors import PeerPyRTCError
from .._wire import protocol

__all__ = ["direct_envelope"]


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
