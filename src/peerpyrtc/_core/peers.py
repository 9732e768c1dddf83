"""The peer table: this process's pending and open peers, by (room, peer id).

Plain data, no I/O: signalling adds pending peers, the lifecycle promotes and removes
them, the cluster layer reads the open ones. The per-address and server-wide bounds on
connections are checked here, where the peers are.
"""

from __future__ import annotations

from collections.abc import Iterator

from .._errors import RateLimited
from .._limits import Limits
from .peer import ServerPeer

__all__ = ["Key", "PeerTable"]

Key = tuple[str, str]


class PeerTable:
    """Pending peers (answered, channel not open yet) and open peers of this process."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.pending: dict[Key, ServerPeer] = {}
        self.active: dict[Key, ServerPeer] = {}

    def get(self, key: Key) -> ServerPeer | None:
        """The pending connection of ``key`` if there is one, else its open one."""
        return self.pending.get(key) or self.active.get(key)

    def holds(self, key: Key) -> bool:
        return key in self.pending or key in self.active

    def __iter__(self) -> Iterator[ServerPeer]:
        """Every peer, pending ones first."""
        yield from list(self.pending.values())
        yield from list(self.active.values())

    def __len__(self) -> int:
        return len(self.pending) + len(self.active)

    def clear(self) -> None:
        self.pending.clear()
        self.active.clear()

    def check_room_for(self, addr: str | None, key: Key) -> None:
        """Bound the offers being set up (server-wide and per address) and the connections
        one address holds (a reconnect of ``key`` replaces its own). Raises
        :class:`RateLimited`."""
        limits, pending = self.limits, self.pending
        if len(pending) >= limits.max_pending_offers:
            raise RateLimited("too many connections are being set up; try again shortly")
        if addr is None:
            return
        same = sum(1 for p in pending.values() if p.remote_addr == addr)
        if same >= limits.max_pending_per_address:
            raise RateLimited("too many connections from this address are being set up")
        held = sum(
            1 for table in (pending, self.active) for k, p in table.items()
            if p.remote_addr == addr and k != key
        )  # fmt: skip
        if held >= limits.max_peers_per_address:
            raise RateLimited("too many connections from this address")
