"""Which batch holds each accepted voice: a keyed index derived from the `voices` tables.

The raw stage asks it which of a new batch's voice ids other batches already hold (the
duplicate check). The `voices` tables stay the truth; `batches/_voices.sqlite` is derived
from them and caught up at every lookup: one directory listing and one `stat` per batch,
and a read only of the voices files that are new or were replaced since (a file is
replaced atomically, so a new inode, size or mtime marks it). A batch whose folder is gone
(dropped) leaves the index. A lookup then costs the batch's ids, not the lake: at 10^7
voices, where the column scan opened 20,000 files, it reads none of them. Deleting the
file rebuilds it; concurrent raw stages share it through SQLite's own locking.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from contextlib import closing
from pathlib import Path

import pyarrow.parquet as pq

from voxlake.lake.store import Lake, file_signature

INDEX = "_voices.sqlite"
SCHEMA = """
create table if not exists voices (
    voice_id text, batch text, primary key (voice_id, batch)
) without rowid;
create index if not exists voices_batch on voices (batch);
create table if not exists folded (batch text primary key, signature text);
"""


def _signatures(lake: Lake) -> dict[str, str]:
    """Batch -> "inode:size:mtime_ns" of its voices file, for every batch that has one."""
    out: dict[str, str] = {}
    d = lake.table_dir("voices")
    if not d.exists():
        return out
    with os.scandir(d) as entries:
        for e in entries:
            if not (e.name.startswith("batch=") and e.is_dir()):
                continue
            sig = file_signature(Path(e.path) / "part.parquet")
            if sig is not None:
                out[e.name.split("=", 1)[1]] = sig
    return out


def catch_up(con: sqlite3.Connection, lake: Lake) -> int:
    """Fold in the voices files that changed since the last lookup; returns how many."""
    folded = dict(con.execute("select batch, signature from folded").fetchall())
    now = _signatures(lake)
    changed = sorted(b for b, sig in now.items() if folded.get(b) != sig)
    gone = sorted(set(folded) - set(now))
    for batch in gone:
        con.execute("delete from voices where batch = ?", (batch,))
        con.execute("delete from folded where batch = ?", (batch,))
    for batch in changed:
        path = lake.table_file("voices", batch)
        try:
            ids = pq.read_table(path, columns=["voice_id"]).column("voice_id").to_pylist()
        except FileNotFoundError:  # replaced or dropped since the listing: next time
            continue
        if batch in folded:  # a replaced file: its old rows go first
            con.execute("delete from voices where batch = ?", (batch,))
        con.executemany(
            "insert or ignore into voices values (?, ?)", [(v, batch) for v in ids if v]
        )
        con.execute("insert or replace into folded values (?, ?)", (batch, now[batch]))
    return len(changed) + len(gone)


def voices_elsewhere(lake: Lake, batch: str, ids: Iterable[str]) -> dict[str, str]:
    """Which of `ids` batches other than `batch` already hold (voice_id -> first batch)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    lake.batches_dir.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(lake.batches_dir / INDEX, timeout=300)) as con:
        con.executescript(SCHEMA)
        con.execute("begin immediate")  # one catcher-up at a time
        catch_up(con, lake)
        con.commit()
        con.execute("create temp table probe (voice_id text primary key)")
        con.executemany("insert or ignore into probe values (?)", [(v,) for v in wanted])
        rows = con.execute(
            "select voice_id, min(batch) from probe join voices using (voice_id) "
            "where batch != ? group by voice_id",
            (batch,),
        ).fetchall()
    return {str(v): str(b) for v, b in rows}
