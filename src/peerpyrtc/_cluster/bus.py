"""The cluster's message bus: ordered publish, subscribe, listen.

:class:`Bus` is all cluster delivery and forwarding need of a transport between workers;
:class:`RedisPubSubBus` is the implementation on Redis pub/sub (one channel per room, one
per worker, messages of one channel in publish order). A second bus (Redis Streams, for
recovery of what a worker missed) implements the same protocol beside it.

A *numbered* publish takes the next value of a counter and prepends it (``n\\n`` +
payload) in the same step, so every subscriber sees one total order with its numbers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from .redis_client import PubSub, RedisClient

__all__ = ["Bus", "Outgoing", "RedisPubSubBus"]

logger = logging.getLogger(__name__)

#: ``(channel, payload, counter)``: ``counter`` is None, or the key of the counter whose
#: next value numbers this message.
Outgoing = tuple[str, bytes, "str | None"]
Handler = Callable[[str, bytes], None]

PUBLISH_NUMBERED = """
local n = redis.call('INCR', KEYS[1])
return redis.call('PUBLISH', KEYS[2], n .. '\\n' .. ARGV[1])
"""


class Bus(Protocol):
    async def publish(self, batch: Sequence[Outgoing]) -> None:
        """Send ``batch`` in order (one round trip where the bus can); raises on a lost link."""
        ...

    async def send(self, channel: str, payload: bytes) -> int:
        """Send one message now; returns how many subscribers received it."""
        ...

    async def subscribe(self, *channels: str) -> None: ...

    async def unsubscribe(self, *channels: str) -> None: ...

    async def listen(self, handler: Handler) -> None:
        """Call ``handler(channel, payload)`` for every message, until cancelled or the
        subscription is lost (then it returns)."""
        ...

    async def reset(self, channels: Iterable[str]) -> None:
        """A fresh subscription to exactly ``channels`` (after a lost link)."""
        ...

    async def close(self) -> None: ...


class RedisPubSubBus:
    """:class:`Bus` over Redis pub/sub."""

    def __init__(self, redis: RedisClient) -> None:
        self.redis = redis
        self._numbered = redis.register_script(PUBLISH_NUMBERED)
        self._pubsub: PubSub | None = None

    async def publish(self, batch: Sequence[Outgoing]) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for channel, payload, counter in batch:
                if counter is not None:
                    await self._numbered(keys=[counter, channel], args=[payload], client=pipe)
                else:
                    pipe.publish(channel, payload)
            await pipe.execute()

    async def send(self, channel: str, payload: bytes) -> int:
        return await self.redis.publish(channel, payload)

    async def subscribe(self, *channels: str) -> None:
        if self._pubsub is not None and channels:
            await self._pubsub.subscribe(*channels)

    async def unsubscribe(self, *channels: str) -> None:
        if self._pubsub is not None and channels:
            await self._pubsub.unsubscribe(*channels)

    async def reset(self, channels: Iterable[str]) -> None:
        await self.close()
        self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(*channels)

    async def listen(self, handler: Handler) -> None:
        pubsub = self._pubsub
        if pubsub is None:
            return
        try:
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    handler(message["channel"].decode(), message["data"])
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.warning("backplane: lost the subscription (%s)", exc)

    async def close(self) -> None:
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()
            self._pubsub = None
