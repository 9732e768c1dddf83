"""A peer's life in its room: what a leaver was, and the ids peers may have."""

from __future__ import annotations

from typing import Any

import pytest

from peerpyrtc import (
    InvalidRequest,
    Limits,
)
from peers import joined


async def test_a_leaving_host_is_reported_as_host(make_server: Any) -> None:
    server, _ = await make_server()
    host, _ = await joined(server.url, "r", "host")
    other, ro = await joined(server.url, "r", "other")
    try:
        await host.close()
        left = await ro.expect("left")
        assert left["id"] == "host" and left["isHost"] is True and other.is_host
    finally:
        await other.close()


def test_ids_are_ascii() -> None:
    from peerpyrtc._limits import validate_id

    for bad in ("\u0430lice", "\u0455erver", "bob\u200b", "\uff41", "é"):
        with pytest.raises(InvalidRequest, match="ASCII"):
            validate_id(bad, "peer_id", Limits())
    assert validate_id("peer-x.y:z@w~1+2_3", "peer_id", Limits())
