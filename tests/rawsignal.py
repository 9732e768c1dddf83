"""Raw signalling for tests that speak HTTP to the server directly: a real offer's SDP,
this machine's own address, a JSON POST."""

from __future__ import annotations

import json
from typing import Any

from aiortc import RTCPeerConnection

from conftest import http_request


async def offer_sdp() -> str:
    pc = RTCPeerConnection()
    pc.createDataChannel("peerpyrtc")
    await pc.setLocalDescription(await pc.createOffer())
    sdp: str = pc.localDescription.sdp
    await pc.close()
    return sdp


async def local_address() -> str:
    """This machine's own IPv4 address (from aiortc's gathering): candidates in these tests
    point here, never at anyone else's host."""
    for line in (await offer_sdp()).splitlines():
        bits = line.split()
        if line.startswith("a=candidate:") and "." in bits[4]:
            return bits[4]
    raise AssertionError("no IPv4 host candidate gathered")


async def post(url: str, path: str, payload: Any) -> tuple[int, Any]:
    status, _, body = await http_request(url + path, "POST", json.dumps(payload).encode())
    return status, json.loads(body)
