"""Server hooks: registration, safe dispatch, and the moderation message type."""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from .._errors import Forbidden

__all__ = ["F", "HookRegistry", "Hooks", "Message"]

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Message:
    """A client message on its way through the relay, as moderation hooks see it.

    Return it unchanged to relay the original bytes, return a changed copy
    (``dataclasses.replace(message, data=...)``) to relay that instead, or return
    ``None`` to drop it. In a copy, ``data``, ``event`` (emits and broadcasts) and
    ``to`` (an emit's target: one peer, or None for the room) count, and are
    checked as a client's would be; ``room``, ``sender_id`` and ``kind`` cannot
    change. Handler hooks then see the rewritten message.
    """

    room: str
    sender_id: str
    #: ``"message"`` (sendMessage), ``"event"`` (emit) or ``"broadcast"``.
    kind: Literal["message", "event", "broadcast"]
    #: The event name; None for plain messages.
    event: str | None
    data: Any
    #: The target peer of a targeted emit.
    to: str | None = None
    #: True for a volatile emit (``volatile=True``, ``rtc.volatile.emit``); it cannot change.
    volatile: bool = False


ModerationHook = Callable[[Message], "Message | Awaitable[Message | None] | None"]


def _is_async(func: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(
        getattr(func, "__call__", None)  # noqa: B004 - an object with an async __call__
    )


class Hooks:
    """Every handler the backend registered, and how they are called.

    Coroutine functions run as tasks on the loop, tracked here so that
    :meth:`close` can end them. Plain functions run inline, or, when an
    ``executor`` is set (the sync facade sets a one-thread executor), on that
    executor in the order they were dispatched, so a blocking handler (a
    database write) never stalls the relay or its heartbeats. A handler that
    raises is logged and never breaks the relay.
    """

    def __init__(self) -> None:
        #: Where plain (non-async) handlers run; None: inline on the loop.
        self.executor: concurrent.futures.Executor | None = None
        self.message: list[Callable[..., Any]] = []
        self.joined: list[Callable[..., Any]] = []
        self.left: list[Callable[..., Any]] = []
        self.events: dict[str, list[Callable[..., Any]]] = {}
        self.moderators: list[ModerationHook] = []
        self.authorizers: list[Callable[..., Any]] = []
        self._tasks: set[asyncio.Task[Any]] = set()

    def adopt(self, other: Hooks) -> None:
        """Take over every handler registered on ``other`` (a manager rebuilt after a fork)."""
        self.message, self.joined, self.left = other.message, other.joined, other.left
        self.events, self.moderators = other.events, other.moderators
        self.authorizers = other.authorizers

    def dispatch(self, handlers: list[Callable[..., Any]], *args: Any) -> None:
        """Call each handler with ``args``; never raises."""
        for handler in handlers:
            if self.executor is not None and not _is_async(handler):
                self._track(self._guard(handler, self._off_loop(handler, *args)))
                continue
            try:
                result = handler(*args)
            except Exception:
                logger.exception("handler %s raised", getattr(handler, "__name__", handler))
                continue
            if inspect.isawaitable(result):
                self._track(self._guard(handler, result))

    def _track(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _off_loop(self, handler: Callable[..., Any], *args: Any) -> Any:
        """Run a plain handler on the executor; await what it returns if it is awaitable."""
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(self.executor, handler, *args)
        if inspect.isawaitable(result):
            result = await result
        return result

    async def _call(self, handler: Callable[..., Any], *args: Any) -> Any:
        if self.executor is not None and not _is_async(handler):
            return await self._off_loop(handler, *args)
        result = handler(*args)
        if inspect.isawaitable(result):
            result = await result
        return result

    @staticmethod
    async def _guard(handler: Callable[..., Any], awaitable: Awaitable[Any]) -> None:
        try:
            await awaitable
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("handler %s raised", getattr(handler, "__name__", handler))

    async def moderate(self, message: Message) -> Message | None:
        """Run the moderation hooks in order; None means drop."""
        current: Message | None = message
        for hook in self.moderators:
            try:
                result = await self._call(hook, current)
            except Exception:
                logger.exception("moderation hook %s raised; message dropped", hook)
                return None
            if result is None:
                return None
            if not isinstance(result, Message):
                logger.error("moderation hook %s returned %r; message dropped", hook, result)
                return None
            current = result
        return current

    async def authorize(self, room: str, peer_id: str, metadata: dict[str, Any]) -> None:
        """Run every authorization hook; raise :class:`Forbidden` unless all allow."""
        for hook in self.authorizers:
            try:
                verdict = await self._call(hook, room, peer_id, metadata)
            except Forbidden:
                raise
            except Exception as exc:
                logger.exception("authorization hook %s raised", hook)
                raise Forbidden("authorization failed") from exc
            if verdict is True:
                continue
            reason = verdict if isinstance(verdict, str) and verdict else "not authorized"
            raise Forbidden(f"refused: {reason}")

    async def settle(self) -> None:
        """Wait until every async handler dispatched so far has finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Cancel and await every handler task still running."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()


class HookRegistry:
    """The hook decorators, shared by both managers."""

    #: Every handler registered through the decorators below.
    hooks: Hooks

    def message_handler(self, func: F) -> F:
        """Register ``func(room, sender_id, message: str)`` for every plain message."""
        self.hooks.message.append(func)
        return func

    def peer_joined_handler(self, func: F) -> F:
        """Register ``func(room, peer_id, peer_info: dict)`` for every join."""
        self.hooks.joined.append(func)
        return func

    def peer_left_handler(self, func: F) -> F:
        """Register ``func(room, peer_id, peer_info: dict)`` for every leave."""
        self.hooks.left.append(func)
        return func

    def on(self, event: str) -> Callable[[F], F]:
        """Register ``handler(room, sender_id, data)`` for a named event (emit or broadcast)."""

        def register(func: F) -> F:
            self.hooks.events.setdefault(event, []).append(func)
            return func

        return register

    def before_relay(self, func: F) -> F:
        """Register a moderation hook ``func(message: Message) -> Message | None``.

        It runs before a client message is relayed; return the message to relay
        it, a changed copy (``dataclasses.replace``) to rewrite it, None to drop it.
        """
        self.hooks.moderators.append(func)
        return func

    def authorize(self, func: F) -> F:
        """Register ``func(room, peer_id, metadata) -> bool | str`` to allow or refuse joins.

        ``metadata`` holds what the adapter saw (``headers``, ``cookies``,
        ``remote_addr``) and the client's ``info``. Only ``True`` allows; a
        string refuses with that reason, anything else (or raising
        :class:`Forbidden`) refuses. Refusals are 403s.
        """
        self.hooks.authorizers.append(func)
        return func
