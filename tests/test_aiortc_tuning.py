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

from peerpyrtc import _aiortc_tuning

pytestmark = pytest.mark.skipif(
    not _aiortc_tuning.applied(), reason=f"aiortc {aiortc.__version__} is not a checked version"
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
    code = "import peerpyrtc._aiortc_tuning as t, peerpyrtc; print(t.applied())"
    env = {**os.environ, "PEERPYRTC_AIORTC_TUNING": "0"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


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
