"""Peers for tests: clients connected and recorded, and every envelope a client receives."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from conftest import TIMEOUT, Recorder
from peerpyrtc import (
    AsyncClient,
)


def raw_envelopes(client: AsyncClient, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every envelope the client receives, parsed (the client's typed envelopes)."""
    import peerpyrtc._client.inbound as client_module

    seen: list[Any] = []
    original = client_module.on_envelope

    def spy(session: Any, env: Any) -> None:
        if session.deliver.__self__ is client:  # this client's session
            seen.append(env)
        original(session, env)

    monkeypatch.setattr(client_module, "on_envelope", spy)
    return seen


async def connected(url: str, *ids: str) -> list[tuple[AsyncClient, Recorder]]:
    made = []
    for peer_id in ids:
        client = AsyncClient(url, "r", peer_id)
        rec = Recorder(client)
        await client.connect()
        made.append((client, rec))
    return made


async def joined(url: str, room: str, peer_id: str, **kw: Any) -> tuple[AsyncClient, Recorder]:
    client = AsyncClient(url, room, peer_id, max_reconnect_attempts=0, **kw)
    rec = Recorder(client)
    await asyncio.wait_for(client.connect(), TIMEOUT)
    return client, rec
