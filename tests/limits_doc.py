"""docs/security.md's limits table, made from ``peerpyrtc.Limits`` (names, defaults, and the
field comments in ``_limits.py``) so that the document cannot drift from the code.

``python tests/limits_doc.py`` rewrites the table in place; tests/system/test_documented_paths.py
checks the document holds exactly what this renders.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "security.md"
BEGIN = (
    "<!-- limits: made from peerpyrtc.Limits by tests/limits_doc.py; a test keeps them equal -->"
)
END = "<!-- /limits -->"


def _comments() -> dict[str, str]:
    """Each field's ``#:`` comment lines in _limits.py, joined."""
    from peerpyrtc import _limits

    source = inspect.getsource(_limits)
    lines = source.splitlines()
    tree = ast.parse(source)
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Limits")
    found: dict[str, str] = {}
    for node in cls.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            text: list[str] = []
            i = node.lineno - 2
            while i >= 0 and lines[i].strip().startswith("#:"):
                text.insert(0, lines[i].strip()[2:].strip())
                i -= 1
            found[node.target.id] = " ".join(text)
    return found


def _size(n: int) -> str:
    for unit, size in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size:,} {unit}"
    return f"{n:,}"


def render_default(name: str, value: Any) -> str:
    if isinstance(value, tuple):
        return ", ".join(f"`{v}`" for v in value) if value else "none"
    if isinstance(value, bool):
        return str(value)
    if "bytes" in name or name == "byte_burst":
        unit = "/s" if name.endswith("per_second") else ""
        return ("0 (off)" if value == 0 else _size(int(value))) + unit
    if name.endswith("per_second"):
        return f"{value:,.0f}/s"
    if isinstance(value, float):
        return f"{value:g} s"
    return f"{value:,}"


def render() -> str:
    from peerpyrtc import Limits

    comments = _comments()
    defaults = Limits()
    rows = ["| limit | default | what it bounds |", "|---|---|---|"]
    for field in dataclasses.fields(Limits):
        text = comments.get(field.name, "").replace("|", "\\|").replace("``", "`")
        value = render_default(field.name, getattr(defaults, field.name))
        rows.append(f"| `{field.name}` | {value} | {text} |")
    return "\n".join([BEGIN, *rows, END])


def current() -> str:
    match = re.search(re.escape(BEGIN) + r".*?" + re.escape(END), DOC.read_text(), re.S)
    return match.group(0) if match else ""


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    text = DOC.read_text()
    table = current()
    if not table:
        sys.exit(f"{DOC}: no {BEGIN!r} ... {END!r} block to replace")
    DOC.write_text(text.replace(table, render()))
    print(f"wrote the limits table of {DOC}")
