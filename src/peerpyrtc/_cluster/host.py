"""What the backplane receives of the server it links: :class:`ClusterHost`.

The backplane never sees the server object: it reads the open peers (to put them back
after a lost link), drops one, announces a leave it decided (a dead worker's peers), and
serves operations other workers forward (candidates, leaves, kicks, let-go).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from .._rooms.store import Left

__all__ = ["ClusterHost", "HostedPeer"]


class HostedPeer(Protocol):
    """An open peer of this worker, as the cluster restores it."""

    @property
    def room(self) -> str: ...

    @property
    def id(self) -> str: ...

    @property
    def session(self) -> str: ...

    @property
    def info(self) -> dict[str, Any]: ...

    @property
    def joined_at(self) -> int: ...

    @property
    def order(self) -> int: ...


class ClusterHost(Protocol):
    def open_peers(self) -> Sequence[HostedPeer]:
        """This worker's open peers, in join order."""
        ...

    def drop(self, peer: HostedPeer, reason: str) -> None:
        """Take one of :meth:`open_peers` out (in the background)."""
        ...

    def announce_left(self, room: str, peer_id: str, left: Left, reason: str) -> None:
        """Tell the room (and the hooks) that a peer left."""
        ...

    async def serve(self, op: str, args: list[Any]) -> Any:
        """Run an operation another worker forwarded; its errors go back to that worker."""
        ...
