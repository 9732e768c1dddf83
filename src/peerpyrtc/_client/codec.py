"""The server-to-client half of the codec: server frames as typed envelopes (no I/O).

``AsyncClient`` reads these, never raw dicts. Unknown types are left out
(later servers may send more); a malformed envelope is reported and skipped.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from .._errors import ProtocolError

__all__ = [
    "Abort",
    "Close",
    "HostChanged",
    "Joined",
    "Left",
    "Ping",
    "Pong",
    "Relayed",
    "ServerEnvelope",
    "ServerError",
    "Signal",
    "Welcome",
    "parse_server_frame",
]


class Relayed(NamedTuple):
    """``msg``, ``emit`` or ``bcast`` from a peer (or ``"server"``)."""

    kind: str
    sender: str
    event: str | None
    data: Any
    seq: int | None = None


class Welcome(NamedTuple):
    peer_id: str
    room: str
    host: str | None
    peers: list[dict[str, Any]]
    topology: str = "relay"
    mesh_max_peers: int = 0
    #: Largest message body the server takes (0: a server without binary frames).
    max_body_bytes: int = 0


class Signal(NamedTuple):
    """``sig``: another peer's mesh signal, relayed by the server."""

    sender: str
    data: dict[str, Any]


class Abort(NamedTuple):
    """``abort``: a sender's large message will not be completed (it left mid-message)."""

    sender: str
    message_id: int


class Joined(NamedTuple):
    peer: dict[str, Any]


class Left(NamedTuple):
    peer: dict[str, Any]
    host: str | None
    reason: str | None


class HostChanged(NamedTuple):
    host: str | None


class Close(NamedTuple):
    reason: str | None
    reconnect: bool


class Ping(NamedTuple):
    data: Any


class Pong(NamedTuple):
    data: Any


class ServerError(NamedTuple):
    code: str
    message: str


ServerEnvelope = (
    Relayed
    | Welcome
    | Joined
    | Left
    | HostChanged
    | Close
    | Ping
    | Pong
    | ServerError
    | Signal
    | Abort
)


def _peer(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or not isinstance(value.get("id"), str):
        raise ProtocolError("a peer needs an 'id'")
    return value


_new_relayed = tuple.__new__  # Relayed(...) without NamedTuple's Python-level __new__: the hot path


def _envelope(env: dict[str, Any]) -> ServerEnvelope | None:
    kind = env.get("t")
    if kind == "msg":
        return _new_relayed(Relayed, (kind, env.get("from", ""), None, env.get("d"), None))
    if kind == "emit" or kind == "bcast":
        seq = env.get("n")
        return _new_relayed(
            Relayed,
            (
                kind,
                env.get("from", ""),
                env.get("e"),
                env.get("d"),
                seq if type(seq) is int else None,
            ),
        )
    if kind == "welcome":
        peers = env.get("peers", [])
        if not isinstance(peers, list):
            raise ProtocolError("'peers' must be a list")
        cap = env.get("meshMaxPeers")
        body = env.get("maxBodyBytes")
        return Welcome(
            str(env.get("id")),
            str(env.get("room")),
            env.get("host"),
            [_peer(p) for p in peers],
            "mesh" if env.get("topology") == "mesh" else "relay",
            cap if type(cap) is int else 0,
            body if type(body) is int and body > 0 else 0,
        )
    if kind == "sig":
        data = env.get("d")
        if not isinstance(data, dict) or not isinstance(env.get("from"), str):
            raise ProtocolError("a 'sig' needs 'from' and an object 'd'")
        return Signal(env["from"], data)
    if kind == "abort":
        sender, m = env.get("from"), env.get("m")
        if not isinstance(sender, str) or type(m) is not int:
            raise ProtocolError("an 'abort' needs 'from' and 'm'")
        return Abort(sender, m)
    if kind == "joined":
        return Joined(_peer(env.get("peer")))
    if kind == "left":
        return Left(_peer(env.get("peer")), env.get("host"), env.get("reason"))
    if kind == "host":
        return HostChanged(env.get("host"))
    if kind == "close":
        return Close(env.get("reason"), bool(env.get("reconnect")))
    if kind == "ping":
        return Ping(env.get("d"))
    if kind == "pong":
        return Pong(env.get("d"))
    if kind == "error":
        return ServerError(str(env.get("code")), str(env.get("message")))
    return None


def parse_server_frame(frame: str) -> tuple[list[ServerEnvelope], list[str]]:
    """A server frame's envelopes, and a note for each one that was malformed.

    Raises :class:`ProtocolError` when the frame is not JSON at all.
    """
    try:  # a client needs values, not raw slices: one C-speed parse of the whole frame
        decoded = json.loads(frame)
    except ValueError as exc:
        raise ProtocolError(f"bad frame from server: {exc}") from None
    envelopes: list[ServerEnvelope] = []
    problems: list[str] = []
    append = envelopes.append
    for value in decoded if type(decoded) is list else (decoded,):
        if type(value) is not dict:
            problems.append("an envelope that is not an object")
            continue
        try:
            parsed = _envelope(value)
        except ProtocolError as exc:
            problems.append(f"malformed {str(value.get('t'))[:20]!r}: {exc}")
            continue
        if parsed is not None:
            append(parsed)
    return envelopes, problems
