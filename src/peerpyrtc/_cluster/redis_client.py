"""The part of redis-py's asyncio client the cluster layer uses, as typed protocols.

redis-py's own annotations make every command ``Awaitable | Any``; these say what our code
relies on (bytes replies: ``decode_responses=False``), so mypy checks the cluster layer.
``redis.asyncio.Redis`` satisfies :class:`RedisClient`; tests may pass any object that does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Sequence
from types import TracebackType
from typing import Any, Protocol, cast

__all__ = ["Pipeline", "PubSub", "RedisClient", "Script", "connect"]

Value = bytes | str | int | float


class Script(Protocol):
    """A registered Lua script (EVALSHA, falling back to EVAL)."""

    async def __call__(
        self,
        keys: Sequence[Value] | None = None,
        args: Sequence[Value] | None = None,
        client: Any = None,
    ) -> Any: ...


class Pipeline(Protocol):
    """Commands queued and sent in one round trip (``transaction=False``)."""

    async def __aenter__(self) -> Pipeline: ...

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def set(self, name: str, value: Value, *, px: int | None = None, nx: bool = False) -> Any: ...

    def get(self, name: str) -> Any: ...

    def sadd(self, name: str, *values: Value) -> Any: ...

    def publish(self, channel: str, message: Value) -> Any: ...

    async def execute(self) -> list[Any]: ...


class PubSub(Protocol):
    async def subscribe(self, *channels: str) -> None: ...

    async def unsubscribe(self, *channels: str) -> None: ...

    def listen(self) -> AsyncIterator[dict[str, Any]]: ...

    async def aclose(self) -> None: ...


class RedisClient(Protocol):
    def ping(self) -> Awaitable[bool]: ...

    def get(self, name: str) -> Awaitable[bytes | None]: ...

    def hget(self, name: str, key: str) -> Awaitable[bytes | None]: ...

    def delete(self, *names: str) -> Awaitable[int]: ...

    def exists(self, *names: str) -> Awaitable[int]: ...

    def sadd(self, name: str, *values: Value) -> Awaitable[int]: ...

    def srem(self, name: str, *values: Value) -> Awaitable[int]: ...

    def scard(self, name: str) -> Awaitable[int]: ...

    def smembers(self, name: str) -> Awaitable[set[bytes]]: ...

    def publish(self, channel: str, message: Value) -> Awaitable[int]: ...

    def pipeline(self, transaction: bool = True) -> Pipeline: ...

    def register_script(self, script: str) -> Script: ...

    def pubsub(self, *, ignore_subscribe_messages: bool = False) -> PubSub: ...

    def aclose(self) -> Awaitable[None]: ...


def connect(url: str) -> RedisClient:
    """A client for ``url`` (``pip install 'peerpyrtc[redis]'``), with bounded timeouts."""
    try:
        import redis.asyncio as aioredis
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the Redis backplane needs redis-py: pip install 'peerpyrtc[redis]'"
        ) from exc
    client = aioredis.Redis.from_url(
        url, socket_connect_timeout=2, socket_timeout=5, retry_on_timeout=False
    )
    # redis-py types replies as ``bytes | str`` for both decode modes; without
    # decode_responses they are bytes, which is what RedisClient says
    return cast(RedisClient, client)
