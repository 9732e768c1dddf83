"""ServerOptions: every option of a signalling server, validated once.

Both managers and the CLI build one of these; a bad option is a :class:`ValueError` (or
:class:`TypeError`) here, at configuration time, before anything is started.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._core.rooms_api import check_topology
from ._limits import Limits
from ._rtc.ice import IceServerSpec, normalize_ice_servers
from ._rtc.network import ServerNetwork
from ._rtc.turn import TurnCredentials
from ._web.origin import OriginPolicy

__all__ = ["BACKPLANE_SCHEMES", "ServerOptions"]

BACKPLANE_SCHEMES = ("redis://", "rediss://", "unix://")


@dataclass(frozen=True)
class ServerOptions:
    """The options of :class:`~peerpyrtc.AsyncSignalingManager` (see there for each one)."""

    ice_servers: tuple[IceServerSpec, ...] | None = None
    debug: bool = False
    limits: Limits = field(default_factory=Limits)
    admin_token: str | None = None
    topology: str | Callable[[str], str] = "relay"
    backplane: str | None = None
    turn_secret: str | None = None
    turn_urls: tuple[str, ...] = ()
    turn_ttl: int = 600
    public_ip: str | None = None
    udp_ports: str | tuple[int, int] | None = None
    udp_port: int | None = None
    keep_private_candidates: bool = False
    allowed_origins: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        fix = object.__setattr__  # frozen: normalise the iterables given once, here
        if self.ice_servers is not None:
            fix(self, "ice_servers", tuple(self.ice_servers))
        fix(self, "turn_urls", tuple(self.turn_urls))
        fix(self, "allowed_origins", tuple(self.allowed_origins))
        if self.limits is None:
            fix(self, "limits", Limits())
        if not isinstance(self.limits, Limits):
            raise TypeError("limits must be a peerpyrtc.Limits")
        token = self.admin_token
        if token is not None and (not isinstance(token, str) or len(token) < 16):
            raise ValueError("admin_token must be a string of at least 16 characters")
        if self.backplane is not None and (
            not isinstance(self.backplane, str) or not self.backplane.startswith(BACKPLANE_SCHEMES)
        ):
            raise ValueError(f"backplane must be a URL starting with one of {BACKPLANE_SCHEMES}")
        check_topology(self.topology)
        normalize_ice_servers(self.ice_servers)
        OriginPolicy(self.allowed_origins)
        if self.turn_secret is not None:
            TurnCredentials(self.turn_secret, self.turn_urls, self.turn_ttl)
        self.network()  # validates the addresses and ports (binds nothing)

    @classmethod
    def of(cls, **options: Any) -> ServerOptions:
        """From the managers' keywords (``None`` for ``limits`` means the defaults)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(options) - names)
        if unknown:
            raise TypeError(f"unknown server option(s): {', '.join(unknown)}")
        return cls(**options)

    def network(self) -> ServerNetwork:
        """A fresh network configuration (its UDP mux not bound yet)."""
        return ServerNetwork(
            public_ip=self.public_ip, udp_ports=self.udp_ports, udp_port=self.udp_port,
            keep_private=self.keep_private_candidates,
        )  # fmt: skip
