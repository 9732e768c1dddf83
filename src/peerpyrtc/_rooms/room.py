"""Pure room state: members, join order, host election. No I/O.

The manager asks this module who is in a room and who gets a message; it
never touches a connection. Every mutating call returns what changed so the
caller can announce it.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Member", "Room", "RoomRegistry"]

_join_counter = itertools.count()


@dataclass
class Member:
    """A peer that is in a room (its connection is open)."""

    id: str
    info: dict[str, Any] = field(default_factory=dict)
    joined_at: int = field(default_factory=lambda: int(time.time() * 1000))
    order: int = field(default_factory=lambda: next(_join_counter))


class Room:
    """One room: its members in join order and its host."""

    __slots__ = ("_seq", "host_id", "members", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        #: Insertion order is join order: the first member is the longest present.
        self.members: dict[str, Member] = {}
        self.host_id: str | None = None
        self._seq = 0

    def __len__(self) -> int:
        return len(self.members)

    def next_seq(self) -> int:
        """The next broadcast sequence number: one server-assigned order per room."""
        self._seq += 1
        return self._seq

    def add(self, member: Member) -> bool:
        """Add a member; return True when it became the host."""
        self.members[member.id] = member
        if self.host_id is None:
            self.host_id = member.id
            return True
        return False

    def remove(self, peer_id: str) -> tuple[Member | None, str | None]:
        """Remove a member; return it and the new host id if the host changed."""
        member = self.members.pop(peer_id, None)
        new_host = None
        if member is not None and self.host_id == peer_id:
            self.host_id = next(iter(self.members), None)
            new_host = self.host_id
        return member, new_host

    def describe(self, member: Member) -> dict[str, Any]:
        """The public description of a member (``id``, ``isHost``, ``joinedAt``, info)."""
        return {
            **member.info,
            "id": member.id,
            "isHost": member.id == self.host_id,
            "joinedAt": member.joined_at,
        }

    def peers(self) -> list[dict[str, Any]]:
        """Every member's description, in join order."""
        return [self.describe(m) for m in self.members.values()]


class RoomRegistry:
    """All rooms of one server: created on first join, removed when empty."""

    def __init__(self) -> None:
        self.rooms: dict[str, Room] = {}

    def get(self, name: str) -> Room | None:
        return self.rooms.get(name)

    def join(self, name: str, member: Member) -> tuple[Room, bool]:
        """Put ``member`` in room ``name``; return the room and whether it is host."""
        room = self.rooms.get(name)
        if room is None:
            room = self.rooms[name] = Room(name)
        return room, room.add(member)

    def leave(self, name: str, peer_id: str) -> tuple[Room | None, Member | None, str | None]:
        """Take ``peer_id`` out of room ``name``; drop the room once empty.

        Returns the room, the member removed (None if absent) and the new host id
        if the host changed.
        """
        room = self.rooms.get(name)
        if room is None:
            return None, None, None
        member, new_host = room.remove(peer_id)
        if not room.members:
            del self.rooms[name]
        return room, member, new_host

    def info(self) -> dict[str, dict[str, Any]]:
        """``{room: {"peer_count", "peers", "host_id"}}`` for every room."""
        return {
            name: {"peer_count": len(room), "peers": room.peers(), "host_id": room.host_id}
            for name, room in self.rooms.items()
        }
