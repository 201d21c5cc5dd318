"""Which schema each table file of a store lake carries: a cache on this machine, keyed by
the object's ETag.

`voxlake sql` on a store lake builds its views for each query. A view with
`union_by_name` opens every file's footer when it is built: over a store, one or two
requests per file per query, for every table. A table whose files all carry one schema
can read them by name from the first footer instead (`voxlake.lake.file_schemas` says why
not always). Knowing that needs each file's schema once; this cache keeps it per object
with the ETag the store listed (a rewritten object has a new one), so a query reads the
footers of new or replaced objects only.

The cache is derived: deleting it costs one footer read per file at the next query. It
lives under the working-copy cache ($VOXLAKE_CACHE, default ~/.cache/voxlake). An object
listed without an ETag is never cached, and its table keeps `union_by_name`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from voxlake.lake.file_schemas import schema_key
from voxlake.lake.remote import default_cache

FILE = "store_schemas.sqlite"


def _connect(cache: Path) -> sqlite3.Connection:
    cache.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(cache / FILE, timeout=60)
    con.execute(
        "create table if not exists schemas "
        "(root text, path text, etag text, schema text, primary key (root, path))"
    )
    return con


def _read_footer(fs: Any, url: str) -> str | None:
    try:
        with fs.open(url, "rb") as f:
            return schema_key(pq.read_schema(f))
    except Exception:  # a damaged object: its table keeps union_by_name, which reports it
        return None


def store_schemas(
    root: str, files: Iterable[tuple[str, str]], fs: Any, cache: Path | None = None
) -> dict[str, str | None]:
    """{path: schema key} for (path, e_tag) objects under `root` (None where the footer
    does not read or no ETag was listed). Reads only the footers the cache does not hold
    at their listed ETag; leaves the cache holding exactly `files` for this root."""
    files = list(files)
    with _connect(cache or default_cache()) as con:
        rows = con.execute("select path, etag, schema from schemas where root = ?", [root])
        cached = {path: (etag, schema) for path, etag, schema in rows}
        out: dict[str, str | None] = {}
        keep: list[tuple[str, str, str, str]] = []
        for path, etag in files:
            hit = cached.get(path)
            if etag and hit is not None and hit[0] == etag:
                out[path] = hit[1]
            else:
                out[path] = _read_footer(fs, f"{root}/{path}")
            schema = out[path]
            if etag and schema is not None:
                keep.append((root, path, etag, schema))
        if len(keep) != len(cached) or any(cached.get(p) != (e, s) for _, p, e, s in keep):
            con.execute("delete from schemas where root = ?", [root])
            con.executemany("insert into schemas values (?, ?, ?, ?)", keep)
    con.close()
    return out


def uniform(schemas: Iterable[str | None]) -> bool:
    """Every file's schema known and the same: the view may skip union_by_name."""
    keys = set(schemas)
    return None not in keys and len(keys) == 1
