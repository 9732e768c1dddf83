"""Every exception PeerPyRTC raises, under one root class.

Two intermediate bases: :class:`ServerRefusal` (the server refused a request: each class
carries the HTTP ``status`` and the stable ``code`` it answers with, so the framework
adapters, and users' own routes, map errors without a lookup table) and
:class:`ClientError` (a client could not do what it was asked). :data:`REFUSALS` maps a
``code`` back to its class: the Python client and the backplane (errors forwarded between
workers) both use it.
"""

from __future__ import annotations

__all__ = [
    "ClientError",
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
    "ServerRefusal",
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


class ServerRefusal(PeerPyRTCError):
    """The server refused a request; ``status`` and ``code`` are what it answers with."""

    status = 400
    code = "ERR_INVALID_REQUEST"
    #: Trying again cannot change the answer (the clients give up at once).
    final = True


class ClientError(PeerPyRTCError):
    """A client (``AsyncClient``) could not do what it was asked."""


class InvalidRequest(ServerRefusal, ValueError):
    """A signalling request is malformed: a missing field, a wrong type, bad SDP."""

    status = 400
    code = "ERR_INVALID_REQUEST"


class Forbidden(ServerRefusal):
    """The request lacks proof of the peer session it acts for, or was refused."""

    status = 403
    code = "ERR_FORBIDDEN"


class UnknownPeer(ServerRefusal, LookupError):
    """The room has no such peer (and nothing pending for it)."""

    status = 404
    code = "ERR_UNKNOWN_PEER"


class PeerIdTaken(ServerRefusal):
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


class RoomFull(ServerRefusal):
    """The room (or the server) holds as many peers as it is configured to."""

    status = 429
    code = "ERR_ROOM_FULL"


class RateLimited(ServerRefusal):
    """A client asked for more than a bound allows: pending offers, candidates, sessions."""

    status = 429
    code = "ERR_RATE_LIMITED"
    final = False


class Unauthorized(ServerRefusal):
    """An admin route was called without the configured admin token (or with a wrong one)."""

    status = 401
    code = "ERR_UNAUTHORIZED"


class ProtocolError(ServerRefusal, ValueError):
    """A DataChannel frame does not follow the wire protocol."""

    status = 400
    code = "ERR_PROTOCOL"


class SignalingError(ClientError):
    """The signalling server answered a client with an error; ``server_code`` is the
    ``code`` it gave (``ERR_RATE_LIMITED``, ...), or None."""

    code = "ERR_SIGNALING"

    def __init__(self, message: str, status: int = 500, server_code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.server_code = server_code

    @property
    def refusal(self) -> type[ServerRefusal] | None:
        """The server's refusal class for ``server_code`` (None for a code we do not know)."""
        return REFUSALS.get(self.server_code or "")


class ConnectionFailed(ClientError, ConnectionError):
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


class NotConnected(ClientError):
    """An operation needs an open connection and there is none."""

    code = "ERR_NOT_CONNECTED"


class Unavailable(ServerRefusal):
    """A part the server needs (the backplane) cannot be reached; try again later."""

    status = 503
    code = "ERR_UNAVAILABLE"
    final = False


#: ``code -> class`` for every refusal the server answers with.
REFUSALS: dict[str, type[ServerRefusal]] = {
    cls.code: cls
    for cls in (
        InvalidRequest, Forbidden, UnknownPeer, PeerIdTaken, PayloadTooLarge,
        UnsupportedMediaType, RoomFull, RateLimited, Unauthorized, ProtocolError, Unavailable,
    )
}  # fmt: skip


def refusal(code: object, message: str) -> ServerRefusal:
    """The refusal a ``code`` names (an unknown one: :class:`InvalidRequest`)."""
    cls = REFUSALS.get(code, InvalidRequest) if isinstance(code, str) else InvalidRequest
    return cls(message)


def final_refusal(exc: BaseException) -> bool:
    """A refusal that trying again cannot change (a full room, forbidden, id taken, a
    malformed request): the clients give up at once. Rate limits and 5xx are retried."""
    if isinstance(exc, ServerRefusal):
        return exc.final
    if isinstance(exc, SignalingError):
        known = exc.refusal
        if known is not None:
            return known.final
        return exc.status in (400, 401, 403, 404, 409, 413)
    return False
