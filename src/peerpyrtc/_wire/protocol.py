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

from .._errors import ProtocolError

__all__ = [
    "BYE",
    "CHANNEL_LABEL",
    "CHANNEL_PROTOCOL",
    "MAX_ENVELOPE_BYTES",
    "MAX_FRAME_BYTES",
    "MAX_VOLATILE_BYTES",
    "PING",
    "PROTOCOL_VERSION",
    "SERVER_ID",
    "VOLATILE_LABEL",
    "Incoming",
    "batch",
    "broadcast",
    "check_contents",
    "close_notice",
    "decode",
    "encode",
    "error",
    "event",
    "host_changed",
    "joined",
    "left",
    "loads",
    "message",
    "ping",
    "pong",
    "split_frame",
    "stamp",
    "stamp_suffix",
    "utf8_len",
    "welcome",
]

PROTOCOL_VERSION = 1
CHANNEL_LABEL = "peerpyrtc"
CHANNEL_PROTOCOL = "peerpyrtc.v1"
#: The second, unordered channel without retransmissions (``volatile`` messages).
VOLATILE_LABEL = "peerpyrtc.volatile"
#: Largest volatile frame: one DataChannel message, never split.
MAX_VOLATILE_BYTES = 16 * 1024
SERVER_ID = "server"

#: Largest frame we send: aiortc 1.16 advertises 256 KiB (1.15: 64 KiB) and assumes 64 KiB
#: when a peer says nothing; 64 KiB fits every peer, so a frame never exceeds this.
MAX_FRAME_BYTES = 65536
#: Largest envelope a client may send: leaves room for the server's stamp.
MAX_ENVELOPE_BYTES = 65000
MAX_EVENT_LENGTH = 128
MAX_BATCH_ITEMS = 4096
#: Deepest nesting of arrays and objects in a client's JSON (an envelope counts as one).
MAX_DEPTH = 32

#: Types a client may send.
CLIENT_TYPES = frozenset({"msg", "emit", "bcast", "bye", "ping", "pong", "sig"})
#: Most peer ids a message may name in ``x`` (the peers its sender reached directly).
MAX_SKIP = 64
#: Fields only the server writes; a client envelope carrying one is refused.
SERVER_FIELDS = ("from", "n")


def _refuse_constant(name: str) -> Any:
    raise ProtocolError(f"{name} is not a JSON number (non-finite numbers are refused)")


def _finite_float(text: str) -> float:
    value = float(text)
    if value - value != 0:  # 1e999 parses as infinity, which browsers' JSON cannot carry back
        raise ProtocolError(f"number {text[:40]} is out of range")
    return value


#: Strict JSON: what a browser's ``JSON.parse`` accepts and nothing more (no NaN/Infinity).
_decoder = json.JSONDecoder(parse_float=_finite_float, parse_constant=_refuse_constant)
_WS = re.compile(r"[ \t\n\r]*")
#: A UTF-16 surrogate left in a decoded string: a lone ``\\udXXX`` escape, not UTF-8 encodable.
_SURROGATE = re.compile("[\ud800-\udfff]")
_encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


class Incoming(NamedTuple):
    """One validated envelope from a client."""

    type: str
    event: str | None
    data: Any
    to: str | None
    raw: str
    #: Peers the sender reached directly (mesh): the relay skips them.
    skip: frozenset[str] | None = None


def encode(envelope: dict[str, Any]) -> str:
    """Encode one envelope compactly; refuse what a peer could not decode.

    Raises :class:`ProtocolError` for non-finite numbers and for strings that
    UTF-8 cannot carry (lone surrogates): such an envelope never reaches a queue.
    """
    try:
        raw = _encoder.encode(envelope)
    except (TypeError, ValueError) as exc:
        raise ProtocolError(f"not encodable as JSON: {exc}") from None
    if not raw.isascii() and _SURROGATE.search(raw):
        raise ProtocolError("a string holds a lone UTF-16 surrogate, which UTF-8 cannot carry")
    return raw


def check_contents(value: Any) -> None:
    """Refuse lone surrogates in strings (keys too) and nesting deeper than ``MAX_DEPTH``.

    Iterative, so hostile nesting cannot exhaust the stack.
    """
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if not item.isascii() and _SURROGATE.search(item):
                raise ProtocolError("a string holds a lone UTF-16 surrogate")
        elif isinstance(item, dict):
            if depth > MAX_DEPTH:
                raise ProtocolError(f"JSON nested deeper than {MAX_DEPTH} levels")
            for key, child in item.items():
                stack.append((key, depth))
                if isinstance(child, (str, dict, list)):
                    stack.append((child, depth + 1))
        elif isinstance(item, list):
            if depth > MAX_DEPTH:
                raise ProtocolError(f"JSON nested deeper than {MAX_DEPTH} levels")
            stack.extend((c, depth + 1) for c in item if isinstance(c, (str, dict, list)))


def _suspect(raw: str) -> bool:
    """Cheap screen: only text with escapes or many brackets needs :func:`check_contents`."""
    return "\\u" in raw or raw.count("{") + raw.count("[") > MAX_DEPTH


def _raw_decode(text: str, start: int) -> tuple[Any, int]:
    try:
        return _decoder.raw_decode(text, start)
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"not valid JSON: {exc.msg} at {exc.pos}") from None
    except RecursionError:
        raise ProtocolError(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise ProtocolError(f"not valid JSON: {exc}") from None


def loads(text: str | bytes) -> Any:
    """Parse one JSON value from a client as strictly as :func:`decode` parses frames.

    Raises :class:`ProtocolError` for invalid JSON, non-finite numbers, lone
    surrogates and nesting deeper than ``MAX_DEPTH``.
    """
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError("not UTF-8 text") from None
    start = _WS.match(text).end()  # type: ignore[union-attr]
    value, end = _raw_decode(text, start)
    if text[end:].strip(" \t\n\r"):
        raise ProtocolError("unexpected data after the JSON value")
    if _suspect(text):
        check_contents(value)
    return value


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
    start = _WS.match(frame).end()  # type: ignore[union-attr]
    if frame.startswith("[", start):
        items: list[tuple[Any, str]] = []
        i = _WS.match(frame, start + 1).end()  # type: ignore[union-attr]
        if frame.startswith("]", i):
            raise ProtocolError("empty batch")
        while True:
            value, end = _raw_decode(frame, i)
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
        value, i = _raw_decode(frame, start)
        items = [(value, frame[start:i])]
    if frame[i:].strip(" \t\n\r"):
        raise ProtocolError("unexpected data after the JSON value")
    return items


def _validate(value: Any, raw: str) -> Incoming | None:
    if not isinstance(value, dict):
        raise ProtocolError("an envelope must be a JSON object")
    if _suspect(raw):
        check_contents(value)
    kind = value.get("t")
    if not isinstance(kind, str) or not 0 < len(kind) <= MAX_EVENT_LENGTH:
        raise ProtocolError("an envelope needs 't', its type, as a short string")
    if kind not in CLIENT_TYPES:
        return None  # a type from a later version: receivers ignore what they do not know
    for field in SERVER_FIELDS:
        if field in value:
            raise ProtocolError(f"field {field!r} is set by the server")
    if utf8_len(raw) > MAX_ENVELOPE_BYTES:
        raise ProtocolError(f"envelope is larger than {MAX_ENVELOPE_BYTES} bytes")
    event = value.get("e")
    to = value.get("to")
    data = value.get("d")
    skip = value.get("x")
    if skip is not None:
        if kind not in ("msg", "emit") or value.get("to") is not None:
            raise ProtocolError("'x' is for messages to the whole room")
        if not isinstance(skip, list) or len(skip) > MAX_SKIP:
            raise ProtocolError(f"'x' must be a list of at most {MAX_SKIP} peer ids")
        if not all(isinstance(i, str) and 0 < len(i) <= 128 for i in skip):
            raise ProtocolError("'x' must list peer ids")
        skip = frozenset(skip)
    if kind == "msg":
        if not isinstance(data, str):
            raise ProtocolError("a 'msg' envelope needs 'd' as a string")
        event = to = None
    elif kind == "sig":
        if not isinstance(to, str) or not isinstance(data, dict):
            raise ProtocolError("a 'sig' envelope needs 'to', a peer id, and 'd', an object")
        event = None
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
    return Incoming(kind, event, data, to, raw, skip)


def decode(frame: str) -> list[Incoming]:
    """Decode and validate a client frame into envelopes.

    The whole frame is refused (:class:`ProtocolError`) if any envelope is
    invalid, so a batch is never half delivered. Envelopes of types this
    version does not know are left out.
    """
    if utf8_len(frame) > MAX_FRAME_BYTES:
        raise ProtocolError(f"frame is larger than {MAX_FRAME_BYTES} bytes")
    envelopes = [_validate(value, raw) for value, raw in split_frame(frame)]
    return [env for env in envelopes if env is not None]


def stamp(raw: str, suffix: str) -> str:
    """Stamp a validated raw envelope with the server's fields."""
    return raw.rstrip(" \t\n\r")[:-1] + suffix


# -- every envelope anyone here writes, built in one place ------------------------------
#: Keep-alive probes (constant: nothing in them varies).
PING = '{"t":"ping"}'
BYE = '{"t":"bye"}'


def _with(envelope: dict[str, Any], **optional: Any) -> str:
    envelope.update((k, v) for k, v in optional.items() if v is not None)
    return encode(envelope)


def message(data: str, sender: str | None = None) -> str:
    """``msg``: a plain message (``sender`` only when the server writes it)."""
    return _with({"t": "msg", "d": data}, **{"from": sender})


def event(name: str, data: Any, sender: str | None = None, to: str | None = None) -> str:
    """``emit``: a named event to the room, or ``to`` one peer."""
    return _with({"t": "emit", "e": name, "d": data}, to=to, **{"from": sender})


def broadcast(name: str, data: Any, sender: str | None = None, seq: int | None = None) -> str:
    """``bcast``: to every peer, the sender included, in the room's one order ``n``."""
    return _with({"t": "bcast", "e": name, "d": data}, n=seq, **{"from": sender})


def signal(to: str, data: dict[str, Any]) -> str:
    """``sig`` (client to server): a mesh signal for peer ``to``, relayed as is."""
    return encode({"t": "sig", "to": to, "d": data})


def ping(token: Any = None) -> str:
    return PING if token is None else encode({"t": "ping", "d": token})


def pong(data: Any) -> str:
    return encode({"t": "pong", "d": data})


def welcome(
    peer_id: str,
    room: str,
    host: str | None,
    peers: list[dict[str, Any]],
    topology: str = "relay",
    mesh_max_peers: int = 0,
    max_body_bytes: int = 0,
) -> str:
    """The first envelope of every connection: who it is, the room's peers and host, and the
    room's topology (in a mesh room: how many of the first members connect directly)."""
    envelope = {
        "t": "welcome",
        "v": PROTOCOL_VERSION,
        "id": peer_id,
        "room": room,
        "host": host,
        "peers": peers,
        "maxMessageSize": MAX_ENVELOPE_BYTES,
        "topology": topology,
    }
    if max_body_bytes:  # binary frames and large messages (spanning frames) are understood
        envelope["maxBodyBytes"] = max_body_bytes
        envelope["maxVolatileBytes"] = MAX_VOLATILE_BYTES
    if topology == "mesh":
        envelope["meshMaxPeers"] = mesh_max_peers
    return encode(envelope)


def joined(peer: dict[str, Any]) -> str:
    return encode({"t": "joined", "peer": peer})


def left(peer: dict[str, Any], host: str | None, reason: str) -> str:
    """Another peer left; ``peer.isHost`` is the role it had, ``host`` the room's host now."""
    return encode({"t": "left", "peer": peer, "host": host, "reason": reason})


def host_changed(host: str | None) -> str:
    return encode({"t": "host", "host": host})


def close_notice(reason: str, *, reconnect: bool) -> str:
    """The server is about to hang up: why, and whether the client may come back."""
    return encode({"t": "close", "reason": reason, "reconnect": reconnect})


def error(code: str, text: str) -> str:
    """The client sent something wrong (``ERR_*``); nothing else happened."""
    return encode({"t": "error", "code": code, "message": text})
