"""Wire protocol v1, binary frames: binary payloads and messages larger than one frame.

A *binary frame* is one binary DataChannel message::

    u32 big-endian header length | header (a JSON object, UTF-8) | payload bytes

A message's *body* is the JSON of its data, ``j`` bytes, followed by its attachments,
whose lengths the header lists in ``b``: each ``bytes`` value in the data is replaced by
``{"_placeholder":true,"num":i}`` (socket.io's placeholder) and travels raw, never as
base64. A body that fits goes in one frame (header ``t`` is ``msg``, ``emit`` or
``bcast``); a larger one is split: the first frame carries the routing header with the
message id ``m`` and the body's total length ``z``, the next ones are ``{"t":"part",
"m":..,"o":offset}``, each frame at most :data:`CHUNK_FRAME_BYTES`. The relay stamps
``from`` (and a broadcast's ``n``) into each header as it does into text envelopes and
forwards the payload as it came. ``docs/protocol.md`` is the normative description.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any, NamedTuple

from .._errors import ProtocolError
from .protocol import (
    MAX_DEPTH,
    MAX_EVENT_LENGTH,
    MAX_SKIP,
    MAX_VOLATILE_BYTES,
    decode,
    encode,
    loads,
    stamp,
)

__all__ = [
    "CHUNK_FRAME_BYTES",
    "MAX_HEADER_BYTES",
    "PLACEHOLDER",
    "BinaryHeader",
    "Reassembly",
    "body",
    "decode_body",
    "encode_frames",
    "has_binary",
    "pack",
    "parse_frame",
    "parse_header",
    "stamp_any",
    "stamp_frame",
    "volatile_encode",
    "volatile_frame",
    "volatile_message",
]

#: Largest frame a sender writes: below every browser's SCTP max-message-size (PeerJS and
#: Trystero use 16 KiB too), so a large message interleaves with everything else.
CHUNK_FRAME_BYTES = 16 * 1024
#: Largest header a frame may carry (routing, lengths, stamps).
MAX_HEADER_BYTES = 16 * 1024
#: Most attachments one message may carry.
MAX_ATTACHMENTS = 1024
#: Message ids are integers below this (JavaScript numbers stay exact).
MAX_MESSAGE_ID = 2**53
PLACEHOLDER = "_placeholder"
_LENGTH = struct.Struct(">I")
#: Room left in a frame for the server's stamp (``from``, ``n``).
STAMP_ROOM = 320
_BINARY = (bytes, bytearray, memoryview)


def has_binary(value: Any) -> bool:
    """True when ``value`` holds ``bytes``, ``bytearray`` or ``memoryview`` anywhere."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, _BINARY):
            return True
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return False


def _extract(value: Any, attachments: list[bytes], depth: int = 1) -> Any:
    if isinstance(value, _BINARY):
        attachments.append(bytes(value))
        return {PLACEHOLDER: True, "num": len(attachments) - 1}
    if depth > MAX_DEPTH:
        raise ProtocolError(f"data nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        return {k: _extract(v, attachments, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_extract(v, attachments, depth + 1) for v in value]
    return value


def _restore(value: Any, attachments: list[bytes], depth: int = 1) -> Any:
    if isinstance(value, dict):
        if value.get(PLACEHOLDER) is True and len(value) == 2:
            num = value.get("num")
            if type(num) is not int or not 0 <= num < len(attachments):
                raise ProtocolError("a placeholder names no attachment")
            return attachments[num]
        if depth > MAX_DEPTH:
            raise ProtocolError(f"data nested deeper than {MAX_DEPTH} levels")
        return {k: _restore(v, attachments, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_restore(v, attachments, depth + 1) for v in value]
    return value


def body(data: Any) -> tuple[bytes, list[int]]:
    """A message body (data JSON, then attachments) and the attachments' lengths."""
    attachments: list[bytes] = []
    shaped = _extract(data, attachments)
    text = encode(shaped).encode("utf-8")
    if len(attachments) > MAX_ATTACHMENTS:
        raise ProtocolError(f"a message carries at most {MAX_ATTACHMENTS} binary values")
    return b"".join([text, *attachments]), [len(a) for a in attachments]


def decode_body(header: BinaryHeader, payload: bytes | memoryview) -> Any:
    """The data of a whole message body, its placeholders replaced by ``bytes``."""
    view = memoryview(payload)
    data = loads(bytes(view[: header.j])) if header.j else None
    attachments = []
    at = header.j
    for length in header.b:
        attachments.append(bytes(view[at : at + length]))
        at += length
    return _restore(data, attachments) if attachments else data


def pack(header: str, payload: bytes | memoryview = b"") -> bytes:
    """One binary frame from an encoded header and a payload."""
    head = header.encode("utf-8")
    return b"".join([_LENGTH.pack(len(head)), head, payload])


def encode_frames(
    routing: dict[str, Any],
    data: Any,
    message_id: int,
    max_bytes: int,
    frame_bytes: int = CHUNK_FRAME_BYTES,
) -> list[bytes]:
    """A message as binary frames. ``routing``: ``t``, ``e``, ``to``, ``x``, and a server's
    ``from``/``n``. ``max_bytes``: the largest body allowed (refused before any frame)."""
    payload, lengths = body(data)
    if len(payload) > max_bytes:
        raise ProtocolError(f"the message is larger than {max_bytes} bytes")
    head = {**routing, "j": len(payload) - sum(lengths)}
    if lengths:
        head["b"] = lengths
    single = encode(head)
    if 4 + len(single.encode("utf-8")) + len(payload) + STAMP_ROOM <= frame_bytes:
        return [pack(single, payload)]
    head["m"] = message_id
    head["z"] = len(payload)
    return list(_chunks(encode(head), payload, message_id, frame_bytes))


def _chunks(first: str, payload: bytes, message_id: int, frame_bytes: int) -> Iterator[bytes]:
    view = memoryview(payload)
    room = frame_bytes - 4 - len(first.encode("utf-8")) - STAMP_ROOM
    if room < 1024:
        raise ProtocolError("the message's header leaves no room in a frame")
    yield pack(first, view[:room])
    at = room
    while at < len(payload):
        part = encode({"t": "part", "m": message_id, "o": at})
        size = frame_bytes - 4 - len(part) - STAMP_ROOM
        yield pack(part, view[at : at + size])
        at += size


def parse_frame(frame: bytes | memoryview) -> tuple[str, memoryview]:
    """A binary frame's header text and its payload (a view: nothing copied)."""
    view = memoryview(frame)
    if len(view) < 4:
        raise ProtocolError("a binary frame is at least 4 bytes")
    (length,) = _LENGTH.unpack_from(view)
    if not 2 <= length <= MAX_HEADER_BYTES or 4 + length > len(view):
        raise ProtocolError("a binary frame's header length is out of range")
    try:
        header = bytes(view[4 : 4 + length]).decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("a binary frame's header is not UTF-8") from None
    return header, view[4 + length :]


def stamp_frame(header: str, suffix: str, payload: memoryview) -> bytes:
    """The frame again with the server's fields spliced into its header (no re-encoding)."""
    return pack(header.rstrip(" \t\n\r")[:-1] + suffix, payload)


def stamp_any(raw: str | bytes, suffix: str) -> str | bytes:
    """Stamp a validated text envelope or binary frame with the server's fields."""
    if isinstance(raw, str):
        return stamp(raw, suffix)
    header, payload = parse_frame(raw)
    return stamp_frame(header, suffix, payload)


def volatile_frame(
    frame: str | bytes, suffix: str
) -> tuple[str | None, frozenset[str] | None, str | bytes]:
    """Check a client's volatile frame (one ``emit``, text or binary, in one frame of at most
    ``MAX_VOLATILE_BYTES``); returns its target, skip list and the stamped frame."""
    size = len(frame) if isinstance(frame, bytes) else len(frame.encode("utf-8", "replace"))
    if size > MAX_VOLATILE_BYTES:
        raise ProtocolError(f"a volatile frame is at most {MAX_VOLATILE_BYTES} bytes")
    if isinstance(frame, str):
        envelopes = decode(frame)
        if len(envelopes) != 1 or envelopes[0].type != "emit":
            raise ProtocolError("a volatile frame is one 'emit' envelope")
        env = envelopes[0]
        return env.to, env.skip, stamp(env.raw, suffix)
    header_text, payload = parse_frame(frame)
    header = parse_header(header_text, max_bytes=MAX_VOLATILE_BYTES)
    if header.t != "emit" or header.m is not None:
        raise ProtocolError("a volatile frame is one 'emit', whole")
    if len(payload) != header.j + sum(header.b):
        raise ProtocolError("the payload's length must be 'j' plus the attachments")
    return header.to, header.skip, stamp_frame(header_text, suffix, payload)


def volatile_message(frame: str | bytes) -> tuple[str, Any, str | None, frozenset[str] | None]:
    """A volatile frame's event, data (``bytes`` in place of placeholders), target and skip
    list, for moderation hooks (``volatile_frame`` checked it already)."""
    if isinstance(frame, str):
        [env] = decode(frame)
        return env.event or "", env.data, env.to, env.skip
    header_text, payload = parse_frame(frame)
    header = parse_header(header_text, max_bytes=MAX_VOLATILE_BYTES)
    return header.event or "", decode_body(header, payload), header.to, header.skip


def volatile_encode(
    event: str | None, data: Any, to: str | None, skip: frozenset[str] | None
) -> str | bytes:
    """A volatile ``emit`` as a client would write it (a moderation hook's rewrite): text,
    or one binary frame when ``data`` holds bytes; check it with :func:`volatile_frame`."""
    routing: dict[str, Any] = {"t": "emit", "e": event}
    if to is not None:
        routing["to"] = to
    elif skip:
        routing["x"] = sorted(skip)
    if has_binary(data):
        frames = encode_frames(routing, data, 0, MAX_VOLATILE_BYTES, MAX_VOLATILE_BYTES)
        if len(frames) != 1:
            raise ProtocolError(f"a volatile message is at most {MAX_VOLATILE_BYTES} bytes")
        return frames[0]
    return encode({**routing, "d": data})


class BinaryHeader(NamedTuple):
    """One validated binary frame header."""

    t: str
    event: str | None = None
    to: str | None = None
    skip: frozenset[str] | None = None
    #: Body bytes that are data JSON, and the attachments' lengths.
    j: int = 0
    b: tuple[int, ...] = ()
    #: Message id and the body's total length (a message spanning frames), else None.
    m: int | None = None
    z: int | None = None
    #: A part's offset in the body.
    o: int = 0
    #: Set by the server: sender and broadcast number.
    sender: str | None = None
    n: int | None = None


def _count(value: Any, name: str, top: int) -> int:
    if type(value) is not int or not 0 <= value <= top:
        raise ProtocolError(f"'{name}' must be an integer from 0 to {top}")
    return value


def parse_header(text: str, *, server: bool = False, max_bytes: int = 1 << 62) -> BinaryHeader:
    """Validate a binary frame's header. ``server``: it came from the server (``from`` and
    ``n`` allowed); else from a client, whose body may be at most ``max_bytes``."""
    value = loads(text)
    if not isinstance(value, dict):
        raise ProtocolError("a binary frame's header must be a JSON object")
    kind = value.get("t")
    sender = value.get("from")
    n = value.get("n")
    if server:
        if sender is not None and not isinstance(sender, str):
            raise ProtocolError("'from' must be a peer id")
        if n is not None and type(n) is not int:
            raise ProtocolError("'n' must be an integer")
    elif "from" in value or "n" in value:
        raise ProtocolError("fields 'from' and 'n' are set by the server")
    m = value.get("m")
    if m is not None:
        m = _count(m, "m", MAX_MESSAGE_ID)
    if kind == "part":
        if m is None:
            raise ProtocolError("a 'part' needs 'm', its message id")
        return BinaryHeader("part", m=m, o=_count(value.get("o"), "o", max_bytes), sender=sender)
    if kind not in ("msg", "emit", "bcast"):
        raise ProtocolError("a binary frame's 't' must be 'msg', 'emit', 'bcast' or 'part'")
    event, to, skip = value.get("e"), value.get("to"), value.get("x")
    if kind == "msg":
        event = to = None
    elif not isinstance(event, str) or not 0 < len(event) <= MAX_EVENT_LENGTH:
        raise ProtocolError(f"'{kind}' needs 'e', an event name of 1 to {MAX_EVENT_LENGTH} chars")
    if to is not None and (kind != "emit" or not isinstance(to, str)):
        raise ProtocolError("'to' must be a peer id, on an 'emit'")
    if skip is not None:
        if kind == "bcast" or to is not None or not isinstance(skip, list) or len(skip) > MAX_SKIP:
            raise ProtocolError(f"'x' is a list of at most {MAX_SKIP} peer ids, on a room message")
        if not all(isinstance(i, str) and 0 < len(i) <= 128 for i in skip):
            raise ProtocolError("'x' must list peer ids")
        skip = frozenset(skip)
    lengths = value.get("b", [])
    if not isinstance(lengths, list) or len(lengths) > MAX_ATTACHMENTS:
        raise ProtocolError(f"'b' must list at most {MAX_ATTACHMENTS} attachment lengths")
    b = tuple(_count(x, "b", max_bytes) for x in lengths)
    j = _count(value.get("j", 0), "j", max_bytes)
    total = j + sum(b)
    z = value.get("z")
    if (m is None) != (z is None):
        raise ProtocolError("'m' and 'z' go together (a message spanning frames)")
    if z is not None and z != total:
        raise ProtocolError("'z' must be the body's length ('j' plus the attachments)")
    if total > max_bytes:
        raise ProtocolError(f"the message is larger than {max_bytes} bytes")
    return BinaryHeader(kind, event, to, skip, j, b, m, z, 0, sender, n)


class _Partial:
    __slots__ = ("got", "header", "keep", "parts")

    def __init__(self, header: BinaryHeader, keep: bool) -> None:
        self.header = header
        self.parts: list[bytes] = []
        self.got = 0
        self.keep = keep


class Reassembly:
    """Messages spanning frames, followed (the relay's) or put back together (a receiver's,
    or the relay's when a hook needs the data), keyed by ``(sender, message id)``.

    Bounded: at most ``max_messages`` in progress and ``max_bytes`` held; a part that does
    not continue its message exactly (unknown id, wrong offset, past the end) is refused.
    Each step returns ``(the first header, bytes received so far, the body once complete
    and kept)``: the message is complete when the bytes received reach the header's ``z``.
    """

    def __init__(self, max_messages: int, max_bytes: int) -> None:
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self.held = 0
        self._partial: dict[tuple[str, int], _Partial] = {}

    def __len__(self) -> int:
        return len(self._partial)

    def keys(self) -> list[tuple[str, int]]:
        return list(self._partial)

    def header(self, key: tuple[str, int]) -> BinaryHeader | None:
        partial = self._partial.get(key)
        return None if partial is None else partial.header

    def start(
        self, sender: str, header: BinaryHeader, payload: memoryview, keep: bool = True
    ) -> tuple[BinaryHeader, int, bytes | None]:
        """A message's first frame."""
        assert header.m is not None and header.z is not None
        key = (sender, header.m)
        if key in self._partial:
            self.drop(key)
            raise ProtocolError(f"message {header.m} is already in progress")
        if len(self._partial) >= self.max_messages:
            raise ProtocolError(f"at most {self.max_messages} large messages at a time")
        self._partial[key] = _Partial(header, keep)
        return self._add(key, 0, payload)

    def part(
        self, sender: str, header: BinaryHeader, payload: memoryview
    ) -> tuple[BinaryHeader, int, bytes | None]:
        """A later frame of message ``header.m``."""
        assert header.m is not None
        return self._add((sender, header.m), header.o, payload)

    def _add(
        self, key: tuple[str, int], offset: int, payload: memoryview
    ) -> tuple[BinaryHeader, int, bytes | None]:
        """Returns the first header, bytes received (the total once complete), the body."""
        partial = self._partial.get(key)
        if partial is None:
            raise ProtocolError(f"a part of message {key[1]}, which is not in progress")
        total = partial.header.z or 0
        if offset != partial.got or partial.got + len(payload) > total:
            self.drop(key)
            raise ProtocolError(f"a part of message {key[1]} out of order or past its end")
        if partial.keep:
            if self.held + len(payload) > self.max_bytes:
                self.drop(key)
                raise ProtocolError(f"more than {self.max_bytes} bytes of messages in progress")
            partial.parts.append(bytes(payload))
            self.held += len(payload)
        partial.got += len(payload)
        if partial.got < total:
            return partial.header, partial.got, None
        self.drop(key)
        return partial.header, total, b"".join(partial.parts) if partial.keep else None

    def drop(self, key: tuple[str, int]) -> None:
        partial = self._partial.pop(key, None)
        if partial is not None and partial.keep:
            self.held -= partial.got

    def drop_sender(self, sender: str) -> list[BinaryHeader]:
        """Forget ``sender``'s messages in progress (it left); returns their first headers."""
        keys = [k for k in self._partial if k[0] == sender]
        headers = [self._partial[k].header for k in keys]
        for key in keys:
            self.drop(key)
        return headers

    def clear(self) -> None:
        self._partial.clear()
        self.held = 0
