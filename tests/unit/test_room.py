"""Pure room state: membership, join order and host election."""

from __future__ import annotations

from peerpyrtc._rooms.room import Member, RoomRegistry


def test_first_joiner_hosts_and_longest_present_takes_over() -> None:
    rooms = RoomRegistry()
    room, is_host = rooms.join("r", Member("a"))
    assert is_host and room.host_id == "a"
    assert rooms.join("r", Member("b"))[1] is False
    rooms.join("r", Member("c"))
    _, member, new_host = rooms.leave("r", "a")
    assert member is not None and member.id == "a"
    assert new_host == "b"
    _, _, new_host = rooms.leave("r", "c")  # a non-host leaving changes nothing
    assert new_host is None and room.host_id == "b"


def test_room_created_on_first_join_and_removed_when_empty() -> None:
    rooms = RoomRegistry()
    rooms.join("r", Member("a", {"name": "Ann"}))
    info = rooms.info()["r"]
    assert info["peer_count"] == 1 and info["host_id"] == "a"
    assert info["peers"][0]["name"] == "Ann" and info["peers"][0]["isHost"] is True
    rooms.leave("r", "a")
    assert rooms.info() == {}
    assert rooms.leave("r", "a") == (None, None, None)


def test_client_info_cannot_override_server_fields() -> None:
    rooms = RoomRegistry()
    room, _ = rooms.join("r", Member("a", {"id": "x", "isHost": False, "name": "Ann"}))
    peer = room.peers()[0]
    assert peer["id"] == "a" and peer["isHost"] is True


def test_broadcast_sequence_is_per_room() -> None:
    rooms = RoomRegistry()
    r1, _ = rooms.join("r1", Member("a"))
    r2, _ = rooms.join("r2", Member("b"))
    assert [r1.next_seq(), r1.next_seq(), r2.next_seq()] == [1, 2, 1]
