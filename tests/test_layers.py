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


def test_the_local_lake_imports_no_object_store_client() -> None:
    """The object store is a wing of its own (`voxlake.lake.objectstore`): the local lake,
    its tables and its catalog load without it."""
    import subprocess
    import sys

    code = (
        "import sys, voxlake.lake.store, voxlake.lake.tables, voxlake.lake.catalog, "
        "voxlake.lake.compaction, voxlake.lake.migrate; "
        "wing = ('obstore', 'voxlake.lake.objectstore'); "
        "print(sorted(m for m in sys.modules if m.startswith(wing)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
