"""The package's shape: no import cycle of any kind, a small top level, small modules, and
nobody outside the package reaching into a manager's or a client's private attributes.

import-linter (pyproject, run by scripts/test) checks the layers; this adds what a layers
contract cannot say. grimp counts every import statement: function-level ones and those
under ``TYPE_CHECKING`` too (a back-reference is a dependency all the same).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import peerpyrtc

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(peerpyrtc.__file__).resolve().parent
#: Private attributes of these objects are the package's own business.
OWNERS = ("manager", "sync", "client", "alice", "bob", "carol", "host", "peer_client")


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_of_any_kind() -> None:
    grimp = pytest.importorskip("grimp")  # import-linter's graph builder (the dev extra)
    graph = grimp.build_graph("peerpyrtc", cache_dir=None)
    modules = {m for m in graph.modules if m.startswith("peerpyrtc.")}
    edges = {
        m: {d for d in graph.find_modules_directly_imported_by(m) if d in modules} for m in modules
    }
    assert _cycles(edges) == []


def test_at_most_a_dozen_modules_at_the_top() -> None:
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 12, top


@pytest.mark.parametrize(("suffix", "limit"), [("py", 450), ("js", 300)])
def test_no_module_is_too_long(suffix: str, limit: int) -> None:
    where = PACKAGE if suffix == "py" else ROOT / "client" / "src"
    if not where.exists():
        pytest.skip("no client sources here")
    long = {
        str(p.relative_to(where)): n
        for p in where.rglob(f"*.{suffix}")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > limit
    }
    assert long == {}


def _private_reaches(source: str) -> list[str]:
    """``owner._name`` attribute reads and writes on manager/client-like names."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Attribute) or not node.attr.startswith("_"):
            continue
        if node.attr.startswith("__"):
            continue
        base = node.value
        name = base.id if isinstance(base, ast.Name) else getattr(base, "attr", "")
        if re.fullmatch(r"(\w*_)?(manager|client|sync|sync_manager|async_manager)\d*", name) or (
            name in OWNERS
        ):
            found.append(f"{name}.{node.attr}")
    return found


def test_the_private_reach_finder_bites() -> None:
    assert sorted(_private_reaches("manager._pending\nsync_manager._core.x\nalice._queue")) == [
        "alice._queue", "manager._pending", "sync_manager._core",
    ]  # fmt: skip
    assert _private_reaches("manager.peers.pending\nself._x\nmodule._private") == []


def test_no_test_or_adapter_touches_a_private_attribute_of_a_manager_or_client() -> None:
    files = [*(ROOT / "tests").rglob("*.py"), *(PACKAGE / "contrib").glob("*.py")]
    files += [*(ROOT / "benchmarks").glob("*.py"), *(ROOT / "examples").rglob("*.py")]
    reaches = {
        str(p.relative_to(ROOT)): found
        for p in files
        if p.name != "test_import_graph.py"
        and (found := _private_reaches(p.read_text(encoding="utf-8")))
    }
    assert reaches == {}
    # and the browser client's privates, in the pages' scripts the browser tests run
    pages = {
        str(p.relative_to(ROOT)): found
        for p in files
        if (found := re.findall(r"\b(?:rtc|manager)\._[A-Za-z]\w*", p.read_text("utf-8")))
        and p.name != "test_import_graph.py"
    }
    assert pages == {}


def test_the_architecture_document_shows_the_enforced_layers() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    block = re.search(r"```layers\n(.*?)```", doc, re.S)
    assert block is not None, "docs/architecture.md lost its layers block"
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (layered,) = [c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers"]
    assert block.group(1).split("\n")[:-1] == layered["layers"]
    # every module the document names exists
    for folder, file in set(re.findall(r"`(_[a-z]+/|contrib/)([a-z_]+\.py)`", doc)):
        assert (PACKAGE / folder / file).exists(), folder + file
    for file in set(re.findall(r"`(_[a-z]+\.py|cli\.py)`", doc)):
        assert (PACKAGE / file).exists(), file
