"""Commands run in-process on a copy of a processed lake (fast; no pipeline run)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from voxlake.cli import main
from voxlake.lake.store import Lake


@pytest.fixture
def lake(processed_lake: Lake, tmp_path: Path) -> Lake:
    copy = Lake(tmp_path / "lake")
    shutil.copytree(processed_lake.root, copy.root)
    return copy


def test_refused_sql_is_one_line(lake: Lake, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sql", "select * from read_csv('/etc/hostname')", "--lake", str(lake.root)]) == 1
    _, err = capsys.readouterr()
    assert err.startswith("voxlake sql: SQL on the catalog is read-only") and err.count("\n") == 1


def test_doctor_reports_healthy_then_names_a_tampered_file(
    lake: Lake, capsys: pytest.CaptureFixture[str]
) -> None:
    from voxlake import pipeline
    from voxlake.embed import index_writer
    from voxlake.features import dataset

    dataset.update(lake, pipeline.mel_fingerprint(), 128)
    index_writer.sync(lake)
    assert main(["doctor", "--lake", str(lake.root)]) == 0
    assert "doctor: healthy" in capsys.readouterr().out
    victim = sorted(lake.read_table("voices")["voice_id"].to_pylist())[0]
    lake.mel_features(victim).write_bytes(b"not an array")
    assert main(["doctor", "--lake", str(lake.root)]) == 1
    out = capsys.readouterr().out
    assert victim[:12] in out and "voxlake run --batches" in out and "1 problem(s)" in out


def test_a_damaged_table_file_is_named_after_a_change(
    lake: Lake, capsys: pytest.CaptureFixture[str]
) -> None:
    from pathlib import Path

    part = Path(lake.tables.files("denoise_metrics")[0])
    part.write_bytes(part.read_bytes()[:64])
    main(["forget", "0" * 64, "--lake", str(lake.root)])
    _, err = capsys.readouterr()
    assert f"DAMAGED: {lake.relative(part)} is missing or truncated" in err
    assert main(["sql", "select count(*) as n from voices", "--lake", str(lake.root)]) == 0


def test_ids_print_as_prefixes_that_paste_back(
    lake: Lake, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from voxlake.embed import index_writer

    index_writer.sync(lake)
    root = ["--lake", str(lake.root)]
    assert main(["sql", "select voice_id from voices order by voice_id", *root]) == 0
    shown = capsys.readouterr().out.splitlines()[2].strip()
    assert len(shown) == 12  # a table shows the 12-character prefix ...
    query = "select voice_id from voices order by voice_id"
    assert main(["sql", query, "--format", "json", *root]) == 0
    full = json.loads(capsys.readouterr().out)[0]["voice_id"]
    assert len(full) == 64 and full.startswith(shown)  # ... json the full id
    assert main(["search", "--voice", shown, "-k", "2", "--format", "csv", *root]) == 0
    out = capsys.readouterr().out
    assert full not in out and len(out.splitlines()[1].split(",")[0]) == 64  # excluded itself


def test_verify_against_a_manifest_reproduces_the_snapshot_it_names(
    lake: Lake, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from voxlake.repro import manifest

    root = str(lake.root)
    first = tmp_path / "first.json"
    assert main(["verify", "--runs", "0", "--export-manifest", str(first), "--lake", root]) == 0
    named = json.loads(first.read_text())["snapshot"]
    (batch,) = lake.table_batches("voices")
    assert main(["drop-batch", batch, "--force", "--lake", root]) == 0  # the lake moves on
    capsys.readouterr()
    # the manifest's own snapshot, read again: bit-identical
    assert main(["verify", "--against", str(first), "--lake", root]) == 0
    out = capsys.readouterr().out
    assert f"read: its own snapshot {named}" in out and "bit-identical" in out
    # the lake as it is now differs, and says where
    assert main(["verify", "--against", str(first), "--as-of", "current", "--lake", root]) == 1
    assert "MISMATCH" in capsys.readouterr().out
    # a manifest of the earlier snapshot, written now, holds the same hashes
    again = tmp_path / "again.json"
    args = ["--export-manifest", str(again), "--as-of", named, "--lake", root]
    main(["verify", "--runs", "0", *args])  # (the lake has no batch left to verify)
    assert json.loads(again.read_text())["batches"] == json.loads(first.read_text())["batches"]
    assert manifest.export(lake)["batches"] != json.loads(first.read_text())["batches"]
    assert main(["verify", "--against", str(first), "--as-of", "s" + "0" * 16, "--lake", root]) == 2
