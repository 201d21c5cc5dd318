"""Ctrl-C and SIGTERM stop a run within seconds and leave the lake as a kill does: a rerun
finishes the work, and the result equals an uninterrupted run."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import pytest

from voxlake.lake.store import Lake
from voxlake.testing import cli_process, cli_run, make_lake
from voxlake.testing.consistency import inconsistencies

STOP_WITHIN_S = 15.0


def _tables(lake: Lake) -> dict[str, object]:
    lineage = lake.read_table("lineage").to_pylist()
    hashes = sorted((r["batch"], r["asset"], r["stage_hash"]) for r in lineage)
    return {"hashes": hashes, "voices": sorted(lake.read_table("voices")["voice_id"].to_pylist())}


def _stop_when(lake: Lake, ready: object, sig: signal.Signals, *args: str) -> tuple[int, float]:
    """Start `voxlake run`, send `sig` once `ready(lines)` holds; (exit code, seconds to stop)."""
    proc = cli_process("run", *args, lake=lake.root)
    assert proc.stderr is not None and proc.stdout is not None
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True).start()  # type: ignore[arg-type]
    deadline = time.time() + 300
    while time.time() < deadline and not ready(lines) and proc.poll() is None:  # type: ignore[operator]
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before the signal"
    t0 = time.perf_counter()
    proc.send_signal(sig)
    code = proc.wait(timeout=120)
    stopped = time.perf_counter() - t0
    err = proc.stderr.read()
    assert "interrupted" in err and "voxlake run" in err, err[-2000:]
    return code, stopped


@pytest.mark.slow
def test_sigterm_mid_batch_stops_within_seconds_and_a_rerun_equals_a_clean_run(
    tmp_path: Path,
) -> None:
    clean = make_lake(tmp_path / "clean", voices=8)
    stopped = make_lake(tmp_path / "stopped", voices=8)
    cli_run("run", lake=clean.root)
    denoised = stopped.root / "audio" / "denoised"

    def denoising(_: list[str]) -> bool:
        return denoised.exists() and any(denoised.rglob("*.flac"))

    code, seconds = _stop_when(stopped, denoising, signal.SIGTERM, "--workers", "2")
    assert code == 130 and seconds < STOP_WITHIN_S
    assert stopped.read_table("embeddings").num_rows == 0  # it stopped mid-batch
    cli_run("run", lake=stopped.root)
    assert _tables(stopped) == _tables(clean)
    assert inconsistencies(stopped) == []


@pytest.mark.slow
def test_ctrl_c_in_the_dataset_step_then_a_rerun_catches_up(tmp_path: Path) -> None:
    lake = make_lake(tmp_path / "lake", voices=4)

    def in_dataset_step(lines: list[str]) -> bool:
        return any(line.startswith("dataset:") for line in lines)

    code, seconds = _stop_when(lake, in_dataset_step, signal.SIGINT)
    assert code == 130 and seconds < STOP_WITHIN_S
    rerun = cli_process("run", lake=lake.root)
    _, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err[-2000:]
    assert inconsistencies(lake) == []
