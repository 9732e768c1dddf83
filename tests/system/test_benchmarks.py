"""The benchmark's quick mode runs to the end and prints its table (a smoke test: no speed asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench.py"


def test_quick_benchmark_prints_its_table() -> None:
    out = subprocess.run(
        [sys.executable, str(BENCH), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    assert "| metric | peerpyrtc | python-socketio | peerpyrtc / socketio |" in out
    for row in ("connect, 1 client", "fan-out 1->10, deliveries/s", "bulk 16 KB messages"):
        assert row in out


def test_quick_transfer_benchmark_prints_its_table() -> None:
    out = subprocess.run(
        [sys.executable, str(BENCH.parent / "transfer.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    assert "| metric | peerpyrtc median [min-max] | python-socketio median [min-max] |" in out
    for row in ("bulk, 1 MiB binary messages", "during a 20 MiB transfer", "60 Hz to 30"):
        assert row in out
