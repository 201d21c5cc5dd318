"""Faults: a run killed mid-batch, and two batches finishing at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import pytest

from voxlake import pipeline
from voxlake.embed import index_search, index_table, index_writer
from voxlake.features import dataset as dataset_stats
from voxlake.ingest import raw as ingest
from voxlake.ingest.inbox import scan_inbox
from voxlake.lake.store import Lake
from voxlake.testing import cli_run, make_lake
from voxlake.testing.consistency import inconsistencies

ROOT = Path(__file__).resolve().parents[2]
FP = pipeline.mel_fingerprint()


def _cli(*args: str, lake: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "DAGSTER_HOME": str(lake / "dagster")}
    return subprocess.Popen(
        [sys.executable, "-m", "voxlake.cli", *args, "--lake", str(lake)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _state(lake: Lake) -> dict[str, object]:
    lineage = lake.read_table("lineage").to_pylist()
    ids = lake.read_table("voices")["voice_id"].to_pylist()
    return {
        "stage_hashes": sorted((r["batch"], r["asset"], r["stage_hash"]) for r in lineage),
        "rows": {
            t: lake.read_table(t).num_rows
            for t in (
                "voices",
                "rejected",
                "denoise_metrics",
                "voice_mel_stats",
                "embeddings",
                "voice_hashes",
                "batch_mel_stats",
                "dataset_mel_stats",
            )
        },
        "unique_voices": len(ids) == len(set(ids)),
        "index_rows": index_table.count(lake),
    }


@pytest.mark.slow
def test_sigkill_mid_batch_then_rerun_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    clean = make_lake(tmp_path / "clean")
    killed = make_lake(tmp_path / "killed")
    cli_run("run", lake=clean.root)
    proc = _cli("run", lake=killed.root)
    denoised = killed.root / "audio" / "denoised"
    deadline = time.time() + 300
    while time.time() < deadline and not (denoised.exists() and any(denoised.rglob("*.flac"))):
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert killed.read_table("embeddings").num_rows == 0  # it really stopped mid-batch
    cli_run("run", lake=killed.root)
    assert _state(killed) == _state(clean)
    assert _state(killed)["unique_voices"] is True
    assert inconsistencies(killed) == []


def _process_batch(root: str, batch: str) -> None:
    lake = Lake(root)
    ingest.ingest_batch(lake, batch)
    pipeline.run(lake, batch, pipeline.DENOISE)
    pipeline.run(lake, batch, pipeline.MEL)
    pipeline.run(lake, batch, pipeline.EMBED)
    dataset_stats.update(lake, FP, 128)
    index_writer.sync(lake)


def test_two_batches_at_once_leave_the_globals_consistent(tmp_path: Path) -> None:
    lake = make_lake(tmp_path / "lake", voices=6, speakers=3, bad_files=False)
    batches = [m.batch for m in scan_inbox(lake, batch_size=3).new_batches]
    assert len(batches) == 2
    # a worker that dies raises BrokenProcessPool here (multiprocessing.Pool would wait
    # for its lost task for ever)
    with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:
        list(pool.map(_process_batch, [str(lake.root)] * len(batches), batches, timeout=600))
    incremental = dataset_stats.load(lake)
    assert incremental is not None and incremental.n_voices == 6
    rebuilt = dataset_stats.update(lake, FP, 128, rebuild=True).final
    assert rebuilt is not None
    assert incremental.finalize().var.tobytes() == rebuilt.var.tobytes()
    assert index_table.count(lake) == 6
    assert sorted(index_search.voice_ids(lake)) == sorted(
        lake.read_table("voices")["voice_id"].to_pylist()
    )
    assert inconsistencies(lake) == []
