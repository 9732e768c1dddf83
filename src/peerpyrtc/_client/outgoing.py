"""What an ``AsyncClient`` sends, encoded: a text envelope when it fits and holds no bytes,
else binary frames (``_wire.binary``); large messages leave through the send queue's bulk
lane with progress, volatile ones in one frame (no I/O here beyond the queue)."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple, Protocol

from .._errors import InvalidRequest, NotConnected, PayloadTooLarge, ProtocolError
from .._rtc.sendqueue import SendQueue
from .._wire import protocol
from .._wire.binary import encode_frames, has_binary, parse_frame
from .._wire.protocol import MAX_ENVELOPE_BYTES, MAX_EVENT_LENGTH, MAX_VOLATILE_BYTES, utf8_len

__all__ = [
    "Encoded",
    "OnProgress",
    "Outgoing",
    "RouteVolatile",
    "Sender",
    "report_progress",
    "round_trip",
    "send_encoded",
    "send_frames",
]

logger = logging.getLogger(__name__)

#: ``(bytes sent, total bytes)``, as a large message's frames leave.
OnProgress = Callable[[int, int], Any] | None


class Encoded(NamedTuple):
    """One message ready to leave: ``text`` (an envelope) or binary ``frames``."""

    text: str | None
    frames: list[bytes]
    #: Its size: the envelope's, or the body's (what progress counts up to).
    total: int


class Outgoing:
    """Encodes a client's messages; numbers its large ones (from a random start, so that a
    reconnected client's new messages never meet its old ones at a receiver)."""

    def __init__(self) -> None:
        self._next_id = secrets.randbits(32)

    def encode(
        self,
        kind: str,
        event: str | None,
        data: Any,
        to: str | None,
        max_body: int,
        volatile: bool = False,
    ) -> Encoded:
        """Raises ``PayloadTooLarge`` (nothing sent), ``InvalidRequest`` or ``ProtocolError``."""
        named = isinstance(event, str) and 0 < len(event) <= MAX_EVENT_LENGTH
        if event is not None and not named:
            raise InvalidRequest(f"event must be a string of 1 to {MAX_EVENT_LENGTH} characters")
        limit = MAX_VOLATILE_BYTES if volatile else MAX_ENVELOPE_BYTES
        if not has_binary(data):
            if kind == "msg":
                text = protocol.message(data)
            elif kind == "bcast":
                text = protocol.broadcast(event, data)  # type: ignore[arg-type]
            else:
                text = protocol.event(event, data, to=to)  # type: ignore[arg-type]
            size = utf8_len(text)
            if size <= limit:
                return Encoded(text, [], size)
        if not max_body:
            raise PayloadTooLarge(
                f"the message is larger than {limit} bytes or holds bytes, and this server "
                "takes neither (it predates binary frames)"
            )
        routing: dict[str, Any] = {"t": kind}
        if event is not None:
            routing["e"] = event
        if to is not None:
            routing["to"] = to
        self._next_id = (self._next_id + 1) % (1 << 52)
        try:
            frames = encode_frames(routing, data, self._next_id, max_body)
        except ProtocolError as exc:
            if "larger than" in str(exc):
                raise PayloadTooLarge(str(exc)) from None
            raise
        if volatile and (len(frames) > 1 or len(frames[0]) > MAX_VOLATILE_BYTES):
            raise PayloadTooLarge(f"a volatile message is at most {MAX_VOLATILE_BYTES} bytes")
        return Encoded(None, frames, sum(len(parse_frame(f)[1]) for f in frames))


class Sender(Protocol):
    """The connection a message leaves by (``ClientConnection``)."""

    @property
    def queue(self) -> SendQueue: ...

    def send_volatile(self, frame: str | bytes) -> bool: ...


#: A volatile frame sent where it can go directly; returns what to relay (None: nothing).
RouteVolatile = Callable[[str | bytes], str | bytes | None]


async def send_encoded(
    conn: Sender, out: Encoded, on_progress: OnProgress, volatile: RouteVolatile | None = None
) -> None:
    """Send binary frames by ``conn`` (through the server, in mesh rooms too), or a volatile
    message: ``volatile`` sends it on direct links first."""
    if volatile is not None:
        relayed = volatile(out.text if out.text is not None else out.frames[0])
        if relayed is not None:
            conn.send_volatile(relayed)
        return
    await send_frames(conn.queue, out.frames, out.total, on_progress)
    await conn.queue.wait_drained()


async def send_frames(
    queue: SendQueue, frames: list[bytes], total: int, on_progress: OnProgress
) -> None:
    """Queue a message's binary frames; returns once the last has left (raises
    ``NotConnected`` if the connection went away first). One frame goes in the first
    lane; more go in the bulk lane, behind small messages."""
    if len(frames) == 1:
        queue.put(frames[0])
        report_progress(on_progress, total, total)
        return
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    sent = 0

    def left(size: int, ok: bool) -> None:
        nonlocal sent
        if done.done():
            return
        if not ok:
            done.set_exception(NotConnected("the connection went away before the message left"))
            return
        sent += size
        report_progress(on_progress, sent, total)
        if sent >= total:
            done.set_result(None)

    for frame in frames:
        size = len(parse_frame(frame)[1])
        queue.put_bulk(frame, lambda ok, size=size: left(size, ok))  # type: ignore[misc]
    await done


async def round_trip(
    pings: dict[str, asyncio.Future[None]],
    send: Callable[[str], Awaitable[None]],
    timeout: float,
) -> float:
    """Ping the server over the channel and wait for its pong; seconds it took."""
    token = secrets.token_hex(4)
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    pings[token] = future
    started = time.perf_counter()
    try:
        await send(protocol.ping(token))
        await asyncio.wait_for(future, timeout)
    finally:
        pings.pop(token, None)
    return time.perf_counter() - started


def report_progress(on_progress: OnProgress, sent: int, total: int) -> None:
    if on_progress is None:
        return
    try:
        result = on_progress(sent, total)
    except Exception:
        logger.exception("on_progress raised")
        return
    if asyncio.iscoroutine(result):
        result.close()
        logger.warning("on_progress must be a plain function; its coroutine was not run")
