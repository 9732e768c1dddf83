"""PeerPyRTC: real-time rooms over WebRTC DataChannels for Python backends.

The public surface is exactly ``__all__``; everything in ``_``-modules is private.
"""

from __future__ import annotations

import logging

from ._client.client import AsyncClient
from ._core.hooks import Message
from ._errors import (
    ClientError,
    ConnectionFailed,
    Forbidden,
    IceServerError,
    InvalidRequest,
    NotConnected,
    PayloadTooLarge,
    PeerIdTaken,
    PeerPyRTCError,
    ProtocolError,
    RateLimited,
    RoomFull,
    ServerRefusal,
    SignalingError,
    Unauthorized,
    Unavailable,
    UnknownPeer,
    UnsupportedMediaType,
)
from ._limits import Limits
from ._manager import AsyncSignalingManager
from ._options import ServerOptions
from ._rooms.metrics import Stats
from ._rtc import patches as _patches
from ._sync import SignalingManager
from ._version import __version__
from ._web.routes import dispatch
from ._web.server import SignalingServer, start_server
from ._web.static import client_dir
from ._wire.protocol import PROTOCOL_VERSION

__all__ = [
    "PROTOCOL_VERSION",
    "AsyncClient",
    "AsyncSignalingManager",
    "ClientError",
    "ConnectionFailed",
    "Forbidden",
    "IceServerError",
    "InvalidRequest",
    "Limits",
    "Message",
    "NotConnected",
    "PayloadTooLarge",
    "PeerIdTaken",
    "PeerPyRTCError",
    "ProtocolError",
    "RateLimited",
    "RoomFull",
    "ServerOptions",
    "ServerRefusal",
    "SignalingError",
    "SignalingManager",
    "SignalingServer",
    "Stats",
    "Unauthorized",
    "Unavailable",
    "UnknownPeer",
    "UnsupportedMediaType",
    "__version__",
    "apply_patches",
    "client_dir",
    "dispatch",
    "start_server",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())


def apply_patches() -> dict[str, bool]:
    """Install the guarded aiortc/aioice workarounds now; returns ``{name: installed}``.

    Managers and clients do this when they are created; importing peerpyrtc
    does not. Switches: ``PEERPYRTC_NO_PATCH=name,...`` (README, "Patches").
    """
    return _patches.apply()
