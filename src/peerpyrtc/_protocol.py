"""Wire protocol v1: envelopes and batch frames (encode, decode, validate; no I/O).

A DataChannel text message (a *frame*) is either one JSON object (an
*envelope*) or a JSON array of envelopes (a *batch*, delivered in order).
``docs/protocol.md`` is the normative description; this module is its code.

Relayed envelopes are forwarded as the bytes the sender wrote, with the
server's fields (``from``, and ``n`` for broadcasts) spliced in before the
closing brace; nothing is re-encoded on the relay path.
"""

from __future__ import annotations

import json
import re
from typing import Any, NamedTuple

from ._errors import ProtocolError

__all__ = [
    "CHANNEL_LABEL",
    "CHANNEL_PROTOCOL",
    "MAX_ENVELOPE_BYTES",
    "MAX_FRAME_BYTES",
    "PROTOCOL_VERSION",
    "SERVER_ID",
    "Incoming",
    "batch",
    "decode",
    "encode",
    "split_frame",
    "stamp",
    "stamp_suffix",
    "utf8_len",
]

PROTOCOL_VERSION = 1
CHANNEL_LABEL = "peerpyrtc"
CHANNEL_PROTOCOL = "peerpyrtc.v1"
SERVER_ID = "server"

#: SCTP in aiortc advertises 64 KiB messages; a frame never exceeds this.
MAX_FRAME_BYTES = 65536
#: Largest envelope a client may send: leaves room for the server's stamp.
MAX_ENVELOPE_BYTES = 65000
MAX_EVENT_LENGTH = 128
MAX_BATCH_ITEMS = 4096

#: Types a client may send.
CLIENT_TYPES = frozenset({"msg", "emit", "bcast", "bye", "ping", "pong"})
#: Fields only the server writes; a client envelope carrying one is refused.
SERVER_FIELDS = ("from", "n")

_decoder = json.JSONDecoder()
_WS = re.compile(r"[ \t\n\r]*")
_encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


class Incoming(NamedTuple):
    """One validated envelope from a client."""

    type: str
    event: str | None
    data: Any
    to: str | None
    raw: str


def encode(envelope: dict[str, Any]) -> str:
    """Encode one envelope compactly."""
    return _encoder.encode(envelope)


def utf8_len(text: str) -> int:
    """Length of ``text`` in UTF-8 bytes (cheap for ASCII)."""
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def batch(raws: list[str]) -> str:
    """Join encoded envelopes into one batch frame (a single one goes as is)."""
    return raws[0] if len(raws) == 1 else "[" + ",".join(raws) + "]"


def stamp_suffix(sender_id: str, seq: int | None = None) -> str:
    """The text that replaces an envelope's closing brace to stamp its sender."""
    suffix = ',"from":' + _encoder.encode(sender_id)
    if seq is not None:
        suffix += f',"n":{seq}'
    return suffix + "}"


def split_frame(frame: str) -> list[tuple[Any, str]]:
    """Split a frame into ``(value, raw_text)`` pairs, one per envelope.

    Raises :class:`ProtocolError` when the frame is not one JSON object or an
    array of them.
    """
    try:
        start = _WS.match(frame).end()  # type: ignore[union-attr]
        if frame.startswith("[", start):
            items: list[tuple[Any, str]] = []
            i = _WS.match(frame, start + 1).end()  # type: ignore[union-attr]
            if frame.startswith("]", i):
                raise ProtocolError("empty batch")
            while True:
                value, end = _decoder.raw_decode(frame, i)
                items.append((value, frame[i:end]))
                if len(items) > MAX_BATCH_ITEMS:
                    raise ProtocolError(f"a batch holds at most {MAX_BATCH_ITEMS} envelopes")
                i = _WS.match(frame, end).end()  # type: ignore[union-attr]
                if frame.startswith(",", i):
                    i = _WS.match(frame, i + 1).end()  # type: ignore[union-attr]
                    continue
                if frame.startswith("]", i):
                    i += 1
                    break
                raise ProtocolError("malformed batch: expected ',' or ']'")
        else:
            value, i = _decoder.raw_decode(frame, start)
            items = [(value, frame[start:i])]
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"frame is not valid JSON: {exc.msg} at {exc.pos}") from None
    if frame[i:].strip(" \t\n\r"):
        raise ProtocolError("unexpected data after the JSON value")
    return items


def _validate(value: Any, raw: str) -> Incoming:
    if not isinstance(value, dict):
        raise ProtocolError("an envelope must be a JSON object")
    kind = value.get("t")
    if not isinstance(kind, str) or kind not in CLIENT_TYPES:
        raise ProtocolError(
            f"unknown envelope type {kind!r}: expected one of {sorted(CLIENT_TYPES)}"
        )
    for field in SERVER_FIELDS:
        if field in value:
            raise ProtocolError(f"field {field!r} is set by the server")
    if utf8_len(raw) > MAX_ENVELOPE_BYTES:
        raise ProtocolError(f"envelope is larger than {MAX_ENVELOPE_BYTES} bytes")
    event = value.get("e")
    to = value.get("to")
    data = value.get("d")
    if kind == "msg":
        if not isinstance(data, str):
            raise ProtocolError("a 'msg' envelope needs 'd' as a string")
        event = to = None
    elif kind in ("emit", "bcast"):
        if not isinstance(event, str) or not 0 < len(event) <= MAX_EVENT_LENGTH:
            raise ProtocolError(
                f"'{kind}' needs 'e', an event name of 1 to {MAX_EVENT_LENGTH} characters"
            )
        if kind == "bcast":
            to = None
        elif to is not None and not isinstance(to, str):
            raise ProtocolError("'to' must be a peer id")
    else:
        event = to = None
    return Incoming(kind, event, data, to, raw)


def decode(frame: str) -> list[Incoming]:
    """Decode and validate a client frame into envelopes.

    The whole frame is refused (:class:`ProtocolError`) if any envelope is
    invalid, so a batch is never half delivered.
    """
    if utf8_len(frame) > MAX_FRAME_BYTES:
        raise ProtocolError(f"frame is larger than {MAX_FRAME_BYTES} bytes")
    return [_validate(value, raw) for value, raw in split_frame(frame)]


def stamp(raw: str, suffix: str) -> str:
    """Stamp a validated raw envelope with the server's fields."""
    return raw.rstrip(" \t\n\r")[:-1] + suffix
