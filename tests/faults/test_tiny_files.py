"""1,200 tiny files in one ingest: batches of 500/500/200, every file accounted for; and a
batch whose every file is refused completes (empty) instead of failing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voxlake.lake.store import Lake
from voxlake.orchestration.runner import RunSettings, instance_for, run_pending
from voxlake.testing.consistency import inconsistencies


@pytest.mark.slow
def test_1200_tiny_files_in_one_ingest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    lake = Lake(tmp_path / "lake").ensure()
    for i in range(1200):  # 0.6 s tones (every 100th 0.3 s: too short), each its own pitch
        t = np.arange(9600 if i % 100 else 4800) / 16000
        x = 0.2 * np.sin(2 * np.pi * (100 + i * 0.5) * t + i) + 0.01 * np.sin(i * t)
        sf.write(lake.inbox / f"tiny_{i:04d}.wav", x.astype(np.float32), 16000, subtype="PCM_16")
    instance = instance_for(lake)
    summary = run_pending(lake, instance, RunSettings(str(lake.root), workers=2), lambda _: None)
    assert summary.failed == [] and len(summary.succeeded) == 3, summary.reasons
    sizes = sorted(
        lake.read_table("voices", b).num_rows
        + lake.read_table("rejected", b).num_rows
        + lake.read_table("duplicates", b).num_rows
        for b in summary.succeeded
    )
    assert sizes == [200, 500, 500]
    assert lake.read_table("rejected").num_rows == 12
    assert inconsistencies(lake) == []
    instance.dispose()


def test_a_batch_of_refused_files_only_completes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    lake = Lake(tmp_path / "lake").ensure()
    sf.write(lake.inbox / "short.wav", np.full(1000, 0.1, np.float32), 16000)
    (lake.inbox / "text.wav").write_text("not audio")
    instance = instance_for(lake)
    summary = run_pending(lake, instance, RunSettings(str(lake.root)), lambda _: None)
    assert summary.failed == [] and len(summary.succeeded) == 1, summary.reasons
    assert lake.read_table("rejected").num_rows == 2
    assert inconsistencies(lake) == []
    instance.dispose()
