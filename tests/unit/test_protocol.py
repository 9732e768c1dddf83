"""The wire codec on its own: no I/O."""

from __future__ import annotations

import json

import pytest

from peerpyrtc import ProtocolError
from peerpyrtc._wire.protocol import (
    MAX_ENVELOPE_BYTES,
    MAX_FRAME_BYTES,
    batch,
    decode,
    encode,
    loads,
    split_frame,
    stamp,
    stamp_suffix,
)


def test_single_envelope_keeps_its_raw_bytes() -> None:
    frame = '{"t":"emit","e":"move","d":{"x":5,"y":3},"to":"bob"}'
    [env] = decode(frame)
    assert (env.type, env.event, env.data, env.to) == ("emit", "move", {"x": 5, "y": 3}, "bob")
    assert env.raw == frame


def test_batch_splits_into_exact_raw_slices() -> None:
    a, b = '{"t":"msg","d":"a, ]"}', '{"t":"bcast","e":"go","d":[1,{"k":"]"}]}'
    envs = decode(f" [ {a} ,\n{b} ] ")
    assert [e.raw for e in envs] == [a, b]
    assert [e.type for e in envs] == ["msg", "bcast"]


@pytest.mark.parametrize(
    ("frame", "says"),
    [
        ("", "not valid JSON"),
        ("nope", "not valid JSON"),
        ("[]", "empty batch"),
        ("[1]", "must be a JSON object"),
        ('[{"t":"msg","d":"x"},]', "not valid JSON"),
        ('[{"t":"msg","d":"x"} {"t":"msg","d":"y"}]', "expected ','"),
        ('{"t":"msg","d":"x"} trailing', "unexpected data"),
        ('{"d":"x"}', "needs 't'"),
        ('{"t":[]}', "needs 't'"),  # found by the fuzzer: unhashable type
        ('{"t":{"a":1}}', "needs 't'"),
        # contents JSON can hold but a browser or UTF-8 cannot (hardening round 2)
        ('{"t":"msg","d":"\\ud800"}', "lone UTF-16 surrogate"),
        ('{"t":"emit","e":"x","d":{"\\udfff":1}}', "lone UTF-16 surrogate"),
        ('{"t":"emit","e":"x","d":["ok","\\ud83d"]}', "lone UTF-16 surrogate"),
        ('{"t":"emit","e":"x","d":NaN}', "non-finite"),
        ('{"t":"emit","e":"x","d":[Infinity]}', "non-finite"),
        ('{"t":"emit","e":"x","d":-Infinity}', "non-finite"),
        ('{"t":"emit","e":"x","d":1e999}', "out of range"),
        ('{"t":"emit","e":"x","d":' + "9" * 5000 + "}", "not valid JSON"),
        ("[" * 60_000, "nested deeper"),
        ('{"t":"emit","e":"x","d":' + "[" * 40 + "]" * 40 + "}", "nested deeper"),
        ('{"t":"emit","e":"x","d":' + '{"a":' * 40 + "1" + "}" * 40 + "}", "nested deeper"),
        ('{"t":"msg","d":1}', "'d' as a string"),
        ('{"t":"emit","d":1}', "event name"),
        ('{"t":"emit","e":"","d":1}', "event name"),
        ('{"t":"emit","e":"x","to":5}', "'to' must be a peer id"),
        ('{"t":"msg","d":"x","from":"bob"}', "set by the server"),
        ('{"t":"bcast","e":"x","n":1}', "set by the server"),
    ],
)
def test_bad_frames_say_what_is_wrong(frame: str, says: str) -> None:
    with pytest.raises(ProtocolError, match=says):
        decode(frame)


def test_unknown_types_are_ignored_and_valid_contents_pass() -> None:
    assert decode('{"t":"teleport","d":1}') == []  # a later version's type: ignored
    envs = decode('[{"t":"later"},{"t":"msg","d":"\\ud83d\\ude00 ok"}]')
    assert [e.data for e in envs] == ["\U0001f600 ok"]  # a surrogate *pair* is a character
    [env] = decode('{"t":"emit","e":"x","d":' + "[" * 30 + "1.5e308" + "]" * 30 + "}")
    assert env.type == "emit"


def test_the_server_never_encodes_what_a_peer_cannot_read() -> None:
    for bad in ({"d": "\ud800"}, {"d": float("nan")}, {"d": float("inf")}, {"d": object()}):
        with pytest.raises(ProtocolError):
            encode(bad)


def test_loads_is_as_strict_for_http_bodies() -> None:
    assert loads(b' {"a": [1, "\xc3\xa9"]} ') == {"a": [1, "\u00e9"]}
    for bad in (b'{"a":NaN}', b'"\\udc00"', b"[" * 100_000, b"\xff", b'{"a":1} x'):
        with pytest.raises(ProtocolError):
            loads(bad)


def test_a_bad_envelope_refuses_the_whole_batch() -> None:
    with pytest.raises(ProtocolError):
        decode('[{"t":"msg","d":"ok"},{"t":"msg","d":2}]')


def test_size_limits() -> None:
    big = encode({"t": "msg", "d": "x" * MAX_ENVELOPE_BYTES})
    with pytest.raises(ProtocolError, match="larger than"):
        decode(big)
    with pytest.raises(ProtocolError, match="frame is larger"):
        decode("[" + ",".join([encode({"t": "msg", "d": "x" * 1000})] * 70) + "]")
    # multi-byte characters count in UTF-8 bytes
    with pytest.raises(ProtocolError, match="larger than"):
        decode(encode({"t": "msg", "d": "é" * (MAX_FRAME_BYTES // 2)}))


def test_stamp_appends_server_fields_that_win_over_nothing() -> None:
    raw = '{"t":"bcast","e":"go","d":null}  '
    stamped = stamp(raw, stamp_suffix("alice", 7))
    assert json.loads(stamped) == {"t": "bcast", "e": "go", "d": None, "from": "alice", "n": 7}


def test_batch_of_one_is_the_envelope_itself() -> None:
    assert batch(['{"a":1}']) == '{"a":1}'
    assert [v for v, _ in split_frame(batch(['{"a":1}', '{"b":2}']))] == [{"a": 1}, {"b": 2}]


def test_every_server_envelope_is_what_docs_protocol_md_says() -> None:
    """The builders, one by one (the clients parse exactly these shapes)."""
    from peerpyrtc._wire import protocol as p

    def j(raw: str) -> object:
        return json.loads(raw)

    peer = {"id": "ann", "isHost": True, "joinedAt": 1}
    assert j(p.message("hi")) == {"t": "msg", "d": "hi"}
    assert j(p.message("hi", "server")) == {"t": "msg", "d": "hi", "from": "server"}
    assert j(p.event("go", [1], to="bob")) == {"t": "emit", "e": "go", "d": [1], "to": "bob"}
    assert j(p.event("go", None, "server")) == {"t": "emit", "e": "go", "d": None, "from": "server"}
    assert j(p.broadcast("tick", 2, "server", 7)) == {
        "t": "bcast", "e": "tick", "d": 2, "from": "server", "n": 7}  # fmt: skip
    assert j(p.signal("bob", {"k": "neg"})) == {"t": "sig", "to": "bob", "d": {"k": "neg"}}
    assert p.ping() == p.PING == '{"t":"ping"}' and j(p.ping("x")) == {"t": "ping", "d": "x"}
    assert j(p.pong(3)) == {"t": "pong", "d": 3}
    assert j(p.welcome("ann", "r", "ann", [peer])) == {
        "t": "welcome", "v": 1, "id": "ann", "room": "r", "host": "ann", "peers": [peer],
        "maxMessageSize": MAX_ENVELOPE_BYTES, "topology": "relay"}  # fmt: skip
    assert j(p.welcome("ann", "r", None, [], "mesh", 8))["meshMaxPeers"] == 8
    assert j(p.joined(peer)) == {"t": "joined", "peer": peer}
    assert j(p.left(peer, "bob", "timeout")) == {
        "t": "left", "peer": peer, "host": "bob", "reason": "timeout"}  # fmt: skip
    assert j(p.host_changed("bob")) == {"t": "host", "host": "bob"}
    assert j(p.host_changed(None)) == {"t": "host", "host": None}
    assert j(p.close_notice("flooding", reconnect=False)) == {
        "t": "close", "reason": "flooding", "reconnect": False}  # fmt: skip
    assert j(p.error("ERR_PROTOCOL", "no")) == {
        "t": "error",
        "code": "ERR_PROTOCOL",
        "message": "no",
    }
    assert p.BYE == '{"t":"bye"}'


def test_every_bound_holds_exactly_at_its_edge() -> None:
    from peerpyrtc._wire.protocol import MAX_BATCH_ITEMS, MAX_DEPTH, MAX_EVENT_LENGTH, MAX_SKIP

    def msg_of(size: int) -> str:  # an envelope of exactly ``size`` bytes
        raw = encode({"t": "msg", "d": ""})
        return encode({"t": "msg", "d": "x" * (size - len(raw))})

    assert len(msg_of(MAX_ENVELOPE_BYTES)) == MAX_ENVELOPE_BYTES
    assert len(decode(msg_of(MAX_ENVELOPE_BYTES))) == 1
    with pytest.raises(ProtocolError, match="larger than"):
        decode(msg_of(MAX_ENVELOPE_BYTES + 1))
    # a frame of exactly MAX_FRAME_BYTES passes, one more byte does not
    one = msg_of(MAX_FRAME_BYTES - MAX_ENVELOPE_BYTES - 3)
    frame = "[" + msg_of(MAX_ENVELOPE_BYTES) + "," + one + "]"
    assert len(frame) == MAX_FRAME_BYTES and len(decode(frame)) == 2
    with pytest.raises(ProtocolError, match="frame is larger"):
        decode(frame[:-1] + " ]")
    pings = ['{"t":"ping"}'] * MAX_BATCH_ITEMS
    assert len(decode("[" + ",".join(pings) + "]")) == MAX_BATCH_ITEMS
    with pytest.raises(ProtocolError, match="at most"):
        decode("[" + ",".join([*pings, '{"t":"ping"}']) + "]")
    name = "e" * MAX_EVENT_LENGTH
    assert decode(encode({"t": "emit", "e": name, "d": 1}))[0].event == name
    with pytest.raises(ProtocolError, match="event name"):
        decode(encode({"t": "emit", "e": name + "e", "d": 1}))
    with pytest.raises(ProtocolError, match="'t'"):
        decode(encode({"t": "t" * (MAX_EVENT_LENGTH + 1)}))
    assert decode(encode({"t": "t" * MAX_EVENT_LENGTH})) == []  # unknown, short: ignored
    deep: object = 1
    for _ in range(MAX_DEPTH - 1):  # the envelope is level 1
        deep = [deep]
    decode(encode({"t": "msg", "d": "x", "z": deep}))
    with pytest.raises(ProtocolError, match="deeper"):
        decode(encode({"t": "msg", "d": "x", "z": [deep]}))
    skip = [f"p{i}" for i in range(MAX_SKIP)]
    assert decode(encode({"t": "msg", "d": "x", "x": skip}))[0].skip == frozenset(skip)
    with pytest.raises(ProtocolError, match="at most"):
        decode(encode({"t": "msg", "d": "x", "x": [*skip, "one-more"]}))


@pytest.mark.parametrize("tail", ["x", "]", ",", "{}", "\x00", "\u00a0"])
def test_nothing_may_follow_a_frame(tail: str) -> None:
    for frame in ('{"t":"ping"}', '[{"t":"ping"}]', '[{"t":"ping"},{"t":"ping"}]'):
        with pytest.raises(ProtocolError):
            decode(frame + tail)
    assert len(decode('[{"t":"ping"}] \n')) == 1  # white space may
