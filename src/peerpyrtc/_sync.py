"""SignalingManager: the blocking facade for WSGI frameworks (Flask, Django).

It owns one background thread running one event loop, and forwards every
call to an :class:`AsyncSignalingManager` living on that loop. There is no
logic here beyond the thread bridge, plus two things WSGI servers need:

* Plain (non-async) hooks run on one hook thread, in order, so a blocking
  hook (a database write) never stalls the relay or its heartbeats.
* The loop thread starts on first use, in the process that uses it, so a
  manager created before a fork (``gunicorn --preload``) works in the worker.
  A second process serving the same manager would split its rooms silently:
  that is refused with :class:`RuntimeError` saying how to run it.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import os
import secrets
import tempfile
import threading
import weakref
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import IO, Any, TypeVar

from ._core.hooks import HookRegistry, Hooks
from ._limits import Limits
from ._manager import AsyncSignalingManager
from ._options import ServerOptions
from ._rooms.metrics import Stats
from ._web.prometheus import make_collector
from ._web.routes import dispatch as _dispatch

__all__ = ["SignalingManager"]

T = TypeVar("T")


class SignalingManager(HookRegistry):
    """Thread-safe, blocking version of :class:`AsyncSignalingManager`.

    Takes the same options. ``async def`` handlers run on the manager's loop
    thread; plain ones on its hook thread. Called from an ``async`` handler
    (on the loop thread), ``send_message`` and ``emit`` schedule the send and
    return None instead of blocking.
    """

    def __init__(
        self,
        debug: bool = False,
        *,
        timeout: float = 30.0,
        options: ServerOptions | None = None,
        **kwargs: Any,
    ) -> None:
        self.timeout = timeout
        #: The validated options (the same keywords as :class:`AsyncSignalingManager`).
        self.options = options if options is not None else ServerOptions.of(debug=debug, **kwargs)
        self.async_manager = AsyncSignalingManager(options=self.options)
        self.hooks: Hooks = self.async_manager.hooks
        self._lock = threading.Lock()
        self._pid: int | None = None  # the process whose loop thread runs
        self._token = secrets.token_hex(8)  # the same in every process forked from here
        self._claim: IO[bytes] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._closed = False
        atexit.register(_close_at_exit, weakref.ref(self))

    @property
    def topology(self) -> str | Callable[[str], str]:
        return self.async_manager.topology

    def room_topology(self, room: str) -> str:
        """``"relay"`` or ``"mesh"`` (see :meth:`AsyncSignalingManager.room_topology`)."""
        return self.async_manager.room_topology(room)

    def health(self) -> tuple[int, dict[str, str]]:
        """What ``GET /health`` answers (see :meth:`AsyncSignalingManager.health`)."""
        return self.async_manager.health()

    @property
    def limits(self) -> Limits:
        return self.async_manager.limits

    @property
    def admin_token(self) -> str | None:
        return self.async_manager.admin_token

    @property
    def started(self) -> bool:
        """Whether this process's loop thread runs (it starts on first use)."""
        thread = self._thread
        return thread is not None and thread.is_alive() and self._pid == os.getpid()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop the async manager lives on (started now if it was not): schedule
        coroutines of :attr:`async_manager` on it with ``run_coroutine_threadsafe``."""
        return self._start()

    # -- the thread bridge
    @property
    def _core(self) -> AsyncSignalingManager:
        """The async manager of this process (its loop started): build coroutines on this."""
        self._start()
        return self.async_manager

    def _start(self) -> asyncio.AbstractEventLoop:
        """The loop of this process, started on first use (after any fork)."""
        if self._closed:
            raise RuntimeError("this SignalingManager is closed")
        pid = os.getpid()
        loop = self._loop
        if self._pid == pid and loop is not None:
            return loop
        with self._lock:
            if self._pid == pid and self._loop is not None:
                return self._loop
            if self._pid is not None:  # forked after use: the parent's peers are not ours
                fresh = AsyncSignalingManager(options=self.options)
                fresh.hooks.adopt(self.hooks)
                self.async_manager, self.hooks = fresh, fresh.hooks
            self._claim_process()
            self._loop = asyncio.new_event_loop()
            self._executor = concurrent.futures.ThreadPoolExecutor(
                1, thread_name_prefix="peerpyrtc-hooks"
            )
            self.hooks.executor = self._executor
            self._thread = threading.Thread(
                target=self._loop.run_forever, name="peerpyrtc-loop", daemon=True
            )
            self._thread.start()
            self._pid = pid
            return self._loop

    def _claim_process(self) -> None:
        """Refuse a second process serving this manager (its rooms would split), unless a
        backplane joins the processes' rooms."""
        if self.options.backplane is not None:
            return
        try:
            import fcntl
        except ImportError:  # pragma: no cover - no fork on this platform
            return
        path = Path(tempfile.gettempdir()) / f"peerpyrtc-{self._token}.lock"
        claim = open(path, "ab")  # held for the life of the process
        try:
            fcntl.flock(claim, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            claim.close()
            raise RuntimeError(
                "this SignalingManager already serves in another process: several WSGI "
                "worker processes would each hold part of every room. Run one worker "
                "process with threads (gunicorn -w 1 --threads 16), serve the signalling "
                "routes from one process (peerpyrtc serve, or an ASGI app), or share rooms "
                "through Redis (backplane='redis://...')."
            ) from None
        self._claim = claim

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._closed:
            coro.close()
            raise RuntimeError("this SignalingManager is closed")
        loop = self._start()
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError(
                "blocking SignalingManager call from its own loop thread; "
                "use `await manager.async_manager.<method>()` inside async handlers"
            )
        return asyncio.run_coroutine_threadsafe(coro, loop).result(self.timeout)

    def _speak(self, coro: Coroutine[Any, Any, int]) -> int | None:
        if self._thread is not None and threading.current_thread() is self._thread:
            self._loop.create_task(coro)  # type: ignore[union-attr]
            return None
        return self._run(coro)

    # -- signalling
    def offer(
        self,
        room: str,
        peer_id: str,
        offer: dict[str, Any],
        *,
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Answer an offer (see :meth:`AsyncSignalingManager.offer`)."""
        return self._run(self._core.offer(room, peer_id, offer, metadata=metadata))

    def candidate(
        self,
        room: str,
        peer_id: str,
        candidate: dict[str, Any],
        *,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Add a trickled candidate (see :meth:`AsyncSignalingManager.candidate`)."""
        self._run(self._core.candidate(room, peer_id, candidate, metadata=metadata))

    def leave(self, room: str, peer_id: str, *, session: str | None = None) -> None:
        """Remove a peer that proves its session (see :meth:`AsyncSignalingManager.leave`)."""
        self._run(self._core.leave(room, peer_id, session=session))

    def kick(self, room: str, peer_id: str, reason: str = "removed by the server") -> bool:
        """Remove a peer on the backend's authority (see :meth:`AsyncSignalingManager.kick`)."""
        return self._run(self._core.kick(room, peer_id, reason))

    def rooms_info(self) -> dict[str, dict[str, Any]]:
        """``{room: {"peer_count", "peers", "host_id"}}`` for every room."""
        return self._run(self._core.fetch_rooms_info())

    def get_room_peers(self, room: str) -> list[dict[str, Any]]:
        """Peers of one room, in join order."""
        return self._run(self._core.fetch_room_peers(room))

    def dispatch(
        self, method: str, path: str, body: bytes, metadata: dict[str, Any] | None = None
    ) -> tuple[int, Any]:
        """Serve one signalling HTTP request (see :func:`peerpyrtc.dispatch`)."""
        return self._run(_dispatch(self._core, method, path, body, metadata))

    def respond(
        self, method: str, path: str, body: bytes, metadata: dict[str, Any] | None = None
    ) -> tuple[int, str, bytes]:
        """Serve one HTTP request (see :meth:`AsyncSignalingManager.respond`)."""
        return self._run(self._core.respond(method, path, body, metadata))

    def stats(self) -> Stats:
        """One snapshot of this process (see :meth:`AsyncSignalingManager.stats`)."""
        return self._run(_snapshot(self._core))

    def prometheus_collector(self) -> Any:
        """A ``prometheus_client`` collector (see
        :meth:`AsyncSignalingManager.prometheus_collector`), collected on the loop thread."""
        return make_collector(self.stats)

    # -- the server speaking
    def send_message(self, room: str, message: str | bytes) -> int | None:
        """Send a plain message (text or bytes) from ``"server"`` to the room; returns how
        many got it."""
        return self._speak(self._core.send_message(room, message))

    def emit(
        self,
        room: str,
        event: str,
        data: Any = None,
        to: str | None = None,
        *,
        volatile: bool = False,
    ) -> int | None:
        """Emit an event from ``"server"`` to the room, or to one peer (``volatile``: on the
        unordered channel, dropped for a receiver that is behind)."""
        return self._speak(self._core.emit(room, event, data, to, volatile=volatile))

    # -- lifecycle
    def start(self) -> None:
        """Start the loop and connect to the backplane now (else on first use).

        Raises:
            Unavailable: the backplane cannot be reached.
        """
        self._run(self._core.start())

    def client_ice_servers(
        self,
        room: str,
        peer_id: str,
        *,
        session: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """ICE servers for one client (see :meth:`AsyncSignalingManager.client_ice_servers`)."""
        return self._run(
            self._core.client_ice_servers(room, peer_id, session=session, metadata=metadata)
        )

    def close(self) -> None:
        """Close every connection, then stop the threads. Idempotent."""
        if self._closed:
            return
        try:
            if self._loop is not None and self._pid == os.getpid():
                self._run(self.async_manager.close())
        except concurrent.futures.TimeoutError:  # pragma: no cover - last resort
            pass
        finally:
            self._closed = True
            loop, thread = self._loop, self._thread
            if loop is not None and thread is not None and self._pid == os.getpid():
                loop.call_soon_threadsafe(loop.stop)
                thread.join(self.timeout)
                loop.close()
            if self._executor is not None:
                self._executor.shutdown(wait=False)
            if self._claim is not None:
                with contextlib.suppress(OSError):
                    os.unlink(self._claim.name)
                self._claim.close()

    def __enter__(self) -> SignalingManager:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


async def _snapshot(manager: AsyncSignalingManager) -> Stats:
    return manager.stats()


def _close_at_exit(ref: weakref.ref[SignalingManager]) -> None:
    manager = ref()
    if manager is not None and not manager._closed:
        manager.close()
