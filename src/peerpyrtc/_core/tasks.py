"""A task group: background work the server's ``close()`` waits for."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

__all__ = ["TaskGroup"]


class TaskGroup:
    """Tasks spawned by the server's objects; :meth:`close` waits until none is left
    (including tasks that running ones spawn meanwhile)."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run ``coro`` as a task of this group."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def __len__(self) -> int:
        return len(self._tasks)

    async def wait(self) -> None:
        """Wait until every task (and every task they spawn) has ended; never raises."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
