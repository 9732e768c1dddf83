"""The guarded aioice workarounds: on for checked versions only, same outcomes as aioice."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator

import aioice
import pytest
from aioice import Connection, ice

import peerpyrtc
from peerpyrtc._rtc import aioice_patch as _aioice_patch

peerpyrtc.apply_patches()


def test_applied_only_to_checked_versions_and_switchable() -> None:
    on = peerpyrtc.apply_patches()
    assert on["aioice_connect"] == on["aioice_consent"] == _aioice_patch.checked()
    assert on["aioice_triggered_check"] == _aioice_patch.checked()
    assert _aioice_patch.checked() == (aioice.__version__ in _aioice_patch.CHECKED_VERSIONS)
    code = "import peerpyrtc; print(peerpyrtc.apply_patches())"
    for env, off in (
        (
            {"PEERPYRTC_AIOICE_PATCH": "0"},
            {"aioice_connect", "aioice_consent", "aioice_triggered_check"},
        ),
        ({"PEERPYRTC_NO_PATCH": "aioice_connect"}, {"aioice_connect"}),
    ):
        out = subprocess.run(
            [sys.executable, "-c", code], env={**os.environ, **env},
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        result = eval(out.stdout)
        assert {n for n in off if result[n]} == set()
        assert result["aioice_consent"] == ("aioice_consent" not in off and _aioice_patch.checked())


def either_impl(
    request: pytest.FixtureRequest, name: str, upstream: object, installed: bool
) -> Iterator[str]:
    """Run a test with the workaround for ``Connection.<name>`` and with aioice's own."""
    if request.param == "workaround" and not installed:
        pytest.skip(f"aioice {aioice.__version__}: the workaround is not installed here")
    saved = getattr(ice.Connection, name)
    if request.param == "upstream":
        setattr(ice.Connection, name, upstream)
    try:
        yield request.param
    finally:
        setattr(ice.Connection, name, saved)


@pytest.fixture(params=["workaround", "upstream"])
def connect_impl(request: pytest.FixtureRequest) -> Iterator[str]:
    yield from either_impl(
        request, "connect", _aioice_patch.UPSTREAM_CONNECT, _aioice_patch.connect_installed()
    )


async def pair() -> tuple[Connection, Connection]:
    a, b = Connection(ice_controlling=True), Connection(ice_controlling=False)
    await asyncio.gather(a.gather_candidates(), b.gather_candidates())
    for x, y in ((a, b), (b, a)):
        y.remote_username, y.remote_password = x.local_username, x.local_password
        for c in x.local_candidates:
            await y.add_remote_candidate(c)
        await y.add_remote_candidate(None)
    return a, b


async def test_two_connections_connect_and_talk(connect_impl: str) -> None:
    a, b = await pair()
    try:
        await asyncio.wait_for(asyncio.gather(a.connect(), b.connect()), 10)
        await a.send(b"hello")
        assert await asyncio.wait_for(b.recv(), 10) == b"hello"
    finally:
        await a.close()
        await b.close()


async def test_a_check_list_that_fails_still_raises(connect_impl: str) -> None:
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


class Wire(asyncio.DatagramTransport):
    """A transport that keeps what is sent."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[bytes, tuple[str, int]]] = []

    def sendto(self, data: bytes, addr: tuple[str, int]) -> None:  # type: ignore[override]
        self.sent.append((bytes(data), addr))

    def close(self) -> None:
        pass


@pytest.fixture(params=["workaround", "upstream"])
def check_incoming_impl(request: pytest.FixtureRequest) -> Iterator[str]:
    yield from either_impl(
        request, "check_incoming", _aioice_patch.UPSTREAM_CHECK_INCOMING,
        _aioice_patch.triggered_check_installed(),
    )  # fmt: skip


async def test_the_peers_check_resends_ours_in_progress_at_once(check_incoming_impl: str) -> None:
    """Our first check to the peer was lost (a TURN server without the permission yet);
    the peer's check then arrives: the workaround sends ours again now, aioice waits
    for its 500 ms timer. Everything else check_incoming does is aioice's."""
    from aioice import Candidate, stun

    conn = Connection(ice_controlling=False)
    conn.remote_username, conn.remote_password = "peer", "peer-password-0123456789"
    wire = Wire()
    protocol = ice.StunProtocol(conn)
    protocol.connection_made(wire)
    protocol.local_candidate = Candidate("f", 1, "udp", 100, "192.0.2.1", 1000, "host")
    remote = Candidate("g", 1, "udp", 100, "192.0.2.9", 2000, "relay")
    conn._protocols.append(protocol)
    conn._remote_candidates.append(remote)
    pair = ice.CandidatePair(protocol, remote)
    conn._check_list.append(pair)
    task = asyncio.ensure_future(conn.check_start(pair))
    await asyncio.sleep(0)  # the check's first request goes out
    assert len(wire.sent) == 1 and pair.state == ice.CandidatePair.State.IN_PROGRESS
    theirs = stun.Message(stun.Method.BINDING, stun.Class.REQUEST)
    theirs.attributes.update({"USERNAME": f"{conn.local_username}:peer", "PRIORITY": 100})
    conn.check_incoming(theirs, ("192.0.2.9", 2000), protocol)
    try:
        if check_incoming_impl == "workaround":
            assert len(wire.sent) == 2 and wire.sent[1] == wire.sent[0]  # the same request
        else:
            assert len(wire.sent) == 1
        assert pair.state == ice.CandidatePair.State.IN_PROGRESS  # as aioice leaves it
        assert [c.host for c in conn._remote_candidates] == ["192.0.2.9"]  # nothing learned
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)  # no socket to close: a Wire
