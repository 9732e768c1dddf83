"""The relay's binary path: binary frames, and large messages forwarded as their frames come.

A frame is parsed and checked (``_wire.binary``), charged to its sender (a frame of a large
message to the transfer bucket, any other to the byte bucket), then forwarded stamped with
the sender, in the bulk lane when it belongs to a large message. Nothing is held unless a
hook needs the data: a handler of the message's event (the body is kept while it arrives,
bounded by ``Limits.max_reassembly_bytes``), or a moderation hook (the whole message waits
for the hook's verdict, then leaves, re-encoded, in the moderation order).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import Any, NamedTuple

from .._errors import ProtocolError
from .._limits import Limits
from .._rooms.delivery import Delivery, Lane
from .._wire.binary import (
    BinaryHeader,
    decode_body,
    encode_frames,
    parse_frame,
    parse_header,
    stamp_frame,
)
from .._wire.protocol import SERVER_ID, encode, stamp_suffix
from .hooks import Hooks, Message
from .peer import ServerPeer

__all__ = ["BinaryMessage", "BinaryRelay", "abort_notice"]

logger = logging.getLogger(__name__)

_KINDS = {"msg": "message", "emit": "event", "bcast": "broadcast"}


class BinaryMessage(NamedTuple):
    """A whole binary or large message waiting for the moderation hooks."""

    header: BinaryHeader
    body: bytes

    @property
    def raw(self) -> bytes:  # what the moderation inbox measures
        return self.body

    @property
    def type(self) -> str:
        return self.header.t


def abort_notice(sender: str, message_id: int) -> str:
    """``abort``: ``sender``'s large message ``message_id`` will not be completed."""
    return encode({"t": "abort", "m": message_id, "from": sender})


class BinaryRelay:
    """Binary frames from clients, and binary messages the server sends.

    Args:
        charge_bytes: ``(peer, now, size)``: take ``size`` from the byte bucket; False when
            the peer was cut off for it.
        error: ``(peer, code, message)``: tell the sender what was wrong.
        moderate_later: ``(peer, message)``: queue a whole message for the moderation hooks.
        topology: a room's topology.
    """

    def __init__(
        self,
        delivery: Delivery,
        hooks: Hooks,
        limits: Limits,
        charge_bytes: Callable[[ServerPeer, float, int], bool],
        flooding: Callable[[ServerPeer, str], bool],
        error: Callable[[ServerPeer, str, str], None],
        moderate_later: Callable[[ServerPeer, BinaryMessage], None],
        topology: Callable[[str], str],
    ) -> None:
        self.delivery = delivery
        self.hooks = hooks
        self.limits = limits
        self.charge_bytes = charge_bytes
        self.flooding = flooding
        self.error = error
        self.moderate_later = moderate_later
        self.topology = topology
        #: Ids of the server's own large messages (random start: unique across workers).
        self._next_id = secrets.randbits(48)

    # ----------------------------------------------------------------- inbound
    def on_frame(self, peer: ServerPeer, frame: bytes, now: float) -> None:
        """One binary frame from ``peer`` (its message token already taken)."""
        try:
            text, payload = parse_frame(frame)
            header = parse_header(text, max_bytes=self.limits.max_message_bytes)
        except ProtocolError as exc:
            if self.charge_bytes(peer, now, len(frame)):
                self.error(peer, "ERR_PROTOCOL", str(exc))
            return
        if header.m is None:
            if not self.charge_bytes(peer, now, len(frame)):
                return
        elif not self._charge_transfer(peer, now, len(frame)):
            return
        try:
            if header.t == "part":
                self._part(peer, header, text, payload)
            else:
                self._first(peer, header, text, payload, frame)
        except ProtocolError as exc:
            self.error(peer, "ERR_PROTOCOL", str(exc))

    def _charge_transfer(self, peer: ServerPeer, now: float, size: int) -> bool:
        limits = self.limits
        rate = limits.max_transfer_bytes_per_second
        if rate <= 0:
            return True
        elapsed = now - peer.transfer_at
        peer.transfer_at = now
        peer.transfer_tokens = (
            min(limits.transfer_burst, peer.transfer_tokens + elapsed * rate) - size
        )
        if peer.transfer_tokens < 0:
            return self.flooding(peer, f"{rate:g} bytes of large messages")
        return True

    def _first(
        self, peer: ServerPeer, header: BinaryHeader, text: str, payload: memoryview, frame: bytes
    ) -> None:
        if header.skip is not None and self.topology(peer.room) != "mesh":
            raise ProtocolError("'x' is for mesh rooms (peers reached directly)")
        moderated = bool(self.hooks.moderators)
        if header.m is None:  # the whole message in this frame
            if len(payload) != header.j + sum(header.b):
                raise ProtocolError("the payload's length must be 'j' plus the attachments")
            if moderated:
                self.moderate_later(peer, BinaryMessage(header, bytes(payload)))
                return
            if self._forward(peer, header, text, payload, frame, "normal"):
                self._dispatch(peer, header, payload)
            return
        keep = moderated or self._wanted(header)
        first, got, body = peer.streams.start("", header, payload, keep)
        if moderated:
            peer.moderated.add(header.m)
        elif not self._forward(peer, header, text, payload, frame, "bulk"):
            peer.streams.drop(("", header.m))
            return
        if got == header.z:
            self._complete(peer, first, body)

    def _part(self, peer: ServerPeer, header: BinaryHeader, text: str, payload: memoryview) -> None:
        first, got, body = peer.streams.part("", header, payload)
        if first.m not in peer.moderated and first.to != SERVER_ID:
            raw = stamp_frame(text, peer.stamp, payload)
            if first.t == "bcast":
                self.delivery.deliver(peer.room, raw, lane="bulk")
            else:
                self.delivery.deliver(
                    peer.room, raw, exclude=peer.id, to=first.to, skip=first.skip, lane="bulk"
                )
        if got == first.z:
            self._complete(peer, first, body)

    def _forward(
        self,
        peer: ServerPeer,
        header: BinaryHeader,
        text: str,
        payload: memoryview,
        frame: bytes,
        lane: Lane,
    ) -> bool:
        """Forward a message's first frame; False when its target is unknown."""
        room = peer.room
        if header.t == "bcast":
            self.delivery.broadcast(room, frame, peer.id, lane)
            return True
        if header.to == SERVER_ID:
            return True
        raw = stamp_frame(text, peer.stamp, payload)
        if header.to is None:
            self.delivery.deliver(room, raw, exclude=peer.id, skip=header.skip, lane=lane)
            return True
        if not self.delivery.deliver(room, raw, to=header.to, lane=lane):
            self.error(peer, "ERR_UNKNOWN_PEER", f"no peer {header.to!r} in this room")
            return False
        return True

    def _complete(self, peer: ServerPeer, first: BinaryHeader, body: bytes | None) -> None:
        if first.m in peer.moderated:
            peer.moderated.discard(first.m)
            if body is not None:
                self.moderate_later(peer, BinaryMessage(first, body))
        elif body is not None:
            self._dispatch(peer, first, body)

    def _wanted(self, header: BinaryHeader) -> bool:
        if header.t == "msg":
            return bool(self.hooks.message)
        return bool(self.hooks.events.get(header.event or ""))

    def _dispatch(self, peer: ServerPeer, header: BinaryHeader, body: bytes | memoryview) -> None:
        if not self._wanted(header):
            return
        data = decode_body(header, body)
        if header.t == "msg":
            self.hooks.dispatch(self.hooks.message, peer.room, peer.id, data)
        else:
            self.hooks.dispatch(self.hooks.events[header.event or ""], peer.room, peer.id, data)

    # ---------------------------------------------------------------- moderation
    async def moderate(self, peer: ServerPeer, item: BinaryMessage) -> None:
        """Run the moderation hooks on a whole message, then relay what they let through."""
        header = item.header
        try:
            data = decode_body(header, item.body)
        except ProtocolError as exc:
            self.error(peer, "ERR_PROTOCOL", str(exc))
            return
        kind = _KINDS[header.t]
        original = Message(peer.room, peer.id, kind, header.event, data, header.to)  # type: ignore[arg-type]
        result = await self.hooks.moderate(original)
        if result is None or peer.state != "open":
            return
        routing: dict[str, Any] = {"t": header.t}
        if header.t != "msg":
            routing["e"] = result.event
        if header.t == "emit" and result.to is not None:
            routing["to"] = result.to
        if header.skip and result.to is None:
            routing["x"] = sorted(header.skip)
        try:
            frames = self._encode(routing, result.data)
            parsed = [parse_frame(f) for f in frames]
            first = parse_header(parsed[0][0], max_bytes=self.limits.max_message_bytes)
        except ProtocolError as exc:
            logger.error("%r: a before_relay hook's rewrite cannot be sent: %s", peer, exc)
            return
        lane: Lane = "bulk" if len(frames) > 1 else "normal"
        if not self._forward(peer, first, parsed[0][0], parsed[0][1], frames[0], lane):
            return
        for text, payload in parsed[1:]:
            self._part_out(peer, first, stamp_frame(text, peer.stamp, payload))
        if self._wanted(first):
            hooks = self.hooks
            handlers = hooks.message if first.t == "msg" else hooks.events[first.event or ""]
            self.hooks.dispatch(handlers, peer.room, peer.id, result.data)

    def _part_out(self, peer: ServerPeer, first: BinaryHeader, raw: bytes) -> None:
        if first.to == SERVER_ID:
            return
        if first.t == "bcast":
            self.delivery.deliver(peer.room, raw, lane="bulk")
        else:
            self.delivery.deliver(
                peer.room, raw, exclude=peer.id, to=first.to, skip=first.skip, lane="bulk"
            )

    def _encode(self, routing: dict[str, Any], data: Any) -> list[bytes]:
        self._next_id = (self._next_id + 1) % (1 << 52)
        return encode_frames(routing, data, self._next_id, self.limits.max_message_bytes)

    # ------------------------------------------------------------------ leaving
    def forget(self, peer: ServerPeer) -> None:
        """``peer`` left with large messages in progress: their receivers drop them."""
        for first in peer.streams.drop_sender(""):
            if first.m is None or first.m in peer.moderated:
                continue
            notice = abort_notice(peer.id, first.m)
            if first.t == "bcast":
                self.delivery.deliver(peer.room, notice)
            elif first.to != SERVER_ID:
                self.delivery.deliver(
                    peer.room, notice, exclude=peer.id, to=first.to, skip=first.skip
                )
        peer.moderated.clear()

    # ------------------------------------------------------------ the server's own
    def speak_frames(self, routing: dict[str, Any], data: Any) -> list[tuple[bytes, Lane]]:
        """A server message (``routing`` carries ``from``) as frames and their lanes."""
        frames = self._encode(routing, data)
        if len(frames) == 1:
            return [(frames[0], "normal")]
        suffix = stamp_suffix(routing["from"])  # every part names its sender
        out: list[tuple[bytes, Lane]] = [(frames[0], "bulk")]
        for frame in frames[1:]:
            text, payload = parse_frame(frame)
            out.append((stamp_frame(text, suffix, payload), "bulk"))
        return out
