"""SignalingManager: the blocking facade for WSGI frameworks (Flask, Django).

It owns one background thread running one event loop, and forwards every
call to an :class:`AsyncSignalingManager` living on that loop. There is no
logic here beyond the thread bridge.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import threading
import weakref
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, TypeVar

from ._hooks import F
from ._ice import IceServerSpec
from ._limits import Limits
from ._manager import AsyncSignalingManager
from ._routes import dispatch as _dispatch

__all__ = ["SignalingManager"]

T = TypeVar("T")


class SignalingManager:
    """Thread-safe, blocking version of :class:`AsyncSignalingManager`.

    Handlers may be ``async def`` or plain functions; they run on the
    manager's own loop thread. Called from inside a handler (on that thread),
    ``send_message`` and ``emit`` schedule the send and return None instead
    of blocking.
    """

    def __init__(
        self,
        debug: bool = False,
        *,
        ice_servers: Iterable[IceServerSpec] | None = None,
        limits: Limits | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.timeout = timeout
        self.async_manager = AsyncSignalingManager(
            ice_servers=ice_servers, debug=debug, limits=limits
        )
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="peerpyrtc-loop", daemon=True
        )
        self._thread.start()
        self._closed = False
        atexit.register(_close_at_exit, weakref.ref(self))

    # -- the thread bridge
    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._closed:
            coro.close()
            raise RuntimeError("this SignalingManager is closed")
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError(
                "blocking SignalingManager call from its own loop thread; "
                "use `await manager.async_manager.<method>()` inside handlers"
            )
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(self.timeout)

    def _run_sync(self, func: Callable[..., T], *args: Any) -> T:
        async def call() -> T:
            return func(*args)

        return self._run(call())

    def _speak(self, coro: Coroutine[Any, Any, int]) -> int | None:
        if threading.current_thread() is self._thread:
            self._loop.create_task(coro)
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
        return self._run(self.async_manager.offer(room, peer_id, offer, metadata=metadata))

    def candidate(self, room: str, peer_id: str, candidate: dict[str, Any]) -> None:
        """Add a trickled candidate (see :meth:`AsyncSignalingManager.candidate`)."""
        self._run(self.async_manager.candidate(room, peer_id, candidate))

    def leave(self, room: str, peer_id: str, *, session: str | None = None) -> None:
        """Remove a peer that proves its session (see :meth:`AsyncSignalingManager.leave`)."""
        self._run(self.async_manager.leave(room, peer_id, session=session))

    def rooms_info(self) -> dict[str, dict[str, Any]]:
        """``{room: {"peer_count", "peers", "host_id"}}`` for every room."""
        return self._run_sync(self.async_manager.rooms_info)

    def get_room_peers(self, room_name: str) -> list[dict[str, Any]]:
        """Peers of one room, in join order."""
        return self._run_sync(self.async_manager.get_room_peers, room_name)

    def dispatch(
        self, method: str, path: str, body: bytes, metadata: dict[str, Any] | None = None
    ) -> tuple[int, Any]:
        """Serve one signalling HTTP request (see :func:`peerpyrtc.dispatch`)."""
        return self._run(_dispatch(self.async_manager, method, path, body, metadata))

    # -- the server speaking
    def send_message(self, room: str, message: str) -> int | None:
        """Send a plain message from ``"server"`` to the room; returns how many got it."""
        return self._speak(self.async_manager.send_message(room, message))

    def emit(self, room: str, event: str, data: Any = None, to: str | None = None) -> int | None:
        """Emit an event from ``"server"`` to the room, or to one peer."""
        return self._speak(self.async_manager.emit(room, event, data, to))

    # -- hooks (registered on the async core; they run on the loop thread)
    def message_handler(self, func: F) -> F:
        """Register ``func(room, sender_id, message)`` for every plain message."""
        return self.async_manager.message_handler(func)

    def peer_joined_handler(self, func: F) -> F:
        """Register ``func(room, peer_id, peer_info)`` for every join."""
        return self.async_manager.peer_joined_handler(func)

    def peer_left_handler(self, func: F) -> F:
        """Register ``func(room, peer_id, peer_info)`` for every leave."""
        return self.async_manager.peer_left_handler(func)

    def on(self, event: str) -> Callable[[F], F]:
        """Register ``handler(room, sender_id, data)`` for a named event."""
        return self.async_manager.on(event)

    def before_relay(self, func: F) -> F:
        """Register a moderation hook (see :meth:`AsyncSignalingManager.before_relay`)."""
        return self.async_manager.before_relay(func)

    # -- lifecycle
    def close(self) -> None:
        """Close every connection, then stop the loop thread. Idempotent."""
        if self._closed:
            return
        try:
            self._run(self.async_manager.close())
        except concurrent.futures.TimeoutError:  # pragma: no cover - last resort
            pass
        finally:
            self._closed = True
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(self.timeout)
            self._loop.close()

    def __enter__(self) -> SignalingManager:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _close_at_exit(ref: weakref.ref[SignalingManager]) -> None:
    manager = ref()
    if manager is not None and not manager._closed:
        manager.close()
