"""`voxlake run`'s runs: a dataset step that a killed run left behind is caught up."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from voxlake.demo import corpus
from voxlake.embed import index_table, index_writer
from voxlake.features import dataset as dataset_stats
from voxlake.lake.store import Lake
from voxlake.orchestration.runner import RunSettings, run_pending
from voxlake.repro.doctor import doctor
from voxlake.testing import make_lake, process_all


def test_a_run_catches_up_the_dataset_step_a_killed_run_left_behind(tmp_path: Path) -> None:
    lake = make_lake(tmp_path / "lake", voices=3, speakers=3, bad_files=False)
    settings = RunSettings(str(lake.root))
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        first = run_pending(lake, instance, settings, echo=lambda _: None)
        assert len(first.succeeded) == 1 and index_table.count(lake) == 3
        # A second batch goes through every stage, and the run dies before the dataset step.
        corpus.generate(lake.inbox / "more", tmp_path / "clean", 2, 2, seed=9, bad_files=False)
        instance.add_dynamic_partitions("voice_batches", process_all(lake))
        assert dataset_stats.behind(lake) and index_writer.behind(lake)
        lines: list[str] = []
        again = run_pending(lake, instance, settings, echo=lines.append)
        assert again.new_batches == [] and again.failed == []
        assert any("behind on 1 batch(es)" in line for line in lines)
        assert index_table.count(lake) == 5
        assert lake.read_table("dataset_mel_stats")["n_voices"][0].as_py() == 5
        assert dataset_stats.behind(lake) == [] and index_writer.behind(lake) == []


def test_doctor_names_a_damaged_batch_and_a_rerun_repairs_it(tmp_path: Path) -> None:
    lake = make_lake(tmp_path / "lake", voices=2, speakers=2, bad_files=False)
    settings = RunSettings(str(lake.root))
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        run_pending(lake, instance, settings, echo=lambda _: None)
        assert doctor(lake) == []
        a, b = sorted(lake.read_table("voices")["voice_id"].to_pylist())
        shutil.copyfile(lake.denoised_audio(b), lake.denoised_audio(a))
        (finding,) = doctor(lake)
        with pytest.raises(LookupError, match="no batch nope"):
            run_pending(lake, instance, settings, rerun=["nope"])
        repaired = run_pending(lake, instance, settings, echo=lambda _: None, rerun=[finding.batch])
        assert repaired.succeeded == [finding.batch]
        assert doctor(lake) == []


def test_a_second_run_on_the_lake_waits_for_the_first(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake").ensure()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_RUNS_LOCK, str(lake.root)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
    lines: list[str] = []
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        t0 = time.perf_counter()
        summary = run_pending(lake, instance, RunSettings(str(lake.root)), echo=lines.append)
        waited = time.perf_counter() - t0
    holder.wait(timeout=30)
    assert summary.failed == [] and any("waiting for it" in line for line in lines)
    assert waited >= 1.0


HOLD_RUNS_LOCK = """
import sys, time
from voxlake.lake.store import Lake
with Lake(sys.argv[1]).lock("runs"):
    print("holding", flush=True)
    time.sleep(2)
"""
