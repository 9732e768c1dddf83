"""The lossy-link benchmark's quick mode (network namespaces, nftables dropping 3 % of
packets) runs to the end and prints its table: a smoke test, no speed asserted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

LOSSY = Path(__file__).resolve().parents[2] / "benchmarks" / "lossy.py"


def test_quick_lossy_benchmark_prints_its_table() -> None:
    out = subprocess.run(
        [sys.executable, str(LOSSY), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    for system in ("socketio, 3 % loss", "peerpyrtc-reliable", "peerpyrtc-volatile"):
        assert system in out
    assert "At 3 % loss, volatile p99 / socket.io p99" in out
