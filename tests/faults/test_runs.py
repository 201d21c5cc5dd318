"""Faults around runs: a dataset step a killed run left behind, a killed run holding the
global pool, two runs on one lake, a damaged batch repaired by a rerun."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import dagster as dg
import pytest

from voxlake.demo import corpus
from voxlake.embed import index_table, index_writer
from voxlake.features import dataset as dataset_stats
from voxlake.lake.store import Lake
from voxlake.orchestration import runner
from voxlake.orchestration.runner import RunSettings, run_pending
from voxlake.repro.doctor import doctor
from voxlake.testing import make_lake, process_all
from voxlake.testing.consistency import inconsistencies


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
    assert inconsistencies(lake) == []


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
    assert inconsistencies(lake) == []


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


def test_a_killed_run_holding_the_global_pool_does_not_freeze_later_runs(tmp_path: Path) -> None:
    lake = make_lake(tmp_path / "lake", voices=2, speakers=2, bad_files=False)
    pools = {"concurrency": {"pools": {"default_limit": 1}}}  # as the lake's dagster.yaml
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster"), overrides=pools) as instance:
        # What SIGKILL during the dataset step leaves: a started run holding the pool slot.
        dead = dg.DagsterRun(
            job_name="refresh_dataset",
            run_id="00000000-dead-4000-8000-000000000000",
            status=dg.DagsterRunStatus.STARTED,
            tags={**runner._cli_tags(), "voxlake/pid": str(_dead_pid())},
        )
        instance.add_run(dead)
        storage = instance.event_log_storage
        storage.initialize_concurrency_limit_to_default("voxlake_global")
        claim = storage.claim_concurrency_slot("voxlake_global", dead.run_id, "mel_stats")
        assert claim.is_claimed
        lines: list[str] = []
        done = threading.Event()
        result: list[object] = []

        def run() -> None:
            result.append(run_pending(lake, instance, RunSettings(str(lake.root)), lines.append))
            done.set()

        threading.Thread(target=run, daemon=True).start()
        assert done.wait(timeout=240), "the run waited on the dead run's pool slot"
        assert any("released run 00000000" in line for line in lines)
        stored = instance.get_run_by_id(dead.run_id)
        assert stored is not None and stored.status == dg.DagsterRunStatus.FAILURE
        assert index_table.count(lake) == 2
    assert inconsistencies(lake) == []


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid
