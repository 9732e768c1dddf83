"""Binary frames from tests/cases/binary.json, which the browser client's suite checks too
(client/test/binary-cases.test.js): both codecs write the same bytes and read them back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from peerpyrtc._wire import binary

CASES = json.loads((Path(__file__).resolve().parents[1] / "cases" / "binary.json").read_text())


def unmark(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$bytes"}:
            return bytes.fromhex(value["$bytes"])
        return {k: unmark(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unmark(v) for v in value]
    return value


@pytest.mark.parametrize("case", CASES["cases"], ids=[c["name"] for c in CASES["cases"]])
def test_the_python_codec_writes_and_reads_the_shared_frames(case: dict[str, Any]) -> None:
    data = unmark(case["data"])
    frames = binary.encode_frames(
        case["routing"], data, case["message_id"], 16 << 20, case["frame_bytes"]
    )
    assert [f.hex() for f in frames] == case["frames"]
    parsed = [binary.parse_frame(bytes.fromhex(f)) for f in case["frames"]]
    first = binary.parse_header(parsed[0][0], max_bytes=16 << 20)
    assert first.t == case["routing"]["t"] and first.event == case["routing"].get("e")
    assert (first.m is None) == (len(frames) == 1)
    body = b"".join(bytes(payload) for _, payload in parsed)
    assert binary.decode_body(first, body) == data
    for text, _ in parsed[1:]:  # the rest are parts of the first, in order
        part = binary.parse_header(text, max_bytes=16 << 20)
        assert part.t == "part" and part.m == case["message_id"]
