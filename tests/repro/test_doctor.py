"""`doctor` hashes what the lake serves against lineage and names what is wrong."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from voxlake.lake import catalog
from voxlake.lake.store import Lake
from voxlake.lake.tables import TableDamaged
from voxlake.repro.doctor import doctor
from voxlake.testing import completed_copy


@pytest.fixture
def lake(processed_lake: Lake, tmp_path: Path) -> Lake:
    copy = completed_copy(processed_lake, tmp_path / "lake")
    return copy


def _ids(lake: Lake) -> list[str]:
    return sorted(lake.read_table("voices")["voice_id"].to_pylist())


def test_a_healthy_lake_has_no_findings(lake: Lake) -> None:
    assert doctor(lake) == []


def test_an_overwritten_denoised_file_is_named(lake: Lake) -> None:
    a, b = _ids(lake)[:2]
    shutil.copyfile(lake.denoised_audio(b), lake.denoised_audio(a))  # another voice's bytes
    (finding,) = doctor(lake)
    assert (finding.what, finding.voice_id, finding.problem) == (
        "stage_file",
        a,
        "content differs from lineage",
    )
    assert finding.path == lake.relative(lake.denoised_audio(a))
    assert finding.repair == f"voxlake run --batches {finding.batch}"


def test_a_deleted_raw_file_and_a_changed_mel_array_are_named(lake: Lake) -> None:
    a, b = _ids(lake)[:2]
    raw = lake.read_table("voices").to_pylist()
    (lake.root / next(v["raw_path"] for v in raw if v["voice_id"] == a)).unlink()
    mel = np.load(lake.mel_features(b))
    np.save(lake.mel_features(b), mel + 1e-3)
    found = {(f.what, f.voice_id, f.problem) for f in doctor(lake)}
    assert found == {
        ("raw_file", a, "missing"),
        ("stage_file", b, "content differs from lineage"),
    }


def test_a_truncated_table_file_is_named_and_the_catalog_stays_up(lake: Lake) -> None:
    (batch,) = lake.table_batches("voices")
    part = Path(lake.tables.files("denoise_metrics")[0])
    part.write_bytes(part.read_bytes()[:100])
    (finding,) = doctor(lake)
    assert finding.what == "table_file" and finding.path == lake.relative(part)
    assert "denoise_metrics" in finding.problem
    assert finding.repair == f"voxlake run --batches {batch}"
    assert catalog.damaged_files(lake) == [lake.relative(part)]
    assert catalog.query(lake, "select count(*) from voices")[1] == [(6,)]
    with pytest.raises(TableDamaged, match=f"table denoise_metrics \\(batch {batch}\\)"):
        catalog.query(lake, "select * from denoise_metrics")


def test_an_index_behind_its_batches_is_named(lake: Lake) -> None:
    state = lake.index_dir / "_state.json"
    state.write_text("{}")  # as if the last sync was killed before it recorded its work
    findings = doctor(lake)
    assert findings and all(f.what == "coverage" for f in findings)
    assert {f.repair for f in findings} == {"voxlake run"}
