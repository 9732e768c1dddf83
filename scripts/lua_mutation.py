"""Mutation testing of the Redis Lua scripts, which mutmut never mutates (module strings).

    python scripts/lua_mutation.py [--module _cluster/redis_store] [--limit N] [-- pytest args]

For each Lua line of the scripts in ``src/peerpyrtc/_cluster/`` (``redis_store.py``,
``parking.py``, ``bus.py``),
makes the mutants a careless edit would: a comparison flipped (``==``/``~=``, ``>=``/``>``,
``<``/``<=``), a number off by one, ``SADD``/``SREM`` and ``HSET``/``HDEL`` swapped, the
statement deleted. Each mutant is written into a scratch copy of the tree and the suites
that own the scripts run against it (a real ``redis-server`` on PATH; short timeouts).
A mutant is killed when a test fails. Prints every survivor and the score per module, and
exits non-zero when a run could not test anything (no redis-server, the unmutated tree
failing, every mutant erroring the same way): an aborted run never looks like a clean one.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: module (under src/peerpyrtc) -> the suites that own its scripts
MODULES = {
    "_cluster/redis_store": [
        "tests/integration/test_store_contract.py",
        "tests/integration/test_claims.py",
    ],
    "_cluster/parking": ["tests/integration/test_parking.py"],
    "_cluster/bus": ["tests/integration/test_cluster.py"],
}
SWAPS = [("==", "~="), ("~=", "=="), (">=", ">"), ("<=", "<"), (" > ", " >= "),
         (" < ", " <= "), ("'SADD'", "'SREM'"), ("'SREM'", "'SADD'"), ("'HSET'", "'HDEL'"),
         ("'HDEL'", "'HSET'"), (" and ", " or "), (" or ", " and ")]  # fmt: skip


def lua_spans(source: str) -> list[tuple[int, int]]:
    """(start, end) of every triple-quoted string that is Lua (calls Redis): the scripts."""
    return [
        (m.start(1), m.end(1))
        for m in re.finditer(r'"""(.*?)"""', source, re.S)
        if "redis.call(" in m.group(1)
    ]


def mutants(source: str) -> Iterator[tuple[str, str]]:
    """(description, mutated source) for each mutant of each Lua line."""
    for start, end in lua_spans(source):
        lines = source[start:end].split("\n")
        position = start
        for line in lines:
            code = line.split("--", 1)[0]
            stripped = code.strip()
            here = source[:position].count("\n") + 1
            if stripped and not stripped.startswith(("local function", "end", "else")):
                before, after = source[:position], source[position + len(line) :]
                for old, new in SWAPS:
                    if old in code:
                        what = f"line {here}: {old.strip()} -> {new.strip()}: {stripped[:70]}"
                        yield what, before + line.replace(old, new, 1) + after
                for number in re.finditer(r"(?<![\w.])(\d+)(?![\w.])", code):
                    value = int(number.group(1))
                    changed = line[: number.start()] + str(value + 1) + line[number.end() :]
                    yield (
                        f"line {here}: {value} -> {value + 1}: {stripped[:70]}",
                        before + changed + after,
                    )
                if stripped.startswith(("redis.call(", "return ")) or "redis.call('" in stripped:
                    if not stripped.startswith(("if ", "local ", "for ", "while ")):
                        yield f"line {here}: deleted: {stripped[:70]}", before + "\n" + after
            position += len(line) + 1


def run_tests(tree: Path, tests: list[str], extra: list[str]) -> int:
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
               "--timeout", "30", "-o", "addopts=", *tests, *extra]  # fmt: skip
    done = subprocess.run(command, cwd=tree, capture_output=True, text=True,
                          env={"PYTHONPATH": str(tree / "src"), "PATH": _path()})  # fmt: skip
    return done.returncode


def _path() -> str:
    import os

    return os.environ.get("PATH", "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--module", choices=sorted(MODULES), action="append")
    parser.add_argument("--limit", type=int, default=0, help="at most N mutants per module")
    parser.add_argument("pytest_args", nargs="*")
    args = parser.parse_args()
    if shutil.which("redis-server") is None:
        print(
            "lua_mutation: redis-server is not installed: nothing could be tested", file=sys.stderr
        )
        return 2
    scores: dict[str, tuple[int, int]] = {}
    with tempfile.TemporaryDirectory(prefix="peerpyrtc-lua-") as scratch:
        tree = Path(scratch) / "tree"
        shutil.copytree(ROOT / "src", tree / "src")
        shutil.copytree(ROOT / "tests", tree / "tests")
        shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
        for module in args.module or sorted(MODULES):
            tests = MODULES[module]
            path = tree / "src" / "peerpyrtc" / f"{module}.py"
            original = path.read_text()
            if run_tests(tree, tests, args.pytest_args) != 0:
                print(f"lua_mutation: the unmutated {module} fails its own tests", file=sys.stderr)
                return 2
            killed = survived = 0
            for i, (what, source) in enumerate(mutants(original)):
                if args.limit and i >= args.limit:
                    break
                path.write_text(source)
                if run_tests(tree, tests, args.pytest_args) != 0:
                    killed += 1
                else:
                    survived += 1
                    print(f"survived {module} {what}", flush=True)
            path.write_text(original)
            scores[module] = (killed, survived)
    for module, (killed, survived) in scores.items():
        total = killed + survived
        print(f"{module}: {killed}/{total} killed ({100 * killed / max(1, total):.0f}%)")
    return 0 if all(k + s for k, s in scores.values()) else 2


if __name__ == "__main__":
    sys.exit(main())
