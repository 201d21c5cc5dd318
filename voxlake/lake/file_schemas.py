"""Which schema each table file carries: a cache in the catalog, keyed by file signature.

A view over a table whose files all carry one schema reads them by name from the first
file's footer (`union_by_name = false`): DuckDB opens one footer to build it, and a query
binds it as cheaply. Only a table whose files differ (a lake written by versions whose
schemas differ) needs `union_by_name`, which opens every footer at every bind: 10 s at
10^6 voices for a refresh, and as long again inside each whole-lake query.

Knowing that every file agrees needs each file's schema once. This cache keeps it per
file with the file's signature ("inode:size:mtime_ns"; the lake replaces files atomically,
so a rewritten file has a new one), so a refresh reads the footers of new or replaced
files only and `stat`s the rest. The cache lives in catalog.duckdb, which is derived and
machine-local: deleting it rebuilds everything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from voxlake.lake.store import stat_signature

CACHE_TABLE = "voxlake_file_schemas"
CACHE_SCHEMA = pa.schema(
    [
        ("tbl", pa.string()),
        ("path", pa.string()),
        ("signature", pa.string()),
        ("schema", pa.string()),
    ]
)


@dataclass(frozen=True)
class TableFiles:
    readable: list[str]  # files whose footer reads, sorted
    damaged: list[Path]  # files whose footer does not
    schemas: frozenset[str]  # the distinct schemas of the readable files
    strays: bool = False  # a writer's temp file named *.parquet (a glob would read it)

    @property
    def uniform(self) -> bool:
        """One schema across every readable file: the view may skip union_by_name."""
        return len(self.schemas) <= 1


def schema_key(schema: pa.Schema) -> str:
    """Names and types in order: two files with the same key read alike by name."""
    return ", ".join(f"{f.name} {f.type}" for f in schema)


def _ensure_cache(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        f'create table if not exists "{CACHE_TABLE}" '
        "(tbl varchar, path varchar, signature varchar, schema varchar)"
    )


def _listing(folder: Path) -> tuple[list[tuple[str, str]], bool]:
    """(path, signature) of every table file below `folder`, sorted, and whether a temp
    file named *.parquet lies among them (left by a writer of an earlier version): one
    `scandir` per folder and one `stat` per file, no Path objects (20,000 files a table at
    10^7 voices)."""
    out: list[tuple[str, str]] = []
    strays = False
    stack = [str(folder)]
    while stack:
        try:
            entries = os.scandir(stack.pop())
        except FileNotFoundError:
            continue
        with entries:
            for e in entries:
                if e.is_dir(follow_symlinks=False):
                    stack.append(e.path)
                elif e.name.endswith(".parquet") and e.name.startswith(".tmp-"):
                    strays = True
                elif e.name.endswith(".parquet"):
                    try:
                        out.append((e.path, stat_signature(e.stat())))
                    except FileNotFoundError:  # replaced or dropped since the listing
                        continue
    out.sort()
    return out, strays


def table_files(con: duckdb.DuckDBPyConnection, table: str, folder: Path) -> TableFiles:
    """Classify the files below `folder` (one table's), reading the footers of files the
    cache does not know at their current signature, and leave the cache holding exactly
    these files."""
    _ensure_cache(con)
    query = f"select path, signature || '|' || schema from \"{CACHE_TABLE}\" where tbl = ?"
    cached: dict[str, str] = dict(con.execute(query, [table]).fetchall())
    readable: list[str] = []
    damaged: list[Path] = []
    rows: list[tuple[str, str, str]] = []
    changed = False
    listing, strays = _listing(folder)
    for path, sig in listing:
        hit = cached.get(path)
        if hit is not None and hit.startswith(sig + "|"):
            schema = hit[len(sig) + 1 :]
        else:
            changed = True
            try:
                schema = schema_key(pq.read_schema(path))
            except Exception:  # pyarrow raises several kinds for a damaged file
                damaged.append(Path(path))
                continue
        readable.append(path)
        rows.append((path, sig, schema))
    if changed or len(rows) != len(cached):
        con.execute(f'delete from "{CACHE_TABLE}" where tbl = ?', [table])
        new = pa.table(  # noqa: F841 - read by DuckDB's replacement scan
            [[table] * len(rows), *map(list, zip(*rows, strict=True))]
            if rows
            else [[], [], [], []],
            schema=CACHE_SCHEMA,
        )
        con.execute(f'insert into "{CACHE_TABLE}" select * from new')
    return TableFiles(readable, damaged, frozenset(r[2] for r in rows), strays)
