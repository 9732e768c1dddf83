"""The soak test's short variant: peers chatting with joins, leaves and kills lose nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SOAK = Path(__file__).resolve().parents[1] / "benchmarks" / "soak.py"


def test_short_soak_loses_and_reorders_nothing() -> None:
    proc = subprocess.run(
        [sys.executable, str(SOAK), "--duration", "20", "--peers", "8", "--workers", "2",
         "--rooms", "2", "--kill-every", "7", "--warmup", "5"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["kills"] >= 2
    assert result["received"] > 200 and result["joins"] >= 8
    assert result["lost"] == 0 and result["reordered"] == 0, result
