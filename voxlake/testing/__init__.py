"""Shared test fixtures, importable: lakes built from corpora the project generates itself.

Nothing here imports Dagster; the Dagster layer's helpers are in
`voxlake.orchestration.testing`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from voxlake import pipeline
from voxlake.demo import corpus
from voxlake.ingest import inbox, raw
from voxlake.lake.store import Lake


def make_lake(
    root: Path, voices: int = 6, speakers: int = 3, seed: int = 0, bad_files: bool = True
) -> Lake:
    lake = Lake(root).ensure()
    corpus.generate(lake.inbox, lake.root / "demo" / "clean", voices, speakers, seed, bad_files)
    return lake


def process_all(lake: Lake) -> list[str]:
    """Run every per-batch stage of every new batch with the core functions."""
    scan = inbox.scan_inbox(lake)
    keys = [m.batch for m in scan.new_batches]
    for b in keys:
        raw.ingest_batch(lake, b)
        for stage in pipeline.BATCH_STAGES:
            pipeline.run(lake, b, stage)
    return keys


def cli_process(*args: str, lake: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """`voxlake ARGS --lake LAKE` as its own process (to be signalled or killed); `env`
    adds to (or overrides) the environment, DAGSTER_HOME included."""
    env = {
        **os.environ,
        "DAGSTER_HOME": str(lake / "dagster"),
        "VOXLAKE_PROGRESS": "lines",
        **(env or {}),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "voxlake.cli", *args, "--lake", str(lake)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def cli_run(*args: str, lake: Path, env: dict[str, str] | None = None) -> str:
    """`voxlake ARGS --lake LAKE` to its end (its pipes read as it writes, so a chatty run
    cannot block on a full one); an AssertionError with the end of its stderr unless it exits
    0. Returns its stdout."""
    proc = cli_process(*args, lake=lake, env=env)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, (
        f"voxlake {' '.join(args)} exited {proc.returncode}:\n{err[-4000:]}"
    )
    return out


def completed_copy(lake: Lake, dest: Path) -> Lake:
    """A copy of a processed lake with its dataset stats and index brought up to date."""
    from voxlake.embed import index_writer
    from voxlake.features import dataset

    copy = Lake(dest)
    shutil.copytree(lake.root, copy.root)
    dataset.update(copy, pipeline.mel_fingerprint(), pipeline.PipelineConfig().mel.n_mels)
    index_writer.sync(copy)
    return copy
