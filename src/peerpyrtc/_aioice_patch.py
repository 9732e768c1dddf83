"""Small, guarded workarounds for aioice: ICE connect pacing, and consent check frequency.

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
]

logger = logging.getLogger(__name__)

#: aioice versions whose ``Connection.connect`` this was written against. Older ones name
#: the internals differently (``check_periodic``, no ``_pair_remote_candidate``): there the
#: workaround broke every connection (aioice 0.10.2, which Python 3.10 resolves), so it is
#: refused both by version and by a check of the names it calls.
CHECKED_VERSIONS = frozenset({"0.13.0"})
_NEEDS = ("_check_periodic", "_pair_remote_candidate", "_unfreeze_initial", "query_consent")
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


def consent_installed() -> bool:
    return bool(ice.CONSENT_INTERVAL == CONSENT_INTERVAL)
