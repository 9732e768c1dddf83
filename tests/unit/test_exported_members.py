"""The public surface is exactly ``__all__``, and every exception shares one root."""

from __future__ import annotations

import inspect

import peerpyrtc
from peerpyrtc import _errors


def test_all_exports_exist_and_nothing_public_is_missing() -> None:
    exported = set(peerpyrtc.__all__)
    assert len(exported) == len(peerpyrtc.__all__)
    public = {
        name
        for name, value in vars(peerpyrtc).items()
        if not name.startswith("_")
        and not inspect.ismodule(value)
        and name not in ("annotations", "logging")
    }
    assert public <= exported | {"annotations"}
    for name in exported:
        assert hasattr(peerpyrtc, name), name
        member = getattr(peerpyrtc, name)
        if inspect.isclass(member) or inspect.isfunction(member):
            assert member.__module__.startswith("peerpyrtc"), name


def test_every_exception_is_exported_under_one_root() -> None:
    for name in _errors.__all__:
        cls = getattr(_errors, name)
        assert issubclass(cls, peerpyrtc.PeerPyRTCError)
        assert getattr(peerpyrtc, name) is cls
        assert 400 <= cls.status < 600 and cls.code.startswith("ERR_")


def test_the_seed_names_are_there() -> None:
    manager = peerpyrtc.SignalingManager
    for name in ("offer", "candidate", "leave", "rooms_info", "get_room_peers",
                 "message_handler", "peer_joined_handler", "peer_left_handler",
                 "on", "send_message", "emit", "close"):  # fmt: skip
        assert callable(getattr(manager, name)), name
        assert callable(getattr(peerpyrtc.AsyncSignalingManager, name)), name
    assert "debug" in inspect.signature(manager).parameters


def test_refusals_and_client_errors_have_their_own_bases_and_one_code_map() -> None:
    from peerpyrtc._errors import REFUSALS, final_refusal, refusal

    refusals = [peerpyrtc.InvalidRequest, peerpyrtc.Forbidden, peerpyrtc.UnknownPeer,
                peerpyrtc.PeerIdTaken, peerpyrtc.PayloadTooLarge, peerpyrtc.UnsupportedMediaType,
                peerpyrtc.RoomFull, peerpyrtc.RateLimited, peerpyrtc.Unauthorized,
                peerpyrtc.ProtocolError, peerpyrtc.Unavailable]  # fmt: skip
    for cls in refusals:
        assert issubclass(cls, peerpyrtc.ServerRefusal) and REFUSALS[cls.code] is cls
        made = refusal(cls.code, "why")
        assert type(made) is cls and str(made) == "why" and made.status == cls.status
    assert sorted(REFUSALS) == sorted({c.code for c in refusals})  # one class per code
    assert type(refusal("ERR_SOMETHING_NEW", "x")) is peerpyrtc.InvalidRequest
    assert type(refusal(None, "x")) is peerpyrtc.InvalidRequest
    for cls in (peerpyrtc.SignalingError, peerpyrtc.ConnectionFailed, peerpyrtc.NotConnected,
                peerpyrtc.IceServerError):  # fmt: skip
        assert issubclass(cls, peerpyrtc.ClientError)
        assert not issubclass(cls, peerpyrtc.ServerRefusal)
    # backward compatible: the old bases are still there
    assert issubclass(peerpyrtc.InvalidRequest, ValueError)
    assert issubclass(peerpyrtc.UnknownPeer, LookupError)
    assert issubclass(peerpyrtc.ConnectionFailed, ConnectionError)
    assert issubclass(peerpyrtc.PayloadTooLarge, peerpyrtc.InvalidRequest)
    # what the clients give up on at once, and what they retry
    assert final_refusal(peerpyrtc.RoomFull("full")) and final_refusal(peerpyrtc.Forbidden("no"))
    assert not final_refusal(peerpyrtc.RateLimited("slow down"))
    assert not final_refusal(peerpyrtc.Unavailable("later"))
    taken = peerpyrtc.SignalingError("taken", 409, "ERR_PEER_ID_TAKEN")
    assert taken.refusal is peerpyrtc.PeerIdTaken and final_refusal(taken)
    limited = peerpyrtc.SignalingError("busy", 429, "ERR_RATE_LIMITED")
    assert limited.refusal is peerpyrtc.RateLimited and not final_refusal(limited)
    assert final_refusal(peerpyrtc.SignalingError("gone", 404))  # no code: by status
    assert not final_refusal(peerpyrtc.SignalingError("oops", 502))
