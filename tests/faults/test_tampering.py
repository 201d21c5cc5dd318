"""Tampering with what the lake serves: an overwritten denoised FLAC, a truncated Parquet
file, a deleted raw file. `verify` and `doctor` name the file, the voice and the repair;
the repair leaves a consistent lake."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from voxlake.cli import main
from voxlake.lake.store import Lake
from voxlake.lake.voice_ids import short
from voxlake.orchestration.runner import RunSettings, instance_for, run_pending
from voxlake.repro.doctor import doctor
from voxlake.testing import make_lake
from voxlake.testing.consistency import inconsistencies


def _overwrite_denoised(lake: Lake) -> tuple[str, str]:
    a, b = sorted(lake.read_table("voices")["voice_id"].to_pylist())[:2]
    shutil.copyfile(lake.denoised_audio(b), lake.denoised_audio(a))
    return lake.relative(lake.denoised_audio(a)), a


def _truncate_parquet(lake: Lake) -> tuple[str, str]:
    part = Path(lake.tables.files("voice_mel_stats")[0])
    part.write_bytes(part.read_bytes()[:100])
    return lake.relative(part), ""


def _delete_raw(lake: Lake) -> tuple[str, str]:
    voice = sorted(lake.read_table("voices").to_pylist(), key=lambda v: v["voice_id"])[0]
    (lake.root / voice["raw_path"]).unlink()
    return voice["raw_path"], voice["voice_id"]


@pytest.mark.parametrize(
    "tamper",
    [_overwrite_denoised, _truncate_parquet, _delete_raw],
    ids=["overwritten_flac", "truncated_parquet", "deleted_raw"],
)
@pytest.mark.slow
def test_tampering_is_named_with_its_repair_and_the_repair_works(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tamper: Callable[[Lake], tuple[str, str]],
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    lake = make_lake(tmp_path / "lake", voices=3, speakers=3, bad_files=False)
    instance = instance_for(lake)
    settings = RunSettings(str(lake.root))
    (batch,) = run_pending(lake, instance, settings, echo=lambda _: None).succeeded
    assert inconsistencies(lake) == []
    path, voice = tamper(lake)

    (finding,) = doctor(lake)
    assert (finding.path, finding.voice_id) == (path, voice)
    assert finding.repair.startswith("voxlake run --batches") or "voxlake ingest" in finding.repair
    assert main(["verify", "--runs", "0", "--lake", str(lake.root)]) == 1
    err = capsys.readouterr().err
    assert path in err and (not voice or short(voice) in err)

    repaired = run_pending(lake, instance, settings, echo=lambda _: None, rerun=[batch])
    assert repaired.succeeded == [batch]
    assert inconsistencies(lake) == []
    assert main(["verify", "--runs", "1", "--lake", str(lake.root)]) == 0
    instance.dispose()
