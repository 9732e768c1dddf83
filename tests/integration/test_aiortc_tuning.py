"""The guarded DTLS tuning: one certificate and context shared, renewed, and switchable off."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import aiortc
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.rtcdtlstransport import SRTP_PROFILES, RTCCertificate

import peerpyrtc
from conftest import until
from peerpyrtc._rtc import aiortc_tuning as _aiortc_tuning

peerpyrtc.apply_patches()
pytestmark = pytest.mark.skipif(
    not _aiortc_tuning.checked(), reason=f"aiortc {aiortc.__version__} is not a checked version"
)


async def test_peer_connections_share_one_certificate_and_context() -> None:
    pcs = [RTCPeerConnection(RTCConfiguration(iceServers=[])) for _ in range(3)]
    try:
        certificates = [pc._RTCPeerConnection__certificates[0] for pc in pcs]  # type: ignore[attr-defined]
        fingerprints = {c.getFingerprints()[0].value for c in certificates}
        assert len(fingerprints) == 1
        cert = RTCCertificate.generateCertificate()
        context = cert._create_ssl_context(srtp_profiles=SRTP_PROFILES)
        assert context is cert._create_ssl_context(srtp_profiles=SRTP_PROFILES)
    finally:
        for pc in pcs:
            await pc.close()


def test_the_certificate_is_renewed(monkeypatch: pytest.MonkeyPatch) -> None:
    first = RTCCertificate.generateCertificate()
    monkeypatch.setattr(_aiortc_tuning, "CERTIFICATE_LIFETIME", -1.0)
    second = RTCCertificate.generateCertificate()
    assert first is not second
    assert first.getFingerprints()[0].value != second.getFingerprints()[0].value


def test_switched_off_by_environment() -> None:
    code = "import peerpyrtc; p = peerpyrtc.apply_patches(); print(sorted(n for n in p if p[n]))"
    for env, expected in (
        ({"PEERPYRTC_AIORTC_TUNING": "0"}, []),
        (
            {"PEERPYRTC_NO_PATCH": "aiortc_sack,socket_buffers,aiortc_stopped_transmit"},
            ["aiortc_certificate", "aiortc_ssl_context"],
        ),
    ):
        out = subprocess.run(
            [sys.executable, "-c", code], env={**os.environ, "PEERPYRTC_AIOICE_PATCH": "0", **env},
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert out.stdout.strip() == str(expected)


def test_importing_changes_nothing_creating_a_manager_applies_each_patch() -> None:
    code = """
import aioice.ice, aiortc
from aiortc.rtcdtlstransport import RTCCertificate
from aiortc.rtcsctptransport import RTCSctpTransport
before = (aioice.ice.Connection.connect, aioice.ice.CONSENT_INTERVAL,
          RTCCertificate._create_ssl_context, RTCSctpTransport._handle_data,
          RTCCertificate.generateCertificate.__func__)
import peerpyrtc
from peerpyrtc._rtc import patches as _patches
same = before == (aioice.ice.Connection.connect, aioice.ice.CONSENT_INTERVAL,
                  RTCCertificate._create_ssl_context, RTCSctpTransport._handle_data,
                  RTCCertificate.generateCertificate.__func__)
print(same, not any(_patches.applied().values()))
peerpyrtc.AsyncSignalingManager()
after = _patches.applied()
print(all(after[n] == p.checked() for n, p in _patches.PATCHES.items()),
      RTCSctpTransport._handle_data is not before[3],
      (aioice.ice.Connection.connect is not before[0]) == _patches.PATCHES["aioice_connect"].checked())
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True", "True", "True", "True"], out.stdout


async def test_sacks_are_coalesced_per_loop_turn(join: Any) -> None:
    """A burst arrives as many packets; the receiver acknowledges them in far fewer SACKs."""
    sender, _ = await join("room", "sender")
    receiver, rec = await join("room", "receiver")
    assert receiver.connection is not None
    sctp = receiver.connection.pc.sctp
    counts = {"packets": 0, "sacks": 0}
    handle, send_sack = sctp._handle_data, sctp._send_sack

    async def counting_handle(data: bytes) -> None:
        counts["packets"] += 1
        await handle(data)

    async def counting_sack() -> None:
        counts["sacks"] += 1
        await send_sack()

    sctp._handle_data, sctp._send_sack = counting_handle, counting_sack
    for i in range(3000):
        await sender.send_message(f"{i}:" + "x" * 200)
    got = await rec.messages(3000)
    assert [int(m[1].split(":")[0]) for m in got] == list(range(3000))  # nothing lost or reordered
    assert counts["packets"] > 100
    assert counts["sacks"] < counts["packets"] * 0.8, counts


def _unretrieved(loop: Any) -> list[Any]:
    seen: list[Any] = []
    loop.set_exception_handler(lambda _, context: seen.append(context.get("exception")))
    return seen


async def test_a_transmit_left_behind_by_a_timer_sends_nothing_after_stop(
    join: Any, manager: Any
) -> None:
    """A T3 timer that fired just before the association stopped left a ``_transmit`` task:
    upstream sends during the DTLS shutdown and the task's error is never retrieved."""
    import asyncio
    import gc

    from peerpyrtc._rtc.patches import switched_off

    assert _aiortc_tuning.stopped_transmit_installed() or switched_off("aiortc_stopped_transmit")
    loop = asyncio.get_running_loop()
    seen = _unretrieved(loop)
    try:
        server_peer = await _server_peer(join, manager)
        sctp = server_peer.link.pc.sctp
        server_peer.channel.send("x" * 1000)  # in flight: the timer has something to resend
        await asyncio.sleep(0)
        sends = _count_sends(sctp)
        await sctp.stop()
        before = sends["n"]
        sctp._t3_expired()
        await server_peer.link.pc.close()
        # the task the timer left runs to its end (awaited here it would be retrieved)
        await until(lambda: not [t for t in asyncio.all_tasks() if not t.done()
                                 and getattr(t.get_coro(), "__qualname__", "").endswith("_transmit")])  # fmt: skip
        gc.collect()
        await asyncio.sleep(0)
        assert seen == [] and sends["n"] == before  # nothing went out after stop()
    finally:
        loop.set_exception_handler(None)


async def test_an_open_association_transmits_as_upstream(join: Any, manager: Any) -> None:
    """The same sends as upstream's ``_transmit`` while open, and its errors still raise."""

    from aiortc.rtcsctptransport import RTCSctpTransport

    server_peer = await _server_peer(join, manager)
    sctp = server_peer.link.pc.sctp
    results = []
    for transmit in (_aiortc_tuning._transmit, _aiortc_tuning._stopped_transmit):
        sends = _count_sends(sctp)
        sctp._transmit = transmit.__get__(sctp, RTCSctpTransport)
        for _ in range(5):
            server_peer.channel.send("y" * 3000)
        await until(
            lambda s=sends: s["n"] > 0 and not sctp._outbound_queue and not sctp._sent_queue
        )
        results.append(sends["n"])
    del sctp._transmit
    assert results[0] == results[1] > 0

    async def broken(data: bytes) -> None:
        raise ConnectionError("the wire broke")

    sctp.transport._send_data = broken
    server_peer.channel.send("z")
    with pytest.raises(ConnectionError):  # open and connected: not ours to hide
        await sctp._data_channel_flush()  # (its transmit is the patched one)
    del sctp.transport._send_data


def _count_sends(sctp: Any) -> dict[str, int]:
    sends = {"n": 0}
    original = sctp._send_chunk

    async def counting(chunk: Any) -> None:
        sends["n"] += 1
        await original(chunk)

    sctp._send_chunk = counting
    return sends


async def _server_peer(join: Any, manager: Any) -> Any:
    await join("r", "alice")
    (peer,) = manager.peers.active.values()
    return peer
