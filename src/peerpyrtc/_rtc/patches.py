"""The guarded workarounds to aiortc and aioice: each one named, switchable, applied explicitly.

Importing ``peerpyrtc`` changes nothing in aiortc or aioice. :func:`apply`
installs every workaround whose library version it was checked against and
whose switch is on; :class:`~peerpyrtc.AsyncSignalingManager` and
:class:`~peerpyrtc.AsyncClient` call it when they are created, and
``peerpyrtc.apply_patches()`` does the same for code that uses aiortc first.

Switches (environment): ``PEERPYRTC_NO_PATCH=name,name`` (or ``all``) leaves
those out; ``PEERPYRTC_AIOICE_PATCH=0`` and ``PEERPYRTC_AIORTC_TUNING=0``
leave out a whole group. Each workaround is tested for the same outcome as
upstream and written up for upstream (README, "Patches").
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import NamedTuple

from . import aioice_patch as _aioice_patch
from . import aiortc_tuning as _aiortc_tuning
from . import ice as _ice

__all__ = ["PATCHES", "applied", "apply"]


class Patch(NamedTuple):
    group: str
    checked: Callable[[], bool]
    install: Callable[[], None]
    installed: Callable[[], bool]
    what: str


PATCHES: dict[str, Patch] = {
    "aioice_connect": Patch(
        "aioice", _aioice_patch.checked, _aioice_patch.install_connect,
        _aioice_patch.connect_installed,
        "ICE connect returns when the check list completes, not on the next 20 ms pacing tick",
    ),
    "aioice_consent": Patch(
        "aioice", _aioice_patch.checked, _aioice_patch.install_consent,
        _aioice_patch.consent_installed, "ICE consent checks every 10 s instead of 5 s",
    ),
    "aioice_triggered_check": Patch(
        "aioice", _aioice_patch.checked, _aioice_patch.install_triggered_check,
        _aioice_patch.triggered_check_installed,
        "a check in progress is sent again when the peer's check arrives, not 500 ms later",
    ),
    "aiortc_certificate": Patch(
        "aiortc", _aiortc_tuning.checked, _aiortc_tuning.install_certificate,
        _aiortc_tuning.certificate_installed, "one DTLS certificate, renewed daily",
    ),
    "aiortc_ssl_context": Patch(
        "aiortc", _aiortc_tuning.checked, _aiortc_tuning.install_ssl_context,
        _aiortc_tuning.ssl_context_installed,
        "one OpenSSL context per certificate, idle buffers released",
    ),
    "aiortc_sack": Patch(
        "aiortc", _aiortc_tuning.checked, _aiortc_tuning.install_sack,
        _aiortc_tuning.sack_installed, "one SCTP SACK per event-loop turn",
    ),
    "aiortc_stopped_transmit": Patch(
        "aiortc", _aiortc_tuning.checked, _aiortc_tuning.install_stopped_transmit,
        _aiortc_tuning.stopped_transmit_installed,
        "nothing transmitted once an SCTP association stopped (no unretrieved task errors)",
    ),
    "socket_buffers": Patch(
        "aiortc", _aiortc_tuning.checked, _ice.enable_socket_buffers,
        _ice.socket_buffers_enabled, "4 MiB buffers on each ICE socket",
    ),
}  # fmt: skip

_GROUP_SWITCH = {"aioice": "PEERPYRTC_AIOICE_PATCH", "aiortc": "PEERPYRTC_AIORTC_TUNING"}


def switched_off(name: str) -> bool:
    patch = PATCHES[name]
    if os.environ.get(_GROUP_SWITCH[patch.group], "1") == "0":
        return True
    off = {n.strip() for n in os.environ.get("PEERPYRTC_NO_PATCH", "").split(",")}
    return name in off or "all" in off


def apply() -> dict[str, bool]:
    """Install every checked, switched-on workaround (idempotent); returns :func:`applied`."""
    for name, patch in PATCHES.items():
        if not patch.installed() and not switched_off(name) and patch.checked():
            patch.install()
    return applied()


def applied() -> dict[str, bool]:
    """``{name: installed}`` for every workaround."""
    return {name: patch.installed() for name, patch in PATCHES.items()}
