"""Dependencies point one way: core (no Dagster) <- Dagster layer <- CLI."""

from __future__ import annotations

import ast
from pathlib import Path

import voxlake

PACKAGE = Path(voxlake.__file__).parent
ROOT = PACKAGE.parent
LAYER = ("assets", "orchestration", "resources", "quality")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def _files(*dirs: Path) -> list[Path]:
    return [f for d in dirs for f in sorted(d.rglob("*.py"))]


def test_the_core_imports_no_dagster_and_no_layer_above_it() -> None:
    core = [f for f in _files(PACKAGE) if "cli" not in f.relative_to(PACKAGE).parts]
    assert len(core) > 30
    for f in core:
        bad = {
            m
            for m in _imports(f)
            if m.split(".")[0] == "dagster"
            or m.startswith(("voxlake.cli", *(f"voxlake.{d}" for d in LAYER)))
        }
        assert not bad, f"{f.relative_to(ROOT)} imports {sorted(bad)}"


def test_the_dagster_layer_does_not_import_the_cli() -> None:
    layer = _files(*(ROOT / d for d in LAYER))
    assert len(layer) > 10
    for f in layer:
        bad = {m for m in _imports(f) if m.startswith("voxlake.cli")}
        assert not bad, f"{f.relative_to(ROOT)} imports {sorted(bad)}"
