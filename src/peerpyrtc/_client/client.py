"""AsyncClient: a Python peer (bots, devices, tests, benchmarks) that joins a room like a
browser does: the same HTTP signalling and DataChannel protocol as the browser client."""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import httpx
from aiortc import RTCConfiguration

from .._errors import (
    ConnectionFailed,
    InvalidRequest,
    NotConnected,
    SignalingError,
    final_refusal,
)
from .._rtc import patches as _patches
from .._rtc.ice import IceServerPool, IceServerSpec, normalize_ice_servers
from .._rtc.sendqueue import SendQueue
from .._wire import protocol
from .conn import ClientConnection, check_policy, client_configuration
from .events import ClientEvents
from .http import HttpSession
from .inbound import ClientSession, on_frame
from .mesh import ClientMesh
from .outgoing import OnProgress, Outgoing, report_progress, round_trip, send_encoded
from .room import ClientRoom

__all__ = ["AsyncClient"]

logger = logging.getLogger(__name__)


class AsyncClient(ClientEvents):
    """One peer in one room.

    Args:
        server_url: where the signalling routes live (``/offer`` etc. under it).
        room: the room to join.
        peer_id: this peer's id; generated when None.
        ice_servers: STUN/TURN servers; none by default.
        info: a small JSON object shown to other peers (a display name, say).
        timeout: seconds for signalling requests and for the channel to open.
        http_client: an ``httpx.AsyncClient`` for the signalling requests (proxies, TLS
            settings); by default one of its own, honouring ``HTTPS_PROXY``/``NO_PROXY``.
        create_connection: makes each attempt's connection (``ClientConnection``'s
            arguments): a wrapper or a fake of your own, like the browser's createTransport.

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
        fetch_ice_servers: bool = True,
        ice_transport_policy: str = "all",
        http_client: httpx.AsyncClient | None = None,
        create_connection: Callable[..., ClientConnection] | None = None,
    ) -> None:
        _patches.apply()
        check_policy(ice_transport_policy)
        super().__init__()
        self.server_url = server_url.rstrip("/") + "/"
        self.room = room
        self.peer_id = peer_id or f"py-{secrets.token_hex(4)}"
        self.info = dict(info or {})
        self.timeout = timeout
        self.headers = dict(headers or {})  # (an Authorization token, say)
        # reconnect attempts (None: while reconnect_timeout allows; 0: never), the first
        # delay (then doubled, capped at 30 s, +-25 % jitter), and for how long
        self.max_reconnect_attempts = max_reconnect_attempts
        self.reconnect_delay = reconnect_delay
        self.reconnect_timeout = reconnect_timeout
        # ping a server quiet this long; give up after heartbeat_timeout (the server pings
        # a quiet peer every 4 s, so a live server is never this silent)
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat_timeout = heartbeat_timeout
        # POST /ice (STUN, minted TURN credentials) first; "relay": reach peers only by TURN
        self.fetch_ice_servers = fetch_ice_servers
        self.ice_transport_policy = ice_transport_policy
        self.session = secrets.token_urlsafe(24)
        self.close_reason: str | None = None
        #: Configured STUN/TURN servers, probed like the server's: a dead one is left out
        #: (0.5 s once per 30 s) instead of costing every connect 5 s of gathering.
        self._ice = IceServerPool(normalize_ice_servers(ice_servers))
        self._http = HttpSession(http_client)  # keep-alive, proxies from the environment
        self._create_connection = create_connection or ClientConnection
        self._room = ClientRoom()
        self._rtc_config = RTCConfiguration()
        self._turn_choice = self._turn_count = 0  # which TURN URL aiortc gets, of how many
        #: Direct links to the other peers of a mesh room (inactive in relay rooms).
        self._mesh = ClientMesh(
            self.peer_id, lambda: list(self._room.peers), self._signal, self._deliver_direct,
            lambda: self._rtc_config, self._spawn,
        )  # fmt: skip
        self._conn: ClientConnection | None = None
        self._stale: ClientConnection | None = None  # the previous one, during a reconnect
        self._closed_event = asyncio.Event()
        self._generation = 0
        self._last_heard = 0.0
        self._watchdog: asyncio.TimerHandle | None = None
        self._session = ClientSession(
            self._room, self._mesh, self._deliver_direct, self._notify, self._server_closed,
            self._reply, self._server_error,
        )  # fmt: skip
        self._session.progress = self._incoming
        self._outgoing = Outgoing()
        self._state = "new"  # new -> connecting -> open (<-> reconnecting) -> closed

    @property
    def connected(self) -> bool:
        """True while the channel is open and the room state is in hand."""
        return self._state == "open"

    @property
    def state(self) -> str:
        """``new``, ``connecting``, ``open``, ``reconnecting`` or ``closed``."""
        return self._state

    @property
    def peers(self) -> list[dict[str, Any]]:
        """Every peer in the room, this one included, in join order (``isDirect``: messages
        to it travel on a direct link, in a mesh room)."""
        return [{**p, "isDirect": self._mesh.is_direct(p["id"])} for p in self._room.listing()]

    @property
    def topology(self) -> str | None:  # "relay" or "mesh", as the server decided (None before)
        return self._room.topology

    @property
    def host_id(self) -> str | None:  # the room's host, as the server last said
        return self._room.host_id

    is_host = property(lambda self: self.host_id == self.peer_id)

    # ------------------------------------------------------------ lifecycle
    async def connect(self) -> AsyncClient:
        """Join the room; returns once the channel is open and the room state arrived.

        A 429 rate limit (too many offers waiting) is retried with jittered backoff within
        ``timeout``; a full room is final (:class:`RoomFull` at once); a failed attempt with
        TURN URLs left is retried with the next one. Raises
        :class:`SignalingError` (offer refused), :class:`ConnectionFailed` (the channel did
        not open; :class:`IceServerError` if a TURN server refused or did not answer).
        """
        if self._state != "new":
            raise RuntimeError("connect() can be called once per AsyncClient")
        self._state = "connecting"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        delay = 0.05
        try:
            while True:
                try:
                    await self._open()
                    break
                except ConnectionFailed as exc:  # aiortc uses one TURN URL: try the next
                    if self._turn_choice + 1 >= self._turn_count or exc.code == "ERR_TURN_AUTH":
                        raise
                    self._turn_choice += 1
                    logger.info("%s: %s; trying the next TURN URL", self.peer_id, exc)
                except SignalingError as exc:
                    wait = delay * random.uniform(0.5, 1.5)
                    if exc.status != 429 or loop.time() + wait > deadline:
                        raise
                    logger.debug("%s: %s; trying again in %.2fs", self.peer_id, exc, wait)
                    await asyncio.sleep(wait)
                    delay = min(delay * 2, 1.0)
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
        self._session.welcome = welcome = asyncio.get_running_loop().create_future()
        self.close_reason = None
        self._rtc_config, self._turn_count, silent = await client_configuration(
            self._ice, self.fetch_ice_servers,
            (self.server_url, self.room, self.peer_id, self.session), self._post,
            self.ice_transport_policy, self._turn_choice,
        )  # fmt: skip
        self._conn = conn = self._create_connection(
            self._rtc_config, lambda frame: self._on_frame(frame, generation),
            lambda reason: self._lost(generation, reason),
            next_turn=self._turn_choice + 1 < self._turn_count, silent_turn=silent,
        )  # fmt: skip
        await conn.offer(
            self.server_url, self.room, self.peer_id, self.session, self.info, self._post
        )
        try:
            await asyncio.wait_for(asyncio.shield(welcome), self.timeout)
        except asyncio.TimeoutError:
            why = f"the channel to {self.room!r} did not open within {self.timeout}s"
            raise conn.explain(ConnectionFailed(why)) from None
        except ConnectionFailed as exc:
            raise conn.explain(exc) from exc
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
        if silent > self.heartbeat_interval:
            self._reply(protocol.PING)
        self._watchdog = loop.call_later(
            min(1.0, self.heartbeat_interval / 2), self._watch, generation
        )

    def _lost(self, generation: int, reason: str) -> None:
        """The connection went away (not by close()): reconnect, or give up."""
        if generation != self._generation or self._state == "closed":
            return
        welcome = self._session.welcome
        if welcome is not None and not welcome.done():
            welcome.set_exception(ConnectionFailed(reason))
            welcome.exception()  # retrieved here: the attempt reports it
            return
        if self._state != "open":
            return
        reason = self.close_reason or reason
        if self._session.may_reconnect and self.max_reconnect_attempts != 0:
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
                if final_refusal(exc):
                    break  # refused, not unreachable: trying again would not help
                self._turn_choice += isinstance(exc, ConnectionFailed)  # the next TURN URL
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
        if self._state == "open" and self._conn is not None:
            self._generation += 1  # what follows is our own doing, not a loss
            if not await self._conn.goodbye(2.0):
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
    # ``data`` may hold bytes anywhere and be up to the server's ``max_message_bytes``;
    # ``on_progress(sent, total)`` is called as a large message leaves; the call returns
    # once it has left. ``volatile``: the unordered channel, dropped rather than late.
    async def send_message(self, message: str | bytes, *, on_progress: OnProgress = None) -> None:
        """Send a plain message (text or bytes) to every other peer in the room."""
        if not isinstance(message, (str, bytes, bytearray, memoryview)):
            raise InvalidRequest("message must be a string or bytes")
        await self._send_as("msg", None, message, None, on_progress=on_progress)

    async def emit(
        self, event: str, data: Any = None, to: str | None = None, *, volatile: bool = False,
        on_progress: OnProgress = None,
    ) -> None:  # fmt: skip
        """Emit ``event`` to every other peer, or only to peer ``to``."""
        await self._send_as("emit", event, data, to, volatile, on_progress=on_progress)

    async def broadcast(
        self, event: str, data: Any = None, *, on_progress: OnProgress = None
    ) -> None:
        """Send ``event`` to every peer including this one, in the room's one order (always
        through the server, in mesh rooms too)."""
        await self._send_as("bcast", event, data, None, direct=False, on_progress=on_progress)

    async def _send_as(self, kind: str, event: str | None, data: Any, to: str | None,
                       volatile: bool = False, *, direct: bool = True,
                       on_progress: OnProgress = None) -> None:  # fmt: skip
        conn = self._conn
        if self._state != "open" or conn is None:
            raise NotConnected(f"{self.peer_id} is not connected to {self.room!r}")
        out = self._outgoing.encode(kind, event, data, to, self._session.max_body, volatile)
        if out.text is not None and not volatile:
            await self._send(out.text, to, direct)
            report_progress(on_progress, out.total, out.total)
        else:
            route = (lambda f: self._mesh.route_volatile(f, to)) if volatile else None
            await send_encoded(conn, out, on_progress, route)

    async def ping(self) -> float:
        """Round trip to the server over the channel, in seconds."""
        return await round_trip(self._session.pings, self._send, self.timeout)

    async def _send(self, raw: str, to: str | None = None, direct: bool = True) -> None:
        if self._state != "open" or self._queue is None:
            raise NotConnected(f"{self.peer_id} is not connected to {self.room!r}")
        relayed = self._mesh.route(raw, to) if direct else raw
        if relayed is not None:
            self._queue.put(relayed)
        await self._queue.wait_drained()  # returns at once unless the channel is full
        await self._mesh.wait_drained()  # direct links: the same backpressure

    # ------------------------------------------------------------ receiving
    def _on_frame(self, frame: str | bytes, generation: int | None = None) -> None:
        if generation is not None and generation != self._generation:
            return  # the previous connection's last words (a "replaced" notice): not ours
        self._last_heard = asyncio.get_running_loop().time()
        on_frame(self._session, frame, self.peer_id)

    def _server_closed(self, reason: str | None) -> None:
        self.close_reason = reason
        self._lost(self._generation, reason or "closed by the server")

    def _reply(self, raw: str) -> None:
        if self._queue is not None:
            self._queue.put(raw)

    def _post(self, url: str, payload: Any) -> Awaitable[Any]:
        return self._http.post_json(url, payload, self.timeout, self.headers)

    def _signal(self, to: str, data: dict[str, Any]) -> None:  # through the server, in order
        self._reply(protocol.signal(to, data))

    @property
    def connection(self) -> ClientConnection | None:
        """The current connection to the server (diagnostics: its ``pc`` and ``queue``)."""
        return self._conn

    @property
    def mesh(self) -> ClientMesh:
        """The direct links of a mesh room (diagnostics)."""
        return self._mesh

    @property
    def _queue(self) -> SendQueue | None:
        return self._conn.queue if self._conn is not None else None

    def _retire(self) -> ClientConnection | None:
        """Detach the current connection, kept open as the stale one; returns one the caller
        must close (a failed attempt's, when an older one is already kept)."""
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.stop_sending()
            if self._stale is None:  # the one the server still holds
                self._stale, conn = conn, None
        return conn

    async def _close_stale(self) -> None:
        if self._stale is not None:
            conn, self._stale = self._stale, None
            await conn.close()

    async def _drop_connection(self) -> None:
        extra = self._retire()
        if extra is not None:
            await extra.close()
        await self._close_stale()

    async def _teardown(self) -> None:
        self._state = "closed"
        self._generation += 1
        self._closed_event.set()
        await self._mesh.close()
        await self._drop_connection()
        current = asyncio.current_task()
        tasks = [t for t in self._tasks if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._ice.close()
        await self._http.aclose()
