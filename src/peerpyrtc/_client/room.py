"""What an ``AsyncClient`` knows of its room, as the server's system envelopes say (plain data)."""

from __future__ import annotations

from typing import Any

from .codec import HostChanged, Joined, Left, Welcome

__all__ = ["ClientRoom"]


class ClientRoom:
    """Peers in join order (this one included) and the host."""

    def __init__(self) -> None:
        self.peers: dict[str, dict[str, Any]] = {}
        self.host_id: str | None = None
        self.topology: str | None = None

    def welcome(self, env: Welcome) -> None:
        self.peers = {p["id"]: p for p in env.peers}
        self.host_id = env.host
        self.topology = env.topology

    def joined(self, env: Joined) -> dict[str, Any]:
        """The newcomer, as callbacks see it."""
        self.peers[env.peer["id"]] = env.peer
        return {**env.peer, "isHost": env.peer["id"] == self.host_id}

    def left(self, env: Left) -> dict[str, Any]:
        """The peer with the role it had when it left, and why; the new host is set."""
        peer = self.peers.pop(env.peer["id"], env.peer)
        self.host_id = env.host
        return {**peer, "isHost": bool(env.peer.get("isHost")), "reason": env.reason}

    def host(self, env: HostChanged) -> None:
        self.host_id = env.host

    def listing(self) -> list[dict[str, Any]]:
        """Every peer in join order, with ``isHost``."""
        return [{**p, "isHost": p["id"] == self.host_id} for p in self.peers.values()]
