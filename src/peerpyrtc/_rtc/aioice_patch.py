"""Small, guarded workarounds for aioice: ICE connect pacing, consent check frequency, and
triggered checks on a pair already in progress.

aioice's ``Connection.connect`` paces connectivity checks with a 20 ms timer
(RFC 8445's Ta) and only starts waiting for the check list's result once the
pacing loop has nothing left to start. So a connection that succeeds on its
first check still waits for the next tick, or for every remaining pair to be
started: about 20 ms on each side of every connection, most of a Python
client's connect time.

This runs the same pacing loop as a background task and returns as soon as
the check list completes (or fails). Checks are started exactly as before.
The fix belongs upstream; until then it is applied (by ``_patches``, never on
import) only to the aioice versions it was checked against.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aioice
from aioice import ice

__all__ = [
    "CHECKED_VERSIONS",
    "UPSTREAM_CONNECT",
    "checked",
    "connect_installed",
    "consent_installed",
    "install_connect",
    "install_consent",
    "install_triggered_check",
    "triggered_check_installed",
]

logger = logging.getLogger(__name__)

#: aioice versions whose ``Connection.connect`` this was written against. Older ones name
#: the internals differently (``check_periodic``, no ``_pair_remote_candidate``): there the
#: workaround broke every connection (aioice 0.10.2, which Python 3.10 resolves), so it is
#: refused both by version and by a check of the names it calls.
CHECKED_VERSIONS = frozenset({"0.13.0"})
_NEEDS = ("_check_periodic", "_pair_remote_candidate", "_unfreeze_initial", "query_consent",
          "check_incoming")  # fmt: skip
#: aioice's own ``Connection.connect``, for the equivalence tests.
UPSTREAM_CONNECT = ice.Connection.connect
#: Seconds between consent checks (aioice: 5).
CONSENT_INTERVAL = 10


async def _connect(self: Any) -> None:
    """``aioice.Connection.connect`` with the pacing loop running beside the wait."""
    if not self._local_candidates_end:
        raise ConnectionError("Local candidates gathering was not performed")
    if self.remote_username is None or self.remote_password is None:
        raise ConnectionError("Remote username or password is missing")

    for remote_candidate in self._remote_candidates:
        self._pair_remote_candidate(remote_candidate)
    self.sort_check_list()
    self._unfreeze_initial()
    for early_check in self._early_checks:
        self.check_incoming(*early_check)
    self._early_checks.clear()
    self._early_checks_done = True

    async def pace() -> None:
        while self._check_periodic():  # noqa: ASYNC110 - the RFC's Ta timer, as in aioice
            await asyncio.sleep(0.02)

    pacer = asyncio.ensure_future(pace())
    result = asyncio.ensure_future(self._check_list_state.get())
    try:
        await asyncio.wait({pacer, result}, return_when=asyncio.FIRST_COMPLETED)
        if not result.done():  # pacing ended: nothing more to start
            if self._check_list:
                await result
            else:
                result.cancel()
        res = result.result() if result.done() and not result.cancelled() else ice.ICE_FAILED
    finally:
        pacer.cancel()
        result.cancel()
        await asyncio.gather(pacer, result, return_exceptions=True)

    for check in self._check_list:
        if check.task:
            check.task.cancel()
    if res != ice.ICE_COMPLETED:
        raise ConnectionError("ICE negotiation failed")
    self._query_consent_task = asyncio.create_task(self.query_consent())


#: aioice's own ``Connection.check_incoming``, for the equivalence tests.
UPSTREAM_CHECK_INCOMING = ice.Connection.check_incoming


def _check_incoming(self: Any, message: Any, addr: tuple[str, int], protocol: Any) -> None:
    """``aioice.Connection.check_incoming``, after sending again a check of ours that is
    still in progress on the same pair.

    The peer's check just arrived over that path, so it works now; our request may have
    been lost before it did (a TURN server drops it until the peer's permission exists, a
    NAT until the peer sent out). aioice leaves it to the retransmission timer: 500 ms
    more on every such connection. RFC 8445 section 7.3.1.4 asks for a new check at
    once; sending the same request again (same transaction) has that effect.
    """
    for pair in self._check_list:
        if pair.protocol is protocol and pair.remote_addr == (addr[0], addr[1]):
            if pair.state == ice.CandidatePair.State.IN_PROGRESS:
                for transaction in list(protocol.transactions.values()):
                    if getattr(transaction, "_Transaction__addr", None) == pair.remote_addr:
                        request = getattr(transaction, "_Transaction__request", None)
                        if request is not None:
                            protocol.send_stun(request, pair.remote_addr)
            break
    UPSTREAM_CHECK_INCOMING(self, message, addr, protocol)


def checked() -> bool:
    """True for an aioice this was checked against (by version, and by the names it calls)."""
    version = getattr(aioice, "__version__", "")
    return version in CHECKED_VERSIONS and all(hasattr(ice.Connection, n) for n in _NEEDS)


def install_connect() -> None:
    ice.Connection.connect = _connect  # type: ignore[method-assign]


def connect_installed() -> bool:
    return ice.Connection.connect is _connect


def install_consent() -> None:
    """Consent checks every 10 s instead of 5.

    Consent freshness (RFC 7675) checks every 5 s cost a STUN round trip per peer on
    both sides, a third of an idle relay's CPU. The relay's own heartbeat drops a peer
    after 8 s of silence, long before consent would expire, so 10 s loses nothing.
    """
    ice.CONSENT_INTERVAL = CONSENT_INTERVAL


def install_triggered_check() -> None:
    ice.Connection.check_incoming = _check_incoming  # type: ignore[method-assign]


def triggered_check_installed() -> bool:
    return ice.Connection.check_incoming is _check_incoming


def consent_installed() -> bool:
    return bool(ice.CONSENT_INTERVAL == CONSENT_INTERVAL)
