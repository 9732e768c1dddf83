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
from peerpyrtc import _aiortc_tuning

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
            {"PEERPYRTC_NO_PATCH": "aiortc_sack,socket_buffers"},
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
from peerpyrtc import _patches
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
    assert receiver._pc is not None
    sctp = receiver._pc.sctp
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
