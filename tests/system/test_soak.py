"""The soak test's short variant: peers chatting with joins, leaves and kills lose nothing."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SOAK = Path(__file__).resolve().parents[2] / "benchmarks" / "soak.py"


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


@pytest.mark.redis
def test_short_soak_on_two_workers_and_redis_keeps_redis_flat(redis_server: Any) -> None:
    """Two server workers sharing rooms through a real Redis, peers killed now and then, and
    strangers posting junk candidates meanwhile: nothing lost or reordered, and Redis's
    memory stays flat (the attack of hardening round 3, finding 3, grew it by 80 MB)."""
    from conftest import flush

    asyncio.run(flush(redis_server))
    proc = subprocess.run(
        [sys.executable, str(SOAK), "--duration", "20", "--peers", "8", "--workers", "2",
         "--rooms", "2", "--kill-every", "7", "--warmup", "5", "--redis", redis_server.url,
         "--server-workers", "2", "--strangers", "20"],
        capture_output=True, text=True, timeout=180, check=True,
    )  # fmt: skip
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["kills"] >= 2 and result["stranger_posts"] > 200
    assert result["received"] > 200 and result["joins"] >= 8
    assert result["lost"] == 0 and result["reordered"] == 0, result
    grown = result["redis_used_after_warmup_max"] - result["redis_used_after_warmup_first"]
    print("redis used_memory after warm-up, first/max/last:",
          result["redis_used_after_warmup_first"], result["redis_used_after_warmup_max"],
          result["redis_used_last"], "stranger posts:", result["stranger_posts"])  # fmt: skip
    assert grown < 1_000_000, result  # at most a few sessions' parsed candidates
