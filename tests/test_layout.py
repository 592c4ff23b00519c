"""The package's layout is its design: one room per flow, imports that only go down.

Rooms, from the bottom: ``settings`` and ``observability`` (nothing of the package), ``table``
(keys, items, every DynamoDB request), ``ingest`` (envelopes, Spec, tracking plan, the one check),
``record`` (the write side), ``read`` (the read side: table only), ``process`` (the one processing
call), then the adapters and operator commands. The read function must load nothing of the write
side: importing ``segment_usage.read_api`` imports no ``ingest``/``record`` module and not
jsonschema.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "lambda" / "segment_usage"

# room -> the rooms it may import (its own room is always allowed)
ALLOWED: dict[str, set[str]] = {
    "settings": set(),
    "observability": set(),
    "table": set(),
    "ingest": {"settings", "table"},
    "record": {"settings", "table", "ingest"},
    "read": {"settings", "table"},
    "process": {"settings", "table", "ingest", "record"},
    "ops": {"settings", "table", "ingest", "record", "process"},
    "handler": {"settings", "observability", "ingest", "process"},
    "read_api": {"settings", "table", "read"},
    "cli": {"settings", "table", "ingest", "read", "process", "ops"},
    "__init__": set(),
}


def room_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def imported_rooms(path: Path) -> set[str]:
    """The rooms ``path`` imports from, whether the import is relative or absolute."""
    tree = ast.parse(path.read_text("utf-8"))
    package = list(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    rooms = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = [*base, *(node.module.split(".") if node.module else [])]
                if node.module is None:  # from . import days
                    target = [*target, node.names[0].name]
            elif node.module and node.module.startswith("segment_usage"):
                target = node.module.split(".")
            else:
                continue
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.startswith("segment_usage.")]
            if not names:
                continue
            target = names[0].split(".")
        else:
            continue
        if len(target) > 1:
            rooms.add(target[1])
    return rooms


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_only_go_down(path: Path) -> None:
    room = room_of(path)
    assert room in ALLOWED, f"{path}: a new room; add it to ALLOWED with the rooms it may import"
    wrong = imported_rooms(path) - ALLOWED[room] - {room}
    assert not wrong, f"{path.relative_to(PACKAGE)} ({room}) imports {sorted(wrong)}"


def test_the_checker_sees_relative_and_absolute_imports(tmp_path: Path) -> None:
    """The check itself can fail: an upward import is found in either spelling."""
    sample = PACKAGE / "table" / "keys.py"
    tree_text = "from ..record.days import utc_today\nimport segment_usage.ingest.spec\n"
    fake = sample.with_name("_layout_probe.py")
    fake.write_text(tree_text, "utf-8")
    try:
        assert imported_rooms(fake) == {"record", "ingest"}
    finally:
        fake.unlink()


def test_the_read_function_loads_nothing_of_the_write_side() -> None:
    probe = (
        "import sys\n"
        "import segment_usage.read_api\n"
        "bad = sorted(m for m in sys.modules if m == 'jsonschema' or m.startswith(("
        "'segment_usage.ingest', 'segment_usage.record', 'segment_usage.process', "
        "'segment_usage.ops', 'jsonschema.')))\n"
        "print(bad)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env={}
    ).stdout.strip()
    assert out == "[]", f"importing the read handler loaded the write side: {out}"
