"""Table maintenance: merge small data files, checkpoint the log, expire old snapshots.

Every batch adds a small data file to each table it writes, so `compact` merges them
(delta-rs' bin-packing `optimize.compact`, which changes no row), writes a checkpoint,
and then deletes the data files that no snapshot younger than the retention reads
(`vacuum`) and the log entries older than it (`cleanup_metadata`), so that the log a
commit lists holds the retention window's commits, not the whole history. A snapshot
that an export or hash manifest recorded (`snapshots/`) is kept whatever its age: the
retention of a table stretches back to the commit that superseded its oldest recorded
version.

Compaction and batch commits go through Delta's optimistic concurrency: a compaction
that loses to a batch commit is re-tried on the new version, and a batch commit that
loses to a compaction re-tries its own write (`voxlake.lake.tables`), so no row is lost.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from voxlake.lake import snapshots
from voxlake.lake.schemas import TABLES
from voxlake.lake.store import Lake
from voxlake.lake.tables import LOG_CLEANUP, LOG_RETENTION

DEFAULT_RETENTION_HOURS = 168.0  # a week of snapshots stays readable by timestamp
TARGET_FILE_BYTES = 128 * 2**20
TRIES = 5


@dataclass(frozen=True)
class Compacted:
    table: str
    files_before: int
    files_after: int
    bytes_before: int
    bytes_after: int
    expired_files: int
    kept_hours: float  # the retention applied (stretched for a recorded snapshot)
    skipped: bool = False  # lost every try to batch commits: left for the next run
    expired_log_files: int = 0  # commit entries and checkpoints older than the retention


def _files_and_bytes(dt: Any) -> tuple[int, int]:
    actions = pa.table(dt.get_add_actions(flatten=True))
    return actions.num_rows, int(pc.sum(actions.column("size_bytes")).as_py() or 0)


def _hours_to_keep(dt: Any, oldest: int | None, retention_hours: float) -> float:
    """The retention, stretched so that version `oldest` stays readable: its data files
    were tombstoned no earlier than the commit after it."""
    if oldest is None or oldest >= dt.version():
        return retention_hours
    after = [h for h in dt.history() if h.get("version") == oldest + 1]
    if not after:
        return retention_hours
    committed = datetime.fromtimestamp(after[0]["timestamp"] / 1000, tz=UTC)
    age = (datetime.now(UTC) - committed).total_seconds() / 3600
    return max(retention_hours, math.ceil(age) + 1.0)


def _log_files(lake: Lake, name: str) -> int | None:
    log = Path(lake.tables.uri(name)) / "_delta_log"
    return sum(1 for _ in log.iterdir()) if log.is_dir() else None  # None: not a folder


def _expire_log(lake: Lake, name: str, hours: float) -> int:
    """Delete the table's log entries older than `hours`, up to the checkpoint that the
    versions kept need (delta-rs' `cleanup_metadata`, by the table's
    `delta.logRetentionDuration`, set here to the retention applied; writers never clean it
    themselves, `delta.enableExpiredLogCleanup` being off). Every commit and
    every open lists the log, so without this a commit's cost grows with the lake's whole
    history (`benchmarks/delta_log_growth.py`: 11.6 ms to 30.2 ms over 2,000 batches;
    6.9 ms to 10.8 ms with the log expired). Returns the files it deleted (0 on a store,
    whose log is not a folder)."""
    dt = lake.tables.open(name)
    want = {LOG_RETENTION: f"interval {math.ceil(hours)} hours", LOG_CLEANUP: "false"}
    have = dt.metadata().configuration
    if any(have.get(k) != v for k, v in want.items()):
        dt.alter.set_table_properties(want)
        dt = lake.tables.open(name)
    before = _log_files(lake, name)
    dt.cleanup_metadata()
    after = _log_files(lake, name)
    return (before or 0) - (after or 0)


def oldest_recorded(lake: Lake) -> dict[str, int]:
    """Each table's oldest version that a recorded snapshot names."""
    out: dict[str, int] = {}
    for snap in snapshots.recorded(lake.root / "snapshots"):
        for name, version in snap.versions.items():
            if version is not None:
                out[name] = min(out.get(name, version), version)
    return out


def compact_table(
    lake: Lake, name: str, retention_hours: float, oldest: int | None
) -> Compacted | None:
    from deltalake.exceptions import CommitFailedError

    dt = lake.tables.open(name)
    if dt is None:
        return None
    files_before, bytes_before = _files_and_bytes(dt)
    keep = retention_hours
    expired: list[str] = []
    expired_log = 0
    for attempt in range(TRIES):
        try:
            dt = lake.tables.open(name)
            dt.optimize.compact(target_size=TARGET_FILE_BYTES)
            dt = lake.tables.open(name)
            dt.create_checkpoint()
            keep = _hours_to_keep(dt, oldest, retention_hours)
            expired = dt.vacuum(
                retention_hours=math.ceil(keep), enforce_retention_duration=False, dry_run=False
            )
            expired_log = _expire_log(lake, name, keep)
            break
        except CommitFailedError:  # a batch committed meanwhile: again, on its version
            if attempt == TRIES - 1:  # a busy lake: no row is lost, the next run compacts
                return Compacted(
                    name, files_before, files_before, bytes_before, bytes_before, 0, keep, True
                )
            time.sleep(0.1 * (attempt + 1))
    files_after, bytes_after = _files_and_bytes(lake.tables.open(name))
    return Compacted(
        name,
        files_before,
        files_after,
        bytes_before,
        bytes_after,
        len(expired),
        keep,
        expired_log_files=expired_log,
    )


def compact(lake: Lake, retention_hours: float = DEFAULT_RETENTION_HOURS) -> list[Compacted]:
    """Compact every table; what each held before and after."""
    oldest = oldest_recorded(lake)
    done = []
    for name in TABLES:
        c = compact_table(lake, name, retention_hours, oldest.get(name))
        if c is not None:
            done.append(c)
    return done
