"""Server hooks: handlers (async, sync, raising), named events and moderation."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

import pytest

from conftest import TIMEOUT, Join
from peerpyrtc import AsyncSignalingManager, Message


async def test_async_and_sync_handlers_see_messages_joins_and_leaves(
    join: Join, manager: AsyncSignalingManager
) -> None:
    seen: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()

    @manager.message_handler
    async def on_message(room: str, peer_id: str, message: str) -> None:
        seen.put_nowait(("async-message", room, peer_id, message))

    @manager.message_handler
    def on_message_sync(room: str, peer_id: str, message: str) -> None:
        seen.put_nowait(("sync-message", room, peer_id, message))

    @manager.peer_joined_handler
    async def joined(room: str, peer_id: str, info: dict[str, Any]) -> None:
        seen.put_nowait(("joined", room, peer_id, info["isHost"]))

    @manager.peer_left_handler
    def left(room: str, peer_id: str, info: dict[str, Any]) -> None:
        seen.put_nowait(("left", room, peer_id, info["id"]))

    @manager.on("move")
    async def move(room: str, sender: str, data: Any) -> None:
        seen.put_nowait(("move", room, sender, data))

    async def next_of(kind: str) -> tuple[Any, ...]:
        while True:
            item = await asyncio.wait_for(seen.get(), TIMEOUT)
            if item[0] == kind:
                return item

    a, _ = await join("r", "alice")
    assert await next_of("joined") == ("joined", "r", "alice", True)
    b, _ = await join("r", "bob")
    assert await next_of("joined") == ("joined", "r", "bob", False)
    await a.send_message("hi")
    assert await next_of("sync-message") == ("sync-message", "r", "alice", "hi")
    assert await next_of("async-message") == ("async-message", "r", "alice", "hi")
    await a.emit("move", {"x": 1})
    assert await next_of("move") == ("move", "r", "alice", {"x": 1})
    await b.broadcast("move", 2)
    assert await next_of("move") == ("move", "r", "bob", 2)
    await b.close()
    assert await next_of("left") == ("left", "r", "bob", "bob")


async def test_a_raising_handler_is_logged_and_the_relay_goes_on(
    join: Join, manager: AsyncSignalingManager, caplog: pytest.LogCaptureFixture
) -> None:
    @manager.message_handler
    def broken(room: str, peer_id: str, message: str) -> None:
        raise RuntimeError("sync boom")

    @manager.message_handler
    async def broken_async(room: str, peer_id: str, message: str) -> None:
        raise RuntimeError("async boom")

    a, _ = await join("r", "alice")
    b, rb = await join("r", "bob")
    with caplog.at_level(logging.ERROR, logger="peerpyrtc"):
        await a.send_message("one")
        await a.send_message("two")
        assert await rb.messages(2) == [("alice", "one", None), ("alice", "two", None)]
        await manager.hooks.settle()  # the async handler's task
    assert "sync boom" in caplog.text and "async boom" in caplog.text


async def test_moderation_drops_and_rewrites(join: Join, manager: AsyncSignalingManager) -> None:
    @manager.before_relay
    async def moderate(message: Message) -> Message | None:
        if message.kind == "message" and "spam" in message.data:
            return None
        if message.kind == "message":
            return dataclasses.replace(message, data=message.data.replace("darn", "d**n"))
        return message

    a, _ = await join("r", "alice")
    b, rb = await join("r", "bob")
    await a.send_message("buy spam now")
    await a.send_message("oh darn")
    await a.emit("e", {"kept": True})
    await a.broadcast("b", "bcast kept")
    got = await rb.messages(3)
    assert got == [
        ("alice", "oh d**n", None),
        ("alice", {"kept": True}, "e"),
        ("alice", "bcast kept", "b"),
    ]


async def test_sync_moderation_hook_and_handler_see_the_rewrite(
    join: Join, manager: AsyncSignalingManager
) -> None:
    seen: asyncio.Queue[str] = asyncio.Queue()

    @manager.before_relay
    def upper(message: Message) -> Message:
        return dataclasses.replace(message, data=str(message.data).upper())

    @manager.message_handler
    def record(room: str, peer_id: str, message: str) -> None:
        seen.put_nowait(message)

    a, _ = await join("r", "alice")
    b, rb = await join("r", "bob")
    await a.send_message("quiet")
    assert await rb.expect("message") == ("alice", "QUIET", None)
    assert await asyncio.wait_for(seen.get(), TIMEOUT) == "QUIET"


async def test_a_raising_moderation_hook_drops_only_that_message(
    join: Join, manager: AsyncSignalingManager, caplog: pytest.LogCaptureFixture
) -> None:
    @manager.before_relay
    def picky(message: Message) -> Message:
        if message.data == "bad":
            raise ValueError("no")
        return message

    a, _ = await join("r", "alice")
    b, rb = await join("r", "bob")
    with caplog.at_level(logging.ERROR, logger="peerpyrtc"):
        await a.send_message("bad")
        await a.send_message("good")
        assert await rb.expect("message") == ("alice", "good", None)
    assert "moderation hook" in caplog.text
