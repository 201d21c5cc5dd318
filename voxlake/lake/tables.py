"""The lake's tables: one Delta table per declared table (delta-rs), on a folder or a store.

A table lives at `<tables>/<name>/` as a Delta table: Parquet data files and the
`_delta_log/` of its commits. Every row carries its `batch` (null in a global table) and
the `part` of the batch it came from: the writer that put it there (a stage, a sidecar
reader, a quality suite). `write` replaces one (batch, part) in one atomic commit, so a
reader sees a batch's part whole or not at all, and a rerun replaces it in one commit.

Delta's optimistic concurrency serialises writers on one table: a commit that lost the
race to another is re-tried by delta-rs where the two touch different rows, and here
where it cannot tell. The log is checkpointed every 10 commits, so opening a table
replays at most 10 JSON entries (decision 0001). Readers name a version to read an
earlier snapshot.

The `part` column is the table's own bookkeeping: `read` and the catalog leave it out.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pds

from voxlake.lake.schemas import GLOBAL_TABLES, PARTITIONED, TABLES

PART = "part"
LOG_RETENTION = "delta.logRetentionDuration"
LOG_CLEANUP = "delta.enableExpiredLogCleanup"
CONFIGURATION = {
    "delta.checkpointInterval": "10",
    # A recorded snapshot must stay readable however old: `compact` alone expires the log
    # (it sets the retention it applies, stretched for the recorded snapshots, then cleans).
    # A writer does not clean it at its checkpoints, where the retention the last compaction
    # set may no longer cover a recorded snapshot that has aged since.
    LOG_RETENTION: "interval 3650 days",
    LOG_CLEANUP: "false",
}
COMMIT_TRIES = 20  # a write that lost to a compaction reruns on its version


@dataclass
class Traffic:
    """What this process spent on table traffic (opening logs, reading rows, committing):
    wall and CPU seconds, read by a cluster step's clock to keep it apart from the work."""

    seconds: float = 0.0
    cpu_s: float = 0.0
    depth: int = 0


TRAFFIC = Traffic()


@contextmanager
def _metered() -> Iterator[None]:
    """Count the time inside into TRAFFIC (the outermost of nested calls only)."""
    TRAFFIC.depth += 1
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        yield
    finally:
        TRAFFIC.depth -= 1
        if TRAFFIC.depth == 0:
            TRAFFIC.seconds += time.perf_counter() - t0
            TRAFFIC.cpu_s += time.process_time() - c0


@dataclass(frozen=True)
class DamagedFile:
    table: str
    path: str  # relative to the tables' location
    batch: str | None  # the one batch the file holds, else None
    problem: str


class TableDamaged(RuntimeError):
    """A table's data file is missing or unreadable (deleted or truncated by hand)."""


def stored_schema(name: str) -> pa.Schema:
    """The declared schema plus `part`, in the types Delta stores (a fixed-size list is a
    list there)."""
    fields = []
    for f in TABLES[name]:
        t = f.type
        if pa.types.is_fixed_size_list(t):
            t = pa.list_(t.value_type)
        fields.append(pa.field(f.name, t))
    fields.append(pa.field(PART, pa.string()))
    return pa.schema(fields)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def part_key(batch: str | None, part: str) -> str:
    """The `part` column's value: the write that put a row there, "<batch>/<part>", or
    "/<part>" for a write of no batch (a global table's, or dataset-wide rows)."""
    return f"{batch or ''}/{part}"


def _predicate(batch: str | None, part: str | None) -> str:
    if part is not None:
        return f"{PART} = {_literal(part_key(batch, part))}"
    return f"batch = {_literal(batch or '')}"


class Tables:
    """The Delta tables under one location: a local folder or an s3:// prefix."""

    def __init__(
        self,
        location: str,
        storage_options: dict[str, str] | None = None,
        before_write: Callable[[], object] | None = None,
    ):
        self.location = location.rstrip("/")
        self.storage_options = storage_options or None
        # A store lake's working copy pushes the files a commit's rows may name, first.
        self.before_write = before_write

    def __repr__(self) -> str:
        return f"Tables({self.location!r})"

    def uri(self, name: str) -> str:
        return f"{self.location}/{name}"

    def open(self, name: str, version: int | None = None) -> Any:
        """The table's DeltaTable (at `version`), or None where it was never written."""
        from deltalake import DeltaTable
        from deltalake.exceptions import TableNotFoundError

        try:
            with _metered():
                return DeltaTable(
                    self.uri(name), version=version, storage_options=self.storage_options
                )
        except TableNotFoundError:
            return None

    def version(self, name: str) -> int | None:
        dt = self.open(name)
        return None if dt is None else int(dt.version())

    def write(
        self,
        name: str,
        rows: pa.Table,
        batch: str | None,
        part: str,
        read_version: int | None = None,
    ) -> None:
        """Replace the rows of (batch, part) with `rows`, in one commit. With
        `read_version` (the version `rows` were made from), a commit since then that
        touched the part makes this one fail (CommitFailedError) instead of retrying."""
        if name in GLOBAL_TABLES:
            batch = None
        target = None if read_version is None else self.open(name, read_version)
        self._commit(name, rows, part_key(batch, part), _predicate(batch, part), target)

    def replace(
        self, name: str, rows: pa.Table, parts: list[str] | None, read_version: int | None
    ) -> None:
        """Replace the rows of these parts (full `part` keys; None: every row) with `rows`,
        which carry their own `part` column, in one commit. `read_version` is the version
        `rows` were made from: a commit since then that touched those parts makes this one
        fail (CommitFailedError), for the caller to read again."""
        keys = sorted({*(parts or []), *rows.column(PART).to_pylist()})
        where = None if parts is None else f"{PART} IN ({', '.join(map(_literal, keys))})"
        target = None if read_version is None else self.open(name, read_version)
        self._commit(name, rows, None, where, target)

    def _commit(
        self, name: str, rows: pa.Table, key: str | None, predicate: str | None, target: Any
    ) -> None:
        from deltalake import write_deltalake
        from deltalake.exceptions import CommitFailedError

        if self.before_write is not None:
            self.before_write()
        stored = stored_schema(name)
        t = rows
        if key is not None:
            t = rows.append_column(PART, pa.array([key] * rows.num_rows, pa.string()))
        t = t.select(stored.names).cast(stored)
        for attempt in range(COMMIT_TRIES):
            try:
                with _metered():
                    write_deltalake(
                        self.uri(name) if target is None else target,
                        t,
                        mode="overwrite",
                        predicate=predicate,
                        partition_by=PARTITIONED.get(name),
                        configuration=CONFIGURATION,
                        storage_options=self.storage_options,
                    )
                return
            except CommitFailedError:
                if target is not None or attempt == COMMIT_TRIES - 1:
                    raise
                time.sleep(0.05 * (attempt + 1))

    def read_with_parts(self, name: str, version: int | None = None) -> tuple[int | None, pa.Table]:
        """A table's rows with their `part` column, at `version` (default: the current
        one), and the version read."""
        dt = self.open(name, version)
        if dt is None:
            return None, stored_schema(name).empty_table()
        return int(dt.version()), dt.to_pyarrow_dataset(schema=stored_schema(name)).to_table()

    def delete(self, name: str, batch: str, part: str | None = None) -> int:
        """Remove a batch's rows (or one part's), in one commit; how many went."""
        dt = self.open(name)
        if dt is None:
            return 0
        metrics = dt.delete(_predicate(batch, part))
        return int(metrics.get("num_deleted_rows", 0) or 0)

    def delete_voices(self, name: str, batch: str, voice_ids: list[str]) -> int:
        """Remove these voices' rows from one batch, in one commit; how many went."""
        dt = self.open(name)
        if dt is None or not voice_ids:
            return 0
        ids = ", ".join(_literal(v) for v in voice_ids)
        metrics = dt.delete(f"{_predicate(batch, None)} AND voice_id IN ({ids})")
        return int(metrics.get("num_deleted_rows", 0) or 0)

    def expire(self, name: str, keep_hours: float) -> int:
        """Delete the data files that no version newer than `keep_hours` ago reads (Delta's
        vacuum): earlier snapshots older than that can no longer be read. Files removed."""
        dt = self.open(name)
        if dt is None:
            return 0
        removed = dt.vacuum(
            retention_hours=int(keep_hours), enforce_retention_duration=False, dry_run=False
        )
        return len(removed)

    def dataset(self, name: str, version: int | None = None) -> pds.Dataset | None:
        """The committed rows as an Arrow dataset in the declared schema (no `part`)."""
        dt = self.open(name, version)
        if dt is None:
            return None
        return dt.to_pyarrow_dataset(schema=TABLES[name])

    def read(
        self,
        name: str,
        batch: str | None = None,
        version: int | None = None,
        part: str | None = None,
    ) -> pa.Table:
        """A table's rows (or one batch's, or one part's: with `part`, a null `batch` is
        the dataset-wide rows) in the declared schema, ordered by batch and part, each
        part's rows in the order written."""
        schema = TABLES[name]
        dt = self.open(name, version)
        if dt is None:
            return schema.empty_table()
        ds = dt.to_pyarrow_dataset(schema=stored_schema(name))
        where = None if batch is None else pds.field("batch") == batch
        if part is not None:
            where = pds.field(PART) == part_key(batch, part)
        try:
            with _metered():
                t = ds.to_table(filter=where)
        except (FileNotFoundError, OSError) as e:
            raise TableDamaged(_damaged(name, batch, e)) from e
        if t.num_rows:
            keys = [k for k in ("batch", PART) if k in t.column_names]
            t = t.sort_by([(k, "ascending") for k in keys])
        return t.select(schema.names).cast(schema)

    def read_parts(self, name: str, part: str, columns: list[str]) -> pa.Table:
        """These columns of every batch's rows of one part (all batches, one scan)."""
        dt = self.open(name)
        if dt is None:
            return TABLES[name].empty_table().select(columns)
        ds = dt.to_pyarrow_dataset(schema=stored_schema(name))
        t = ds.to_table(columns=[*columns, PART])
        t = t.filter(pc.ends_with(t[PART], f"/{part}")).select(columns)
        return t.sort_by([(c, "ascending") for c in columns[:1]])

    def rows(self, name: str, batch: str | None = None) -> int:
        """Row count: from the log's statistics alone where no batch is named."""
        dt = self.open(name)
        if dt is None:
            return 0
        if batch is None:
            return int(pc.sum(_actions(dt).column("num_records")).as_py() or 0)
        ds = dt.to_pyarrow_dataset()
        return int(ds.count_rows(filter=None if batch is None else pds.field("batch") == batch))

    def batches(self, name: str) -> list[str]:
        """The batches holding rows of `name`."""
        dt = self.open(name)
        if dt is None:
            return []
        col = dt.to_pyarrow_dataset().to_table(columns=["batch"])["batch"]
        return sorted(v for v in col.unique().to_pylist() if v)

    def damaged(self, name: str) -> list[DamagedFile]:
        """The current version's data files that are missing, not the size the log
        recorded, or unreadable (deleted, truncated or overwritten by hand)."""
        import pyarrow.parquet as pq

        dt = self.open(name)
        if dt is None:
            return []
        actions = _actions(dt).to_pydict()
        uris = {u.rsplit("/", 1)[-1]: u for u in dt.file_uris()}
        out = []
        for i, path in enumerate(actions["path"]):
            lo, hi = actions.get("min.batch", [None])[i], actions.get("max.batch", [None])[i]
            uri = uris.get(path.rsplit("/", 1)[-1], f"{self.uri(name)}/{path}")
            try:
                meta = pq.read_metadata(uri)
                problem = "" if meta.num_rows == actions["num_records"][i] else "rows differ"
            except FileNotFoundError:
                problem = "missing"
            except Exception as e:  # pyarrow raises several kinds for a damaged file
                problem = f"unreadable: {str(e).splitlines()[0][:120]}"
            if problem:
                out.append(DamagedFile(name, f"{name}/{path}", lo if lo == hi else None, problem))
        return out

    def drop_damaged(self, name: str, batch: str) -> list[DamagedFile]:
        """Before a rerun of `batch`: take the damaged data files that hold its rows only out
        of the table (deleted, then dropped from the log by Delta's `repair`), so the rerun
        can rewrite them. A damaged file holding other batches too stays, and is returned:
        those batches must be rerun with it."""
        damaged = self.damaged(name)
        mine = [d for d in damaged if d.batch == batch]
        if mine and "://" not in self.location:  # a store's files are repaired by a rerun
            for d in mine:
                Path(f"{self.location}/{d.path}").unlink(missing_ok=True)
            dt = self.open(name)
            dt.repair(dry_run=False)
        return [d for d in damaged if d.batch is None]

    def files(self, name: str, version: int | None = None) -> list[str]:
        dt = self.open(name, version)
        return [] if dt is None else sorted(dt.file_uris())


def _actions(dt: Any) -> pa.Table:
    """The current version's add actions (one row per data file, with its statistics)."""
    return pa.table(dt.get_add_actions(flatten=True))


def _damaged(name: str, batch: str | None, e: BaseException) -> str:
    where = f"batch {batch} of " if batch else ""
    first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
    return (
        f"{where}table {name}: a data file is missing or unreadable ({first}); "
        "`voxlake doctor` lists what is damaged"
    )


def copy_tables(src: Tables, dst: Tables) -> int:
    """Copy every table's current rows from `src` to `dst`, one commit per table; returns
    the number of tables copied."""
    from deltalake import write_deltalake

    copied = 0
    for name in TABLES:
        dt = src.open(name)
        if dt is None:
            continue
        t = dt.to_pyarrow_dataset(schema=stored_schema(name)).to_table()
        write_deltalake(
            dst.uri(name),
            t,
            mode="overwrite",
            partition_by=PARTITIONED.get(name),
            configuration=CONFIGURATION,
            storage_options=dst.storage_options,
        )
        copied += 1
    return copied
