"""TURN for ``AsyncClient``: which TURN URL aiortc gets, and why a TURN server gave nothing.

aiortc (all versions to date) uses one STUN and one TURN URL per peer connection: the
first of each in the configuration. A server may hand out several (UDP, TCP, TLS), and
on a network that drops UDP only the TCP or TLS one works. So the client ranks them by
a quick probe (:func:`rank_turn`), puts one TURN URL first per attempt, and when an
attempt fails moves on to the next (:func:`turn_first`).

When a TURN URL was configured but gave no relay candidate, :func:`diagnose` allocates
once more by hand to say why, as an :class:`~peerpyrtc.IceServerError` whose ``code`` is
``ERR_TURN_AUTH`` (401/403/431: wrong, forged or expired credentials),
``ERR_ICE_SERVER_UNREACHABLE`` (no answer, refused, TLS failure) or ``ERR_ICE_SERVER``.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Any

from aioice import stun, turn
from aiortc import RTCIceServer
from aiortc.rtcicetransport import parse_stun_turn_uri

from .._errors import IceServerError
from .._rtc.ice import IceServerPool, _urls

__all__ = ["diagnose", "first_turn", "rank_turn", "turn_first", "turn_urls"]

logger = logging.getLogger(__name__)

AUTH_FAILURES = frozenset({401, 403, 431})
DIAGNOSE_TIMEOUT = 3.0
#: How long a TURN URL may take to answer the ranking probe.
RANK_TIMEOUT = 0.5


def _usable(url: str) -> bool:
    """A TURN URL aiortc would use (it skips other transports)."""
    try:
        parsed = parse_stun_turn_uri(url)
    except ValueError:
        return False
    if parsed["scheme"] == "turn":
        return bool(parsed["transport"] in ("udp", "tcp"))
    return bool(parsed["scheme"] == "turns" and parsed["transport"] == "tcp")


def turn_urls(servers: list[RTCIceServer]) -> list[tuple[RTCIceServer, str]]:
    """Every TURN URL aiortc could use, in order, with the server it belongs to."""
    return [(server, url) for server in servers for url in _urls(server) if _usable(url)]


def turn_first(servers: list[RTCIceServer], choice: int) -> list[RTCIceServer]:
    """The servers, with the ``choice``-th usable TURN URL (modulo their number) first."""
    urls = turn_urls(servers)
    if not urls:
        return servers
    server, url = urls[choice % len(urls)]
    first = RTCIceServer(urls=url, username=server.username, credential=server.credential)
    return [first, *servers]


async def rank_turn(servers: list[RTCIceServer]) -> list[RTCIceServer]:
    """With several TURN URLs: the ones that answer a probe (a TCP connect for TCP and TLS,
    a STUN request over UDP, all at once, at most :data:`RANK_TIMEOUT`) go first, each
    as a server of its own, in their order; the rest after them. So a network that drops
    UDP costs half a second here instead of a failed attempt (5 s of gathering) per URL.
    """
    urls = turn_urls(servers)
    if len(urls) < 2:
        return servers
    pool = IceServerPool([RTCIceServer(urls=url) for _, url in urls], probe_timeout=RANK_TIMEOUT)
    try:
        answered = {str(s.urls) for s in await pool.usable()}
    finally:
        await pool.close()
    ranked = sorted(urls, key=lambda pair: pair[1] not in answered)  # stable: order kept
    turn = [
        RTCIceServer(urls=url, username=s.username, credential=s.credential) for s, url in ranked
    ]
    others = [RTCIceServer(urls=[u for u in _urls(s) if not _usable(u)], username=s.username,
                           credential=s.credential) for s in servers]  # fmt: skip
    return turn + [s for s in others if s.urls]


def first_turn(servers: list[RTCIceServer]) -> tuple[RTCIceServer, str] | None:
    """The TURN URL aiortc will use, if any."""
    urls = turn_urls(servers)
    return urls[0] if urls else None


async def diagnose(server: RTCIceServer, url: str) -> IceServerError | None:
    """Allocate on ``url`` by hand: why it gives no relay candidate (None: it works now)."""
    parsed = parse_stun_turn_uri(url)
    address = (parsed["host"], parsed["port"])
    try:
        transport, _ = await asyncio.wait_for(
            turn.create_turn_endpoint(
                asyncio.DatagramProtocol,
                server_addr=address,
                username=server.username,
                password=server.credential,
                ssl=parsed["scheme"] == "turns",
                transport=parsed["transport"],
            ),
            DIAGNOSE_TIMEOUT,
        )
    except stun.TransactionFailed as exc:
        status, reason = _error_code(exc.response)
        code = "ERR_TURN_AUTH" if status in AUTH_FAILURES else "ERR_ICE_SERVER"
        what = "refused the credentials" if code == "ERR_TURN_AUTH" else "refused the allocation"
        return IceServerError(code, f"TURN server {url} {what}: {status} {reason}", url, status)
    except (asyncio.TimeoutError, stun.TransactionTimeout):
        why = f"TURN server {url} did not answer within {DIAGNOSE_TIMEOUT:.0f}s"
        return IceServerError("ERR_ICE_SERVER_UNREACHABLE", why, url)
    except ssl.SSLError as exc:
        why = f"TURN server {url}: TLS failed: {exc.reason or exc}"
        return IceServerError("ERR_ICE_SERVER_UNREACHABLE", why, url)
    except (OSError, ConnectionError) as exc:
        why = f"TURN server {url} cannot be reached: {exc}"
        return IceServerError("ERR_ICE_SERVER_UNREACHABLE", why, url)
    transport.close()
    return None


def _error_code(response: Any) -> tuple[int | None, str]:
    value = response.attributes.get("ERROR-CODE")
    if isinstance(value, tuple) and len(value) == 2:
        return int(value[0]), str(value[1])
    return None, "no error code"
