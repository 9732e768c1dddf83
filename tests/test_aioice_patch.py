"""The guarded aioice connect workaround: on for checked versions, same outcomes as aioice."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import aioice
import pytest
from aioice import Connection

from peerpyrtc import _aioice_patch


def test_applied_only_to_checked_versions() -> None:
    assert _aioice_patch.applied() == (aioice.__version__ in _aioice_patch.CHECKED_VERSIONS)
    code = "import peerpyrtc._aioice_patch as p, peerpyrtc; print(p.applied())"
    env = {**os.environ, "PEERPYRTC_AIOICE_PATCH": "0"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


async def pair() -> tuple[Connection, Connection]:
    a, b = Connection(ice_controlling=True), Connection(ice_controlling=False)
    await asyncio.gather(a.gather_candidates(), b.gather_candidates())
    for x, y in ((a, b), (b, a)):
        y.remote_username, y.remote_password = x.local_username, x.local_password
        for c in x.local_candidates:
            await y.add_remote_candidate(c)
        await y.add_remote_candidate(None)
    return a, b


async def test_two_connections_connect_and_talk() -> None:
    a, b = await pair()
    try:
        await asyncio.wait_for(asyncio.gather(a.connect(), b.connect()), 10)
        await a.send(b"hello")
        assert await asyncio.wait_for(b.recv(), 10) == b"hello"
    finally:
        await a.close()
        await b.close()


async def test_a_check_list_that_fails_still_raises() -> None:
    a = Connection(ice_controlling=True)
    await a.gather_candidates()
    a.remote_username, a.remote_password = "user", "password-password"
    # end-of-candidates with no candidate at all: nothing to check, so it fails at once
    await a.add_remote_candidate(None)
    try:
        with pytest.raises(ConnectionError, match="ICE negotiation failed"):
            await asyncio.wait_for(a.connect(), 10)
    finally:
        await a.close()
