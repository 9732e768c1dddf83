"""An ``AsyncClient``'s handlers: registration, safe calls, and the tasks they start."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from typing import Any

__all__ = ["ClientEvents", "Handler"]

logger = logging.getLogger("peerpyrtc._client.client")

Handler = Callable[[str, Any], Any]


class ClientEvents:
    """Named handlers (``on``/``off``) and the rule for calling any callback safely."""

    peer_id: str

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.on_message: Callable[[str, Any, str | None], Any] | None = None
        self.on_peer_joined: Callable[[dict[str, Any]], Any] | None = None
        self.on_peer_left: Callable[[dict[str, Any]], Any] | None = None
        self.on_room_update: Callable[[list[dict[str, Any]]], Any] | None = None
        self.on_close: Callable[[str | None], Any] | None = None
        self.on_reconnect: Callable[[], Any] | None = None
        #: ``(sender_id, event, received, total)`` for each frame of a large message that
        #: arrives (``event`` is None for plain messages); the message itself follows.
        self.on_incoming: Callable[[str, str | None, int, int], Any] | None = None

    @property
    def peers(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    # what the session reports (:class:`.inbound.ClientSession`), as callbacks and events
    def _deliver_direct(self, sender: str, event: str | None, data: Any) -> None:
        self._call(self.on_message, sender, data, event)
        self._emit(event or "message", sender, data)

    def _notify(self, change: str, peer: dict[str, Any] | None) -> None:
        if peer is not None:
            self._call(self.on_peer_joined if change == "joined" else self.on_peer_left, peer)
        else:
            self._call(self.on_room_update, self.peers)

    def _incoming(self, sender: str, event: str | None, received: int, total: int) -> None:
        self._call(self.on_incoming, sender, event, received, total)

    def _server_error(self, code: str, message: str) -> None:
        logger.warning("%s: server error %s: %s", self.peer_id, code, message)
        self._emit("error", "server", {"t": "error", "code": code, "message": message})

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

    def _emit(self, event: str, *args: Any) -> None:
        if not isinstance(event, str):  # (validated before; a lookup must never raise)
            return
        handlers = self._handlers.get(event)
        if handlers:
            for handler in list(handlers):
                self._call(handler, *args)

    def _call(self, callback: Callable[..., Any] | None, *args: Any) -> None:
        """Call a plain or ``async`` callback; one that raises is logged, never propagated."""
        if callback is None:
            return
        try:
            result = callback(*args)
        except Exception:
            logger.exception("%s: callback %s raised", self.peer_id, callback)
            return
        if result is not None and inspect.isawaitable(result):
            self._spawn(result)

    def _spawn(self, coro: Any) -> None:
        """Run ``coro`` as a task that closing the client waits for."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
