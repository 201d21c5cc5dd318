"""Faults between the lake and its store: a fault-injecting proxy in front of the S3
emulator (`voxlake.testing.faulty_store`) fails the n-th PUT, conditional PUT or DELETE
of a batch commit and of a compaction, for every n, three ways (the writer dies before
it, dies after it, or loses its acknowledgement). Afterwards, read back by a fresh
process: every acknowledged batch is visible exactly once, no row names a missing file,
and a rerun completes. A commit whose outcome is unknown is read back, never cleaned up."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path

import obstore
import pytest

from voxlake.lake.compaction import compact_table
from voxlake.lake.objectstore import StoreConfig, delta_options, open_store
from voxlake.lake.objectstore.mirror import WorkingCopy
from voxlake.lake.store import Lake
from voxlake.lake.tables import Tables
from voxlake.testing.faulty_store import MODES, Faults, faulty_store
from voxlake.testing.partials import write_partial
from voxlake.testing.s3 import S3Server

pytestmark = pytest.mark.slow
QUICK = {"max_retries": "1", "retry_timeout": "2s"}  # a dead writer fails fast


def _lake(uri: str, endpoint: str, folder: Path) -> tuple[Lake, WorkingCopy]:
    cfg = StoreConfig(uri, endpoint=endpoint)
    tables = Tables(f"{uri}/tables", {**delta_options(cfg), **QUICK})
    wc = WorkingCopy(open_store(cfg), folder, tables)
    return wc.lake(), wc


def _commit_batch(lake: Lake, batch: str) -> None:
    """What a batch step does to the store: its audio, its rows naming it, its lineage."""
    voice = f"{batch}{'0' * 8}"
    rel = f"audio/raw/{voice[:2]}/{voice}.wav"
    (lake.root / rel).parent.mkdir(parents=True, exist_ok=True)
    (lake.root / rel).write_bytes(f"audio of {batch}".encode())
    lake.write_table("voices", [{"voice_id": voice, "batch": batch, "raw_path": rel}], batch)
    row = {"batch": batch, "asset": "raw_voices", "stage_hash": batch, "rows": 1}
    lake.write_table("lineage", [row], batch, part="raw_voices")


def _check(uri: str, s3: S3Server, acknowledged: set[str]) -> dict[str, int]:
    """A fresh reader: each batch's rows once, every named file present; batch -> rows."""
    lake, _ = _lake(uri, s3.endpoint, Path(tempfile.mkdtemp()))
    voices = lake.read_table("voices").to_pylist()
    counts: dict[str, int] = {}
    for v in voices:
        counts[v["batch"]] = counts.get(v["batch"], 0) + 1
        obstore.head(open_store(StoreConfig(uri)), v["raw_path"])  # raises if missing
    assert all(n == 1 for n in counts.values()), counts
    assert acknowledged <= set(counts), (acknowledged, counts)
    return counts


def _count_changes(s3: S3Server, prefix: str, op: Callable[[Lake], None]) -> int:
    with faulty_store(s3.endpoint) as (endpoint, faults):
        lake, _ = _lake(s3.uri(prefix), endpoint, Path(tempfile.mkdtemp()))
        op(lake)
        return len(faults.seen)


def _run(faults: Faults, mode: str, at: int, op: Callable[[], None]) -> bool:
    faults.arm(mode, at)
    try:
        op()
        ok = True
    except Exception:
        ok = False
    faults.disarm()
    return ok


@pytest.mark.parametrize("mode", MODES)
def test_a_batch_commit_survives_a_fault_at_every_change(s3: S3Server, mode: str) -> None:
    n = _count_changes(s3, f"count-{mode}", lambda lake: _commit_batch(lake, "b0"))
    assert n >= 5  # the audio, then each table's data file and commit
    for at in range(n):
        uri = s3.uri(f"faults/{mode}/{at}")
        with faulty_store(s3.endpoint) as (endpoint, faults):
            lake, _ = _lake(uri, endpoint, Path(tempfile.mkdtemp()))
            _commit_batch(lake, "b0")  # an earlier, acknowledged batch
            ok = _run(faults, mode, at, partial(_commit_batch, lake, "b1"))
            assert faults.injected
        _check(uri, s3, {"b0", "b1"} if ok else {"b0"})
        rerun, _ = _lake(uri, s3.endpoint, Path(tempfile.mkdtemp()))
        _commit_batch(rerun, "b1")  # the rerun completes, and the batch is there once
        assert _check(uri, s3, {"b0", "b1"}) == {"b0": 1, "b1": 1}


@pytest.mark.parametrize("mode", MODES)
def test_a_compaction_survives_a_fault_at_every_change(s3: S3Server, mode: str) -> None:
    def three_batches_then_compact(lake: Lake) -> None:
        for b in ("b0", "b1", "b2"):
            _commit_batch(lake, b)

    prefix = f"count-compact-{mode}"
    _count_changes(s3, prefix, three_batches_then_compact)
    n = _count_changes(s3, prefix, lambda lake: compact_quiet(lake))
    assert n >= 4
    for at in range(n):
        uri = s3.uri(f"compact-faults/{mode}/{at}")
        with faulty_store(s3.endpoint) as (endpoint, faults):
            lake, _ = _lake(uri, endpoint, Path(tempfile.mkdtemp()))
            three_batches_then_compact(lake)
            _run(faults, mode, at, partial(compact_quiet, lake))
            assert faults.injected
        assert _check(uri, s3, {"b0", "b1", "b2"}) == {"b0": 1, "b1": 1, "b2": 1}
        again, _ = _lake(uri, s3.endpoint, Path(tempfile.mkdtemp()))
        compact_quiet(again)  # compaction run again completes, changing no row
        assert _check(uri, s3, {"b0", "b1", "b2"}) == {"b0": 1, "b1": 1, "b2": 1}


def compact_quiet(lake: Lake) -> None:
    """Compaction of the voices table (each table's compaction is the same sequence)."""
    compact_table(lake, "voices", retention_hours=0, oldest=None)


def _dataset_step(uri: str, endpoint: str) -> None:
    """What the dataset step does on a store: pull the accumulator, update, push."""
    from voxlake.features import dataset as dataset_stats

    lake, wc = _lake(uri, endpoint, Path(tempfile.mkdtemp()))
    wc.pull_prefix("stats/")
    dataset_stats.update(lake, "fp", 2)
    wc.push()


@pytest.mark.parametrize("mode", MODES)
def test_the_dataset_step_survives_a_fault_at_every_change(s3: S3Server, mode: str) -> None:
    def two_batches(uri: str, endpoint: str) -> None:
        lake, wc = _lake(uri, endpoint, Path(tempfile.mkdtemp()))
        write_partial(lake, "b0", 1)
        write_partial(lake, "b1", 3)
        wc.push()

    def stats(uri: str) -> list[dict[str, object]]:
        lake, _ = _lake(uri, s3.endpoint, Path(tempfile.mkdtemp()))
        return lake.read_table("dataset_mel_stats").to_pylist()

    two_batches(s3.uri(f"count-dataset-{mode}"), s3.endpoint)
    with faulty_store(s3.endpoint) as (endpoint, faults):
        _dataset_step(s3.uri(f"count-dataset-{mode}"), endpoint)
        n = len(faults.seen)
    want = stats(s3.uri(f"count-dataset-{mode}"))
    assert n >= 3 and [r["n_voices"] for r in want] == [2, 2]
    for at in range(n):
        uri = s3.uri(f"dataset-faults/{mode}/{at}")
        two_batches(uri, s3.endpoint)
        with faulty_store(s3.endpoint) as (endpoint, faults):
            _run(faults, mode, at, partial(_dataset_step, uri, endpoint))
            assert faults.injected
        _dataset_step(uri, s3.endpoint)  # the retried run
        assert stats(uri) == want, (mode, at)  # each partial counted once
