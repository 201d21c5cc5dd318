"""Which batch holds each accepted voice: a keyed index derived from the `voices` table.

The raw stage asks it which of a new batch's voice ids other batches already hold (the
duplicate check). The `voices` Delta table stays the truth; `batches/_voices.sqlite` is
derived from it and caught up at every lookup from the table's log: the data files of
its current version are compared with those already folded in, and only new files are
read (a batch's commit adds one; compaction replaces many with few, read once). A file the
table no longer holds takes its rows with it. A lookup then costs the batch's ids and the
files added since the last one, not the lake. Deleting the file rebuilds it; concurrent
raw stages share it through SQLite's own locking.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager

from voxlake.lake.store import Lake

INDEX = "_voices.sqlite"
SCHEMA = """
create table if not exists voice_files (
    voice_id text, batch text, file text, primary key (voice_id, batch, file)
) without rowid;
create index if not exists voice_files_file on voice_files (file);
create table if not exists folded_files (file text primary key);
"""


def catch_up(con: sqlite3.Connection, lake: Lake) -> int:
    """Fold in the voices table's data files added since the last lookup, and drop those it
    no longer holds; returns how many changed."""
    dt = lake.tables.open("voices")
    fragments = {}
    if dt is not None:  # the table's own filesystem: a store lake's files are read in place
        fragments = {f.path.rsplit("/", 1)[-1]: f for f in dt.to_pyarrow_dataset().get_fragments()}
    folded = {f for (f,) in con.execute("select file from folded_files").fetchall()}
    gone = sorted(folded - set(fragments))
    added = sorted(set(fragments) - folded)
    for name in gone:
        con.execute("delete from voice_files where file = ?", (name,))
        con.execute("delete from folded_files where file = ?", (name,))
    for name in added:
        t = fragments[name].to_table(columns=["voice_id", "batch"])
        con.executemany(
            "insert or ignore into voice_files values (?, ?, ?)",
            [(v, b, name) for v, b in zip(*t.to_pydict().values(), strict=True) if v],
        )
        con.execute("insert or replace into folded_files values (?)", (name,))
    return len(added) + len(gone)


@contextmanager
def _caught_up(lake: Lake) -> Iterator[tuple[sqlite3.Connection, int]]:
    """The index, caught up with the table (one catcher-up at a time); files folded."""
    lake.batches_dir.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(lake.batches_dir / INDEX, timeout=300)) as con:
        con.executescript(SCHEMA)
        con.execute("begin immediate")  # one catcher-up at a time
        changed = catch_up(con, lake)
        con.commit()
        yield con, changed


def refresh(lake: Lake) -> int:
    """Catch the index up now (after a compaction, which replaces many files with few: the
    nightly job pays for their reading, not the next batch's lookup); files folded."""
    with _caught_up(lake) as (_con, changed):
        return changed


def voices_elsewhere(lake: Lake, batch: str, ids: Iterable[str]) -> dict[str, str]:
    """Which of `ids` batches other than `batch` already hold (voice_id -> first batch)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    with _caught_up(lake) as (con, _changed):
        con.execute("create temp table probe (voice_id text primary key)")
        con.executemany("insert or ignore into probe values (?)", [(v,) for v in wanted])
        rows = con.execute(
            "select voice_id, min(batch) from probe join voice_files using (voice_id) "
            "where batch != ? group by voice_id",
            (batch,),
        ).fetchall()
    return {str(v): str(b) for v, b in rows}
