"""Convert a lake of the former layout (one Parquet file per batch, part and table, under
tables/<name>/batch=<key>/<part>.parquet) into Delta tables, in place.

Each old file becomes one commit that replaces its (batch, part) in the Delta table, so a
migration killed at any point and run again finishes with every row there once. Old files
are removed only after every one of them is committed; `commits/` goes last.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from voxlake.lake.schemas import GLOBAL_TABLES, TABLES
from voxlake.lake.store import Lake

DELTA_FILE = re.compile(r"^part-\d{5}-")  # how delta-rs names its data files
OLD_LAYOUT = (
    "this lake's tables are in the former layout (one Parquet file per batch): "
    "run `voxlake migrate` to convert them to Delta tables in place"
)


@dataclass(frozen=True)
class Migrated:
    tables: int
    files: int
    rows: int


def old_files(lake: Lake) -> list[tuple[str, str | None, str, Path]]:
    """(table, batch, part, path) of every file of the former layout."""
    found: list[tuple[str, str | None, str, Path]] = []
    for name in TABLES:
        d = lake.table_dir(name)
        if not d.is_dir():
            continue
        for path in sorted(d.glob("batch=*/*.parquet")):
            batch = path.parent.name.split("=", 1)[1]
            found.append((name, batch, path.stem, path))
        for path in sorted(d.glob("*.parquet")):
            if not DELTA_FILE.match(path.name):  # the Delta table's own data, not the old
                found.append((name, None, path.stem, path))
    return [f for f in found if not f[3].name.startswith(".tmp-")]


def is_old_layout(lake: Lake) -> bool:
    """O(tables): a table folder without a Delta log, or the former catalog file (which a
    migration removes last) left in place."""
    if (lake.root / "catalog.duckdb").exists():
        return True
    return any(
        lake.table_dir(n).is_dir() and not (lake.table_dir(n) / "_delta_log").is_dir()
        for n in TABLES
    )


def migrate(lake: Lake) -> Migrated:
    files = old_files(lake)
    rows = 0
    for name, batch, part, path in files:
        t = pq.read_table(path, schema=TABLES[name])
        lake.write_table(name, t, None if name in GLOBAL_TABLES else batch, part)
        rows += t.num_rows
    for _name, _batch, _part, path in files:
        path.unlink(missing_ok=True)
    for name in TABLES:
        for d in lake.table_dir(name).glob("batch=*"):
            shutil.rmtree(d, ignore_errors=True)
    shutil.rmtree(lake.root / "commits", ignore_errors=True)
    (lake.root / "catalog.duckdb").unlink(missing_ok=True)
    return Migrated(len({f[0] for f in files}), len(files), rows)
