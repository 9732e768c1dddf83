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
