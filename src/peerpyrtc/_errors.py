"""Every exception PeerPyRTC raises, under one root class.

Each class carries the HTTP ``status`` an adapter should answer with, so the
framework adapters (and users' own routes) map errors without a lookup table.
"""

from __future__ import annotations

__all__ = [
    "ConnectionFailed",
    "Forbidden",
    "IceServerError",
    "InvalidRequest",
    "NotConnected",
    "PayloadTooLarge",
    "PeerIdTaken",
    "PeerPyRTCError",
    "ProtocolError",
    "RateLimited",
    "RoomFull",
    "SignalingError",
    "Unauthorized",
    "Unavailable",
    "UnknownPeer",
    "UnsupportedMediaType",
]


class PeerPyRTCError(Exception):
    """Root of every error raised by peerpyrtc."""

    status: int = 500
    code: str = "ERR_INTERNAL"


class InvalidRequest(PeerPyRTCError, ValueError):
    """A signalling request is malformed: a missing field, a wrong type, bad SDP."""

    status = 400
    code = "ERR_INVALID_REQUEST"


class Forbidden(PeerPyRTCError):
    """The request lacks proof of the peer session it acts for, or was refused."""

    status = 403
    code = "ERR_FORBIDDEN"


class UnknownPeer(PeerPyRTCError, LookupError):
    """The room has no such peer (and nothing pending for it)."""

    status = 404
    code = "ERR_UNKNOWN_PEER"


class PeerIdTaken(PeerPyRTCError):
    """Another session already holds this peer id in this room."""

    status = 409
    code = "ERR_PEER_ID_TAKEN"


class PayloadTooLarge(InvalidRequest):
    """A body, SDP, envelope or info object is larger than the configured limit."""

    status = 413
    code = "ERR_TOO_LARGE"


class UnsupportedMediaType(InvalidRequest):
    """A page posted a signalling request that is not ``application/json``."""

    status = 415
    code = "ERR_UNSUPPORTED_MEDIA_TYPE"


class RoomFull(PeerPyRTCError):
    """The room (or the server) holds as many peers as it is configured to."""

    status = 429
    code = "ERR_ROOM_FULL"


class RateLimited(PeerPyRTCError):
    """A client asked for more than a bound allows: pending offers, candidates, sessions."""

    status = 429
    code = "ERR_RATE_LIMITED"


class Unauthorized(PeerPyRTCError):
    """An admin route was called without the configured admin token (or with a wrong one)."""

    status = 401
    code = "ERR_UNAUTHORIZED"


class ProtocolError(PeerPyRTCError, ValueError):
    """A DataChannel frame does not follow the wire protocol."""

    status = 400
    code = "ERR_PROTOCOL"


class SignalingError(PeerPyRTCError):
    """The signalling server answered a client with an error; ``server_code`` is the
    ``code`` it gave (``ERR_RATE_LIMITED``, ...), or None."""

    code = "ERR_SIGNALING"

    def __init__(self, message: str, status: int = 500, server_code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.server_code = server_code


class ConnectionFailed(PeerPyRTCError, ConnectionError):
    """A peer connection could not be opened, or was lost."""

    code = "ERR_CONNECTION_FAILED"


class IceServerError(ConnectionFailed):
    """A STUN/TURN server gave nothing: ``code`` is ``ERR_TURN_AUTH`` (credentials refused:
    wrong, forged or expired), ``ERR_ICE_SERVER_UNREACHABLE`` (no answer, refused, TLS
    failed) or ``ERR_ICE_SERVER`` (another refusal); ``url`` is the server's, and
    ``ice_status`` the STUN error code it answered (401, 486, ...) or None."""

    code = "ERR_ICE_SERVER"

    def __init__(self, code: str, message: str, url: str, ice_status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.url = url
        self.ice_status = ice_status


class NotConnected(PeerPyRTCError):
    """An operation needs an open connection and there is none."""

    code = "ERR_NOT_CONNECTED"


class Unavailable(PeerPyRTCError):
    """A part the server needs (the backplane) cannot be reached; try again later."""

    status = 503
    code = "ERR_UNAVAILABLE"


def final_refusal(exc: BaseException) -> bool:
    """A refusal that trying again cannot change (a full room, forbidden, id taken, a
    malformed request): the clients give up at once. Rate limits and 5xx are retried."""
    if isinstance(exc, RoomFull):
        return True
    return isinstance(exc, SignalingError) and exc.status in (400, 401, 403, 404, 409, 413)
