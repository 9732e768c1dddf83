"""ICE servers for clients, with short-lived TURN credentials (coturn's TURN REST scheme).

The server is configured once (``ice_servers``, ``turn_secret``, ``turn_urls``); each
client asks ``POST /ice`` before it creates its peer connection. STUN entries are handed
out as they are; TURN is handed out only as credentials minted for that client:
username ``<expiry unix time>:<peer id>``, password base64(HMAC-SHA1(secret, username)),
which coturn checks with ``use-auth-secret`` / ``static-auth-secret``. The secret never
leaves the server; a minted credential stops working after ``turn_ttl`` seconds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Iterable
from typing import Any

from aiortc import RTCIceServer
from aiortc.rtcicetransport import parse_stun_turn_uri

__all__ = ["TurnCredentials", "client_ice_servers"]


class TurnCredentials:
    """Mints coturn REST credentials for a shared secret and the TURN URLs clients use."""

    def __init__(self, secret: str, urls: Iterable[str], ttl: int = 600) -> None:
        if not isinstance(secret, str) or len(secret) < 16:
            raise ValueError("turn_secret must be a string of at least 16 characters")
        self.urls = list(urls)
        if not self.urls:
            raise ValueError("turn_secret needs turn_urls (turn:host:3478?transport=udp, ...)")
        for url in self.urls:
            if not url.startswith(("turn:", "turns:")):
                raise ValueError(f"{url!r} is not a turn: or turns: URL")
            parse_stun_turn_uri(url)
        if not 60 <= ttl <= 86400:
            raise ValueError("turn_ttl must be between 60 and 86400 seconds")
        self._secret = secret.encode()
        self.ttl = ttl

    def mint(self, peer_id: str, now: float | None = None) -> dict[str, Any]:
        """``{"urls", "username", "credential"}`` valid for ``ttl`` seconds."""
        expiry = int(now if now is not None else time.time()) + self.ttl
        username = f"{expiry}:{peer_id}"
        digest = hmac.new(self._secret, username.encode(), hashlib.sha1).digest()
        return {
            "urls": self.urls,
            "username": username,
            "credential": base64.b64encode(digest).decode(),
        }


def client_ice_servers(
    configured: list[RTCIceServer], turn: TurnCredentials | None, peer_id: str
) -> list[dict[str, Any]]:
    """What one client gets: the configured servers that carry no secret, and its own TURN."""
    servers: list[dict[str, Any]] = []
    for server in configured:
        urls = [server.urls] if isinstance(server.urls, str) else list(server.urls)
        stun = [u for u in urls if u.startswith(("stun:", "stuns:"))]
        if stun and not server.credential:  # a static TURN credential is never handed out
            servers.append({"urls": stun})
    if turn is not None:
        servers.append(turn.mint(peer_id))
    return servers
