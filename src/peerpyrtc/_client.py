"""AsyncClient: a Python peer that joins a room like a browser does.

Bots, IoT devices, tests and benchmarks use it. It speaks the same HTTP
signalling and DataChannel protocol as the browser client.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import random
import secrets
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urljoin

from aiortc import RTCPeerConnection, RTCSessionDescription

from . import _patches
from . import _protocol as protocol
from ._errors import (
    ConnectionFailed,
    InvalidRequest,
    NotConnected,
    PayloadTooLarge,
    SignalingError,
)
from ._httpclient import post_json
from ._ice import IceServerPool, IceServerSpec, normalize_ice_servers
from ._protocol import (
    CHANNEL_LABEL,
    CHANNEL_PROTOCOL,
    MAX_ENVELOPE_BYTES,
    PROTOCOL_VERSION,
    utf8_len,
)
from ._sendqueue import SendQueue

__all__ = ["AsyncClient"]

logger = logging.getLogger(__name__)

Handler = Callable[[str, Any], Any]


class AsyncClient:
    """One peer in one room.

    Args:
        server_url: where the signalling routes live (``/offer`` etc. under it).
        room: the room to join.
        peer_id: this peer's id; generated when None.
        ice_servers: STUN/TURN servers; none by default.
        info: a small JSON object shown to other peers (a display name, say).
        timeout: seconds for signalling requests and for the channel to open.

    Callbacks are attributes you assign (plain or ``async`` functions):
    ``on_message(sender_id, message, event)``, ``on_peer_joined(peer)``,
    ``on_peer_left(peer)``, ``on_room_update(peers)``, ``on_close(reason)``.
    """

    def __init__(
        self,
        server_url: str,
        room: str,
        peer_id: str | None = None,
        ice_servers: Iterable[IceServerSpec] | None = None,
        *,
        info: dict[str, Any] | None = None,
        timeout: float = 10.0,
        headers: dict[str, str] | None = None,
        max_reconnect_attempts: int | None = None,
        reconnect_delay: float = 1.0,
        reconnect_timeout: float = 120.0,
        heartbeat_interval: float = 6.0,
        heartbeat_timeout: float = 12.0,
    ) -> None:
        _patches.apply()
        self.server_url = server_url.rstrip("/") + "/"
        self.room = room
        self.peer_id = peer_id or f"py-{secrets.token_hex(4)}"
        self.info = dict(info or {})
        self.timeout = timeout
        #: Extra HTTP headers for the signalling requests (an Authorization token, say).
        self.headers = dict(headers or {})
        #: After a lost connection: attempts to reconnect with the same id and session
        #: (None: as many as ``reconnect_timeout`` allows; 0: never).
        self.max_reconnect_attempts = max_reconnect_attempts
        #: Seconds before the first attempt; later ones double (capped at 30 s), each with
        #: +-25 % jitter so that clients of a restarted server do not come back at once.
        self.reconnect_delay = reconnect_delay
        #: Seconds after a loss during which reconnection is tried; then ``on_close`` fires.
        self.reconnect_timeout = reconnect_timeout
        #: Ping the server after this many quiet seconds; give up after ``heartbeat_timeout``.
        #: (The server pings a quiet peer every 4 s, so a live server is never this silent.)
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat_timeout = heartbeat_timeout
        self.session = secrets.token_urlsafe(24)
        self.host_id: str | None = None
        self.close_reason: str | None = None
        self.on_message: Callable[[str, Any, str | None], Any] | None = None
        self.on_peer_joined: Callable[[dict[str, Any]], Any] | None = None
        self.on_peer_left: Callable[[dict[str, Any]], Any] | None = None
        self.on_room_update: Callable[[list[dict[str, Any]]], Any] | None = None
        self.on_close: Callable[[str | None], Any] | None = None
        self.on_reconnect: Callable[[], Any] | None = None
        #: Configured STUN/TURN servers, probed like the server's: a dead one is left out
        #: (0.5 s once per 30 s) instead of costing every connect 5 s of gathering.
        self._ice = IceServerPool(normalize_ice_servers(ice_servers))
        self._handlers: dict[str, list[Handler]] = {}
        self._peers: dict[str, dict[str, Any]] = {}
        self._pc: RTCPeerConnection | None = None
        self._stale: RTCPeerConnection | None = None  # the previous one, during a reconnect
        self._queue: SendQueue | None = None
        self._welcome: asyncio.Future[None] | None = None
        self._closed_event = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._pings: dict[str, asyncio.Future[None]] = {}
        self._generation = 0
        self._last_heard = 0.0
        self._watchdog: asyncio.TimerHandle | None = None
        self._may_reconnect = True
        self._state = "new"  # new -> connecting -> open (<-> reconnecting) -> closed

    # ----------------------------------------------------------- properties
    @property
    def connected(self) -> bool:
        """True while the channel is open and the room state is in hand."""
        return self._state == "open"

    @property
    def peers(self) -> list[dict[str, Any]]:
        """Every peer in the room, this one included, in join order."""
        return [{**p, "isHost": p["id"] == self.host_id} for p in self._peers.values()]

    @property
    def is_host(self) -> bool:
        return self.host_id == self.peer_id

    # ------------------------------------------------------------- handlers
    def on(self, event: str, handler: Handler | None = None) -> Any:
        """Call ``handler(sender_id, data)`` for ``event`` (``"message"`` for plain messages).

        Returns a function that unsubscribes. Usable as a decorator when
        ``handler`` is omitted.
        """
        if handler is None:

            def register(func: Handler) -> Handler:
                self.on(event, func)
                return func

            return register
        self._handlers.setdefault(event, []).append(handler)
        return lambda: self.off(event, handler)

    def off(self, event: str, handler: Handler | None = None) -> None:
        """Remove one handler, or every handler of ``event``."""
        if handler is None:
            self._handlers.pop(event, None)
        elif handler in self._handlers.get(event, []):
            self._handlers[event].remove(handler)

    # ------------------------------------------------------------ lifecycle
    async def connect(self) -> AsyncClient:
        """Join the room; returns once the channel is open and the room state arrived.

        Raises :class:`SignalingError` when the server refuses the offer and
        :class:`ConnectionFailed` when the channel does not open in time.
        """
        if self._state != "new":
            raise RuntimeError("connect() can be called once per AsyncClient")
        self._state = "connecting"
        try:
            await self._open()
        except BaseException:
            await self._teardown()
            raise
        self._state = "open"
        return self

    async def _open(self) -> None:
        """One connection attempt: a new peer connection, same peer id and session."""
        self._generation += 1
        generation = self._generation
        # keep the old connection open until the new one is welcomed: closing it first would
        # tell the server we left (the room would see a leave, a new host, then a join)
        extra = self._retire()
        if extra is not None:
            await extra.close()
        self._welcome = welcome = asyncio.get_running_loop().create_future()
        self.close_reason = None
        self._pc = pc = RTCPeerConnection(await self._ice.configuration())
        channel = pc.createDataChannel(CHANNEL_LABEL, ordered=True, protocol=CHANNEL_PROTOCOL)
        self._queue = SendQueue(64 * 1024 * 1024)
        self._queue.attach(channel)
        channel.on("message", lambda frame: self._on_frame(frame, generation))
        channel.on("close", lambda: self._lost(generation, "channel closed"))

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if pc.connectionState == "failed":
                self._lost(generation, "connection failed")

        await pc.setLocalDescription(await pc.createOffer())
        offer = {
            "sdp": pc.localDescription.sdp,
            "type": "offer",
            "session": self.session,
            "protocol": PROTOCOL_VERSION,
            "info": self.info,
        }
        reply = await post_json(
            urljoin(self.server_url, "offer"),
            {"room": self.room, "peer_id": self.peer_id, "offer": offer},
            self.timeout,
            self.headers,
        )
        answer = reply.get("answer") if isinstance(reply, dict) else None
        if not isinstance(answer, dict) or "sdp" not in answer:
            raise ConnectionFailed(f"the server's /offer reply has no answer: {reply!r}")
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
        try:
            await asyncio.wait_for(asyncio.shield(welcome), self.timeout)
        except asyncio.TimeoutError:
            raise ConnectionFailed(
                f"the channel to {self.room!r} did not open within {self.timeout}s"
            ) from None
        await self._close_stale()  # the server has swapped connections: the old one is done
        self._watch(generation)

    def _watch(self, generation: int) -> None:
        """Heartbeat: ping a quiet server, and call the connection lost if it stays silent."""
        if self.heartbeat_interval <= 0:
            return
        loop = asyncio.get_running_loop()
        if generation != self._generation or self._state == "closed":
            return
        silent = loop.time() - self._last_heard
        if silent > self.heartbeat_timeout:
            self._lost(generation, f"no word from the server for {silent:.1f}s")
            return
        if silent > self.heartbeat_interval and self._queue is not None:
            self._queue.put(protocol.PING)
        self._watchdog = loop.call_later(
            min(1.0, self.heartbeat_interval / 2), self._watch, generation
        )

    def _lost(self, generation: int, reason: str) -> None:
        """The connection went away (not by close()): reconnect, or give up."""
        if generation != self._generation or self._state == "closed":
            return
        if self._welcome is not None and not self._welcome.done():
            self._welcome.set_exception(ConnectionFailed(reason))
            self._welcome.exception()  # retrieved here: the attempt reports it
            return
        if self._state != "open":
            return
        reason = self.close_reason or reason
        if self._may_reconnect and self.max_reconnect_attempts != 0:
            self._state = "reconnecting"
            self._spawn(self._reconnect(reason))
        else:
            self._spawn(self._finish(reason))

    async def _reconnect(self, reason: str) -> None:
        """Retry with capped, jittered backoff until it works, time runs out or it is refused."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.reconnect_timeout
        attempt = 0
        while self.max_reconnect_attempts is None or attempt < self.max_reconnect_attempts:
            attempt += 1
            delay = min(self.reconnect_delay * 2 ** (attempt - 1), 30.0)
            delay *= random.uniform(0.75, 1.25)
            if loop.time() + delay > deadline:
                break
            await asyncio.sleep(delay)
            if self._state != "reconnecting":
                return
            try:
                await self._open()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # every failure is retried or ends in closed, never a hang
                logger.info("%s: reconnection %d failed: %r", self.peer_id, attempt, exc)
                reason = str(exc) or type(exc).__name__
                if isinstance(exc, SignalingError) and exc.status in (400, 401, 403, 404, 409):
                    break  # refused, not unreachable: trying again would not help
                continue
            self._state = "open"
            logger.info("%s: reconnected to %r", self.peer_id, self.room)
            self._call(self.on_reconnect)
            return
        await self._finish(reason)

    async def _finish(self, reason: str) -> None:
        if self._state == "closed":
            return
        await self._teardown()
        self._call(self.on_close, reason)

    async def close(self) -> None:
        """Leave the room gracefully: say goodbye, let what was sent arrive, close.

        ``on_close("closed")`` fires once it is done, as it does in the browser client.
        """
        if self._state == "closed":
            return
        was_connected = self._state in ("open", "reconnecting")
        if self._state == "open" and self._queue is not None and self._queue.channel is not None:
            closed = asyncio.Event()
            self._generation += 1  # what follows is our own doing, not a loss
            self._queue.channel.on("close", closed.set)
            self._queue.put(protocol.BYE)
            self._queue.flush()
            try:  # the server closes the channel once it has read everything before "bye"
                await asyncio.wait_for(closed.wait(), 2.0)
            except asyncio.TimeoutError:
                logger.debug("%s: no close from the server after bye", self.peer_id)
        await self._teardown()
        if was_connected:
            self._call(self.on_close, "closed")

    async def __aenter__(self) -> AsyncClient:
        return await self.connect()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def wait_closed(self) -> None:
        """Wait until the connection is closed (by either side)."""
        await self._closed_event.wait()

    # -------------------------------------------------------------- sending
    async def send_message(self, message: str) -> None:
        """Send a plain text message to every other peer in the room."""
        if not isinstance(message, str):
            raise InvalidRequest("message must be a string")
        await self._send(protocol.message(message))

    async def emit(self, event: str, data: Any = None, to: str | None = None) -> None:
        """Emit ``event`` to every other peer, or only to peer ``to``."""
        await self._send(protocol.event(event, data, to=to))

    async def broadcast(self, event: str, data: Any = None) -> None:
        """Send ``event`` to every peer including this one, in the room's one order."""
        await self._send(protocol.broadcast(event, data))

    async def ping(self) -> float:
        """Round trip to the server over the channel, in seconds."""
        token = secrets.token_hex(4)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pings[token] = future
        started = time.perf_counter()
        try:
            await self._send(protocol.ping(token))
            await asyncio.wait_for(future, self.timeout)
        finally:
            self._pings.pop(token, None)
        return time.perf_counter() - started

    async def _send(self, raw: str) -> None:
        if self._state != "open" or self._queue is None:
            raise NotConnected(f"{self.peer_id} is not connected to {self.room!r}")
        if utf8_len(raw) > MAX_ENVELOPE_BYTES:
            raise PayloadTooLarge(f"the message is larger than {MAX_ENVELOPE_BYTES} bytes")
        self._queue.put(raw)
        if self._queue.congested:
            await self._queue.wait_drained()

    # ------------------------------------------------------------ receiving
    def _on_frame(self, frame: str | bytes, generation: int | None = None) -> None:
        if generation is not None and generation != self._generation:
            return  # the previous connection's last words (a "replaced" notice): not ours
        self._last_heard = asyncio.get_running_loop().time()
        if not isinstance(frame, str):
            logger.warning("%s: ignoring a binary frame", self.peer_id)
            return
        try:  # a client needs values, not raw slices: one C-speed parse of the whole frame
            decoded = json.loads(frame)
        except ValueError as exc:
            logger.warning("%s: bad frame from server: %s", self.peer_id, exc)
            return
        for value in decoded if isinstance(decoded, list) else (decoded,):
            if isinstance(value, dict):
                try:
                    self._on_envelope(value)
                except (KeyError, TypeError, AttributeError) as exc:
                    logger.warning(
                        "%s: malformed %r from server: %s", self.peer_id, value.get("t"), exc
                    )

    def _on_envelope(self, env: dict[str, Any]) -> None:
        kind = env.get("t")
        if kind in ("msg", "emit", "bcast"):
            event = env.get("e") if kind != "msg" else None
            sender, data = env.get("from", ""), env.get("d")
            self._call(self.on_message, sender, data, event)
            for handler in list(self._handlers.get(event or "message", ())):
                self._call(handler, sender, data)
        elif kind == "welcome":
            self._may_reconnect = True
            self._peers = {p["id"]: p for p in env.get("peers", [])}
            self.host_id = env.get("host")
            if self._welcome is not None and not self._welcome.done():
                self._welcome.set_result(None)
            self._call(self.on_room_update, self.peers)
        elif kind == "joined":
            peer = env["peer"]
            self._peers[peer["id"]] = peer
            self._call(self.on_peer_joined, {**peer, "isHost": peer["id"] == self.host_id})
            self._call(self.on_room_update, self.peers)
        elif kind == "left":
            peer = self._peers.pop(env["peer"]["id"], env["peer"])
            self.host_id = env.get("host", self.host_id)
            # the role it had when it left (a leaving host says so; the new host comes next)
            role, reason = bool(env["peer"].get("isHost")), env.get("reason")
            self._call(self.on_peer_left, {**peer, "isHost": role, "reason": reason})
            self._call(self.on_room_update, self.peers)
        elif kind == "host":
            self.host_id = env.get("host")
            self._call(self.on_room_update, self.peers)
        elif kind == "pong":
            token = env.get("d")
            waiter = self._pings.get(token) if isinstance(token, str) else None
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
        elif kind == "close":  # the server asks us to hang up (and says whether to come back)
            self.close_reason = env.get("reason")
            self._may_reconnect = bool(env.get("reconnect"))
            self._lost(self._generation, self.close_reason or "closed by the server")
        elif kind == "ping":
            if self._queue is not None:
                self._queue.put(protocol.pong(env.get("d")))
        elif kind == "error":
            logger.warning(
                "%s: server error %s: %s", self.peer_id, env.get("code"), env.get("message")
            )
            for handler in list(self._handlers.get("error", ())):
                self._call(handler, "server", env)

    def _call(self, callback: Callable[..., Any] | None, *args: Any) -> None:
        if callback is None:
            return
        try:
            result = callback(*args)
        except Exception:
            logger.exception("%s: callback %s raised", self.peer_id, callback)
            return
        if inspect.isawaitable(result):
            self._spawn(result)

    def _retire(self) -> RTCPeerConnection | None:
        """Detach the current connection; keep its peer connection open as the stale one.

        Returns a peer connection the caller must close (a failed attempt's, when an older
        one is already kept).
        """
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        if self._queue is not None:
            self._queue.close()
        pc, self._pc = self._pc, None
        if pc is not None and self._stale is None:  # the one the server still holds
            self._stale, pc = pc, None
        return pc

    async def _close_stale(self) -> None:
        if self._stale is not None:
            pc, self._stale = self._stale, None
            await pc.close()

    async def _drop_connection(self) -> None:
        extra = self._retire()
        if extra is not None:
            await extra.close()
        await self._close_stale()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _teardown(self) -> None:
        self._state = "closed"
        self._generation += 1
        self._closed_event.set()
        await self._drop_connection()
        current = asyncio.current_task()
        tasks = [t for t in self._tasks if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._ice.close()
