"""What the inbox scan has already seen, kept as a keyed index beside the manifests.

The manifests (and the re-sent and dropped logs) stay the truth; `_seen.sqlite` is derived
from them and caught up at the start of every scan: manifests it has not folded in yet
(found by name) and the logs' new lines (from the byte offset it stopped at). A scan then
looks up only the files it finds, so its cost follows the inbox, not the lake's history.
A manifest written by a scan that died before updating the index is folded in by the
next one. Deleting the file rebuilds it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager

from voxlake.lake.store import Lake

INDEX = "_seen.sqlite"
LOGS = ("_resent.jsonl", "_dropped.jsonl")
Key = tuple[str, int, int]

SCHEMA = """
create table if not exists files (
    path text, size integer, mtime_ns integer, voice_id text,
    primary key (path, size, mtime_ns)
) without rowid;
create index if not exists files_voice on files (voice_id);
create table if not exists folded (name text primary key, offset integer);
"""


@contextmanager
def seen_index(lake: Lake) -> Iterator[SeenIndex]:
    """The index, caught up with the manifests and logs (call under the batches lock)."""
    with closing(sqlite3.connect(lake.batches_dir / INDEX)) as con:
        con.executescript(SCHEMA)
        index = SeenIndex(con)
        index.catch_up(lake)
        yield index
        con.commit()


class SeenIndex:
    def __init__(self, con: sqlite3.Connection):
        self.con = con

    def add(self, entries: Iterable[tuple[str, int, int, str | None]]) -> None:
        self.con.executemany("insert or replace into files values (?, ?, ?, ?)", list(entries))

    def catch_up(self, lake: Lake) -> None:
        from voxlake.ingest.inbox import list_batches, manifest_path

        folded = dict(self.con.execute("select name, offset from folded").fetchall())
        for batch in list_batches(lake):
            if batch in folded:
                continue
            files = json.loads(manifest_path(lake, batch).read_text())["files"]
            self.add((f["path"], f["size"], f["mtime_ns"], f["voice_id"]) for f in files)
            self.con.execute("insert into folded values (?, 0)", (batch,))
        for log in LOGS:
            path = lake.batches_dir / log
            start = folded.get(log, 0)
            if not path.exists() or path.stat().st_size <= start:
                continue
            with open(path, "rb") as fh:
                fh.seek(start)
                tail = fh.read()
            end = start + tail.rfind(b"\n") + 1  # whole lines only
            lines = [json.loads(x) for x in tail[: end - start].splitlines() if x.strip()]
            self.add((f["path"], f["size"], f["mtime_ns"], f["voice_id"]) for f in lines)
            self.con.execute("insert or replace into folded values (?, ?)", (log, end))

    def seen(self, keys: Iterable[Key]) -> set[Key]:
        """Those of `keys` that an earlier scan saw."""
        self.con.execute("create temp table if not exists probe (path, size, mtime_ns)")
        self.con.execute("delete from probe")
        self.con.executemany("insert into probe values (?, ?, ?)", [tuple(k) for k in keys])
        rows = self.con.execute(
            "select path, size, mtime_ns from probe join files using (path, size, mtime_ns)"
        )
        return {(str(a), int(b), int(c)) for a, b, c in rows}

    def known(self, voice_ids: Iterable[str]) -> set[str]:
        """Those of `voice_ids` that a manifest or log holds."""
        self.con.execute("create temp table if not exists probe_ids (voice_id)")
        self.con.execute("delete from probe_ids")
        self.con.executemany("insert into probe_ids values (?)", [(v,) for v in set(voice_ids)])
        rows = self.con.execute(
            "select distinct voice_id from probe_ids join files using (voice_id)"
        )
        return {str(r[0]) for r in rows}

    def fold(self, batch: str, entries: Iterable[tuple[str, int, int, str | None]]) -> None:
        """A manifest this scan wrote."""
        self.add(entries)
        self.con.execute("insert or replace into folded values (?, 0)", (batch,))

    def forget(self, voice_ids: Iterable[str]) -> None:
        """Erased voices: a file with their content may be ingested again."""
        self.con.executemany("delete from files where voice_id = ?", [(v,) for v in voice_ids])
