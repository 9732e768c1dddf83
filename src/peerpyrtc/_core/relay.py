"""The relay: one client frame's way to the peers that get it.

channel -> ``Relay.on_frame`` -> ``_protocol.decode`` -> rate limit ->
moderation hooks (only when set) -> ``_delivery`` (who gets it) -> each
peer's send queue -> channel, then the handler hooks. No signalling here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from .._errors import PayloadTooLarge, ProtocolError, UnknownPeer
from .._limits import Limits
from .._rooms.delivery import Delivery, Lane
from .._rooms.metrics import Metrics
from .._wire import protocol
from .._wire.binary import has_binary, volatile_encode, volatile_frame, volatile_message
from .._wire.protocol import (
    MAX_ENVELOPE_BYTES,
    MAX_VOLATILE_BYTES,
    SERVER_ID,
    Incoming,
    decode,
    stamp,
    utf8_len,
)
from .bulk import BinaryMessage, BinaryRelay
from .hooks import Hooks, Message
from .peer import ServerPeer

__all__ = ["Relay"]

logger = logging.getLogger(__name__)

#: Frames a peer may send between its channel opening and its welcome (clients send none).
MAX_HELD_FRAMES = 256
#: A sender's volatile messages in moderation hooks at once; past it they are dropped.
MAX_VOLATILE_MODERATING = 8

_KINDS = {"msg": "message", "emit": "event", "bcast": "broadcast"}


class Relay:
    """Routes envelopes inside rooms; sends only through ``delivery``, owns no table."""

    def __init__(
        self,
        delivery: Delivery,
        hooks: Hooks,
        limits: Limits,
        remove: Callable[[ServerPeer, str], None],
        topology: Callable[[str], str],
        metrics: Metrics,
    ) -> None:
        self.delivery = delivery
        #: Counters for /metrics (the server's).
        self.metrics = metrics
        #: The room's topology ("relay" or "mesh"), decided by the server.
        self.topology = topology
        self.hooks = hooks
        self.limits = limits
        #: Takes a peer out of its room with a reason (the manager's job).
        self.remove = remove
        #: Binary frames and large messages.
        self.binary = BinaryRelay(
            delivery,
            hooks,
            limits,
            self._charge_bytes,
            self._flooding,
            self._error,
            self._moderate_later,
            topology,
        )

    def frames(
        self, kind: str, event: str | None, data: Any, to: str | None, *, volatile: bool = False
    ) -> list[tuple[str | bytes, Lane]]:
        """A server message as frames and their lanes: one text envelope when it fits and
        holds no bytes, else binary frames. Raises ``PayloadTooLarge``, ``ProtocolError``."""
        try:
            if not has_binary(data):
                if kind == "msg":
                    raw = protocol.message(data, SERVER_ID)
                else:
                    raw = protocol.event(event, data, SERVER_ID, to)  # type: ignore[arg-type]
                if utf8_len(raw) <= (MAX_VOLATILE_BYTES if volatile else MAX_ENVELOPE_BYTES):
                    return [(raw, "volatile" if volatile else "normal")]
            routing: dict[str, Any] = {"t": kind, "from": SERVER_ID}
            if event is not None:
                routing["e"] = event
            if to is not None:
                routing["to"] = to
            frames: list[tuple[str | bytes, Lane]] = [*self.binary.speak_frames(routing, data)]
        except ProtocolError as exc:
            if "larger than" in str(exc):
                raise PayloadTooLarge(str(exc)) from None
            raise
        if volatile:
            if len(frames) > 1 or len(frames[0][0]) > MAX_VOLATILE_BYTES:
                raise PayloadTooLarge(f"a volatile message is at most {MAX_VOLATILE_BYTES} bytes")
            return [(frames[0][0], "volatile")]
        return frames

    def speak(
        self,
        room: str,
        frames: list[tuple[str | bytes, Lane]],
        to: str | None,
        *,
        known: bool = False,
    ) -> int:
        """Send a server message's frames (:meth:`frames`) to a room, or to one peer; returns
        how many got it. ``known``: the caller checked that ``to`` is a member."""
        count = 0
        for i, (raw, lane) in enumerate(frames):
            delivered = self.delivery.deliver(room, raw, to=to, lane=lane)
            if i == 0:
                count = delivered
                if to is not None and not count and not known:
                    raise UnknownPeer(f"no peer {to!r} in room {room!r}")
        return count

    def on_frame(self, peer: ServerPeer, frame: str | bytes) -> None:
        """Handle one frame from ``peer``: meter, decode, moderate, route.

        Every frame is charged to its sender (bytes, and at least one message)
        before it is looked at, valid or not, so a flood of any kind cuts off
        the sender and nobody else.
        """
        if peer.state != "open":
            if peer.state == "joining":  # the room store has not answered yet: hold it
                self._hold(peer, frame)
            return
        now = asyncio.get_running_loop().time()
        peer.last_seen = now
        size = len(frame) if not isinstance(frame, str) else utf8_len(frame)
        metrics = self.metrics
        metrics.frames_in += 1
        metrics.bytes_in += size
        if not isinstance(frame, str):
            if self._charge(peer, now, 0):  # the bytes: to the bucket the frame belongs to
                self.binary.on_frame(peer, frame, now)
            return
        if not self._charge(peer, now, size):
            return
        try:
            envelopes = decode(frame)
        except ProtocolError as exc:
            self._error(peer, "ERR_PROTOCOL", str(exc))
            return
        metrics.messages_in += len(envelopes)
        if len(envelopes) > 1:  # the frame paid for one envelope; a batch pays for the rest
            peer.tokens -= len(envelopes) - 1
            if peer.tokens < 0:
                self._flooding(peer, f"{self.limits.max_messages_per_second:g} messages")
                return
        if self.hooks.moderators:
            peer.inbox.extend(envelopes)
            peer.inbox_bytes += size
            if peer.inbox_bytes > self.limits.max_inbox_bytes:
                self.remove(peer, "flooding: messages arrive faster than the server moderates")
                return
            if peer.worker is None or peer.worker.done():
                peer.worker = asyncio.ensure_future(self._moderate(peer))
            return
        for env in envelopes:
            self._route(peer, env, None)

    def _hold(self, peer: ServerPeer, frame: str | bytes) -> None:
        if len(peer.held) >= MAX_HELD_FRAMES:
            self.remove(peer, "flooding: too many frames before its welcome")
            return
        peer.held.append(frame)

    def _charge(self, peer: ServerPeer, now: float, size: int) -> bool:
        """Refill the sender's token buckets and take one frame; False (cut off) when dry."""
        limits = self.limits
        elapsed = now - peer.tokens_at
        peer.tokens_at = now
        rate = limits.max_messages_per_second
        peer.tokens = min(limits.message_burst, peer.tokens + elapsed * rate) - 1
        if peer.tokens < 0:
            return self._flooding(peer, f"{rate:g} messages")
        return self._charge_bytes(peer, now, size, elapsed)

    def _charge_bytes(
        self, peer: ServerPeer, now: float, size: int, elapsed: float | None = None
    ) -> bool:
        limits = self.limits
        rate = limits.max_bytes_per_second
        if rate <= 0:
            return True
        if elapsed is None:  # the message bucket was charged at ``now`` already
            elapsed = now - peer.bytes_at
        peer.bytes_at = now
        peer.byte_tokens = min(limits.byte_burst, peer.byte_tokens + elapsed * rate) - size
        if peer.byte_tokens < 0:
            return self._flooding(peer, f"{rate:g} bytes")
        return True

    def _moderate_later(self, peer: ServerPeer, item: BinaryMessage) -> None:
        peer.inbox.append(item)
        peer.inbox_bytes += len(item.body)
        if peer.inbox_bytes > self.limits.max_inbox_bytes + self.limits.max_message_bytes:
            self.remove(peer, "flooding: messages arrive faster than the server moderates")
            return
        if peer.worker is None or peer.worker.done():
            peer.worker = asyncio.ensure_future(self._moderate(peer))

    def on_volatile(self, peer: ServerPeer, frame: str | bytes) -> None:
        """One frame from ``peer``'s volatile channel: one ``emit`` (text, or binary in one
        frame), relayed on the receivers' volatile channels or dropped. Moderation hooks see
        each on its own, never behind the sender's reliable messages; event hooks do not."""
        if peer.state != "open":
            return
        now = asyncio.get_running_loop().time()
        peer.last_seen = now
        size = len(frame) if not isinstance(frame, str) else utf8_len(frame)
        self.metrics.frames_in += 1
        self.metrics.bytes_in += size
        if not self._charge(peer, now, size):
            return
        try:
            to, skip, raw = volatile_frame(frame, peer.stamp)
        except ProtocolError as exc:
            self._error(peer, "ERR_PROTOCOL", f"volatile: {exc}")
            return
        self.metrics.messages_in += 1
        if skip is not None and self.topology(peer.room) != "mesh":
            self._error(peer, "ERR_PROTOCOL", "'x' is for mesh rooms (peers reached directly)")
            return
        if not self.hooks.moderators:
            self._volatile_out(peer, to, skip, raw)
        elif len(peer.volatile_hooks) >= MAX_VOLATILE_MODERATING:
            self.metrics.drops["volatile"] += 1  # the hooks are behind: late is worthless
        else:
            event, data, _, _ = volatile_message(frame)
            original = Message(peer.room, peer.id, "event", event, data, to, volatile=True)
            task = asyncio.ensure_future(self._moderate_volatile(peer, original, skip, raw))
            peer.volatile_hooks.add(task)
            task.add_done_callback(peer.volatile_hooks.discard)

    async def _moderate_volatile(
        self, peer: ServerPeer, original: Message, skip: frozenset[str] | None, raw: str | bytes
    ) -> None:
        result = await self.hooks.moderate(original)
        if result is None or peer.state != "open":
            self.metrics.drops["volatile"] += result is not None
            return
        to = original.to
        if result != original:  # checked and stamped as if the sender had written it
            skip = skip if result.to is None else None
            try:
                frame = volatile_encode(result.event, result.data, result.to, skip)
                to, skip, raw = volatile_frame(frame, peer.stamp)
            except ProtocolError as exc:
                logger.error("%r: a before_relay hook's rewrite cannot be sent: %s", peer, exc)
                return
        self._volatile_out(peer, to, skip, raw)

    def _volatile_out(
        self, peer: ServerPeer, to: str | None, skip: frozenset[str] | None, raw: str | bytes
    ) -> None:
        if to is None:
            self.delivery.deliver(peer.room, raw, exclude=peer.id, skip=skip, lane="volatile")
        elif to != SERVER_ID:
            self.delivery.deliver(peer.room, raw, to=to, lane="volatile")

    def forget(self, peer: ServerPeer) -> None:
        """A peer was removed: end its large messages in progress at their receivers."""
        self.binary.forget(peer)

    def _flooding(self, peer: ServerPeer, what: str) -> bool:
        self.remove(peer, f"flooding: over {what} per second")
        return False

    async def _moderate(self, peer: ServerPeer) -> None:
        while peer.inbox and peer.state == "open":
            env: Incoming | BinaryMessage = peer.inbox.popleft()
            peer.inbox_bytes = max(0, peer.inbox_bytes - len(env.raw)) if peer.inbox else 0
            if isinstance(env, BinaryMessage):
                await self.binary.moderate(peer, env)
                continue
            kind = _KINDS.get(env.type)
            if kind is None:
                self._route(peer, env, None)
                continue
            original = Message(peer.room, peer.id, kind, env.event, env.data, env.to)  # type: ignore[arg-type]
            result = await self.hooks.moderate(original)
            if result is None or peer.state != "open":
                continue
            self._route(peer, env, None if result == original else result)

    def _route(self, peer: ServerPeer, env: Incoming, rewritten: Message | None) -> None:
        kind = env.type
        if kind == "ping":
            peer.send(protocol.pong(env.data))
            return
        if kind == "pong":
            return
        if kind == "bye":
            self.remove(peer, "left")
            return
        if kind == "sig":  # mesh signalling between two peers: relayed as is, no hooks
            self._signal(peer, env)
            return
        if rewritten is not None:  # relayed as if the sender had written the rewrite
            try:
                env = _rewrite(kind, rewritten)
            except ProtocolError as exc:
                logger.error("%r: a before_relay hook's rewrite cannot be sent: %s", peer, exc)
                return
        data = env.data
        if kind == "bcast":
            self.delivery.broadcast(peer.room, env.raw, peer.id)
            self.hooks.dispatch(
                self.hooks.events.get(env.event or "", []), peer.room, peer.id, data
            )
            return
        if env.skip is not None and self.topology(peer.room) != "mesh":
            # the skip list names peers reached directly: a relay room has no direct links,
            # so it could only hide a message from chosen members while hooks see it as sent
            self._error(peer, "ERR_PROTOCOL", "'x' is for mesh rooms (peers reached directly)")
            return
        raw = stamp(env.raw, peer.stamp)
        if env.to is None:
            self.delivery.deliver(peer.room, raw, exclude=peer.id, skip=env.skip)
        elif env.to != SERVER_ID and not self.delivery.deliver(peer.room, raw, to=env.to):
            self._error(peer, "ERR_UNKNOWN_PEER", f"no peer {env.to!r} in this room")
            return
        if kind == "msg":
            self.hooks.dispatch(self.hooks.message, peer.room, peer.id, data)
        else:
            self.hooks.dispatch(
                self.hooks.events.get(env.event or "", []), peer.room, peer.id, data
            )

    def _signal(self, peer: ServerPeer, env: Incoming) -> None:
        if self.topology(peer.room) != "mesh":
            self._error(peer, "ERR_PROTOCOL", "'sig' envelopes are for mesh rooms")
        elif not self.delivery.deliver(peer.room, stamp(env.raw, peer.stamp), to=env.to):
            self._error(peer, "ERR_UNKNOWN_PEER", f"no peer {env.to!r} in this room")

    def _error(self, peer: ServerPeer, code: str, message: str) -> None:
        logger.debug("%r: %s %s", peer, code, message)
        if code == "ERR_PROTOCOL":
            self.metrics.drops["invalid"] += 1
        peer.send(protocol.error(code, message))


def _rewrite(kind: str, message: Message) -> Incoming:
    """A moderation hook's copy as an envelope of the same kind, validated like client input.

    ``data``, ``event`` and ``to`` (an emit's target) count; ``kind``, ``room`` and
    ``sender_id`` cannot change.
    """
    if kind == "msg":
        raw = protocol.message(message.data)
    elif kind == "bcast":
        raw = protocol.broadcast(message.event, message.data)  # type: ignore[arg-type]
    else:
        raw = protocol.event(message.event, message.data, to=message.to)  # type: ignore[arg-type]
    [env] = decode(raw)
    return env
