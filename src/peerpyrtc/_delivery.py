"""The one way frames leave the server for a room's peers.

Everything sent to peers by room (relayed messages, the server's speech, join,
leave and host notices) goes through :meth:`Delivery.deliver`. Nothing else
walks a room's members to send. It is the seam a backplane overrides: a
Redis-backed delivery publishes the frame for the workers that hold the other
members and delivers locally what is local (python-socketio's ``emit`` /
``_publish`` split). A later reliability class (an unordered, unreliable
channel) is a keyword here, not a second path.
"""

from __future__ import annotations

from ._peer import ServerPeer
from ._room import RoomRegistry

__all__ = ["Delivery"]


class Delivery:
    """Queues frames for the connected peers of a room (in-process: all of them)."""

    def __init__(self, rooms: RoomRegistry, active: dict[tuple[str, str], ServerPeer]) -> None:
        self.rooms = rooms
        self.active = active

    def deliver(
        self, room: str, raw: str | bytes, *, exclude: str | None = None, to: str | None = None
    ) -> int:
        """Queue ``raw`` for every member of ``room`` but ``exclude``, or for ``to`` only.

        Returns how many peers it was queued for (0 for an unknown room or target).
        """
        active = self.active
        if to is not None:
            peer = active.get((room, to))
            if peer is None:
                return 0
            peer.send(raw)
            return 1
        members = self.rooms.get(room)
        if members is None:
            return 0
        count = 0
        for member_id in members.members:
            if member_id != exclude:
                active[(room, member_id)].send(raw)
                count += 1
        return count
