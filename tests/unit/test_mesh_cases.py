"""The mesh's receiving rules from tests/cases/mesh.json, which the browser client's suite
runs too (client/test/mesh-cases.test.js): the two implementations cannot drift apart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from peerpyrtc._client import mesh as mesh_module
from peerpyrtc._client.mesh import ClientMesh

CASES = json.loads((Path(__file__).resolve().parents[1] / "cases" / "mesh.json").read_text())


class FakeLink:
    """A direct link that is open and records what is sent on it."""

    def __init__(self, link_id: str) -> None:
        self.link_id = link_id
        self.is_open = True
        self.closed = False
        self.sent: list[str] = []

    def send(self, frame: str) -> None:
        self.sent.append(frame)

    def close(self, reason: str = "closed") -> None:
        self.closed, self.is_open = True, False


def test_the_constants_are_the_shared_ones() -> None:
    for name, value in CASES["constants"].items():
        assert getattr(mesh_module, name) == value, name


@pytest.mark.parametrize("case", CASES["cases"], ids=[c["name"] for c in CASES["cases"]])
async def test_a_shared_case(case: dict[str, Any]) -> None:
    delivered: list[Any] = []
    mesh = ClientMesh(
        "a", lambda: ["a", "b"], lambda to, d: None,
        lambda sender, event, data: delivered.append(data), lambda: None,  # type: ignore[arg-type,return-value]
        lambda coro: coro.close(),
    )  # fmt: skip
    mesh.configure("mesh", 8)
    pair = mesh.pairs["b"]  # "a" < "b": b makes the link, so none was started here
    assert pair.link is None
    link = FakeLink("L")
    pair.link = link  # type: ignore[assignment]
    checkpoints = {int(k): v for k, v in case.get("delivered_after_step", {}).items()}
    for i, step in enumerate(case["steps"]):
        if "signal" in step:
            mesh.on_signal("b", step["signal"])
        else:
            raw = step["raw"] if "raw" in step else json.dumps(step["frame"])
            mesh.on_frame(pair, link, raw)  # type: ignore[arg-type]
        if i in checkpoints:
            assert delivered == checkpoints[i], f"after step {i}"
    assert delivered == case["delivered"]
    assert link.closed == case.get("link_closed", False)
    if pair.ack_timer is not None:
        pair.ack_timer.cancel()
