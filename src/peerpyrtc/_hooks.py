"""Server hooks: registration, safe dispatch, and the moderation message type."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from ._errors import Forbidden

__all__ = ["F", "Hooks", "Message"]

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Message:
    """A client message on its way through the relay, as moderation hooks see it.

    Return it unchanged to relay the original bytes, return
    ``dataclasses.replace(message, data=...)`` to relay a rewritten copy, or
    return ``None`` to drop it.
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


ModerationHook = Callable[[Message], "Message | Awaitable[Message | None] | None"]


class Hooks:
    """Every handler the backend registered, and how they are called.

    Plain functions run inline; coroutine functions run as tasks tracked here
    so that :meth:`close` can end them. A handler that raises is logged and
    never breaks the relay.
    """

    def __init__(self) -> None:
        self.message: list[Callable[..., Any]] = []
        self.joined: list[Callable[..., Any]] = []
        self.left: list[Callable[..., Any]] = []
        self.events: dict[str, list[Callable[..., Any]]] = {}
        self.moderators: list[ModerationHook] = []
        self.authorizers: list[Callable[..., Any]] = []
        self._tasks: set[asyncio.Task[Any]] = set()

    def dispatch(self, handlers: list[Callable[..., Any]], *args: Any) -> None:
        """Call each handler with ``args``; never raises."""
        for handler in handlers:
            try:
                result = handler(*args)
            except Exception:
                logger.exception("handler %s raised", getattr(handler, "__name__", handler))
                continue
            if inspect.isawaitable(result):
                task = asyncio.ensure_future(self._guard(handler, result))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

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
                result = hook(current)  # type: ignore[arg-type]
                if inspect.isawaitable(result):
                    result = await result
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
                verdict = hook(room, peer_id, metadata)
                if inspect.isawaitable(verdict):
                    verdict = await verdict
            except Forbidden:
                raise
            except Exception as exc:
                logger.exception("authorization hook %s raised", hook)
                raise Forbidden("authorization failed") from exc
            if verdict is True:
                continue
            reason = verdict if isinstance(verdict, str) and verdict else "not authorized"
            raise Forbidden(f"refused: {reason}")

    async def close(self) -> None:
        """Cancel and await every handler task still running."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()

    async def drain(self) -> None:
        """Wait for the handler tasks started so far (tests and graceful shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
