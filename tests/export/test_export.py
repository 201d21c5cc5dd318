"""Exports load in the real libraries (lhotse, datasets), hold the selected voices, and are
byte-identical when written twice."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
import soundfile as sf

from voxlake.cli import main
from voxlake.export import EmptySelection, export, select
from voxlake.lake.catalog import RefusedQuery
from voxlake.lake.store import Lake


@pytest.fixture(scope="module")
def lake(processed_lake: Lake, tmp_path_factory: pytest.TempPathFactory) -> Lake:
    copy = Lake(tmp_path_factory.mktemp("export") / "lake")
    shutil.copytree(processed_lake.root, copy.root)
    return copy


def _expected(lake: Lake) -> dict[str, tuple[str | None, float]]:
    """voice_id -> (speaker, duration of its denoised file, read from the file itself)."""
    voices = lake.read_table("voices").to_pylist()
    out = {}
    for v in voices:
        info = sf.info(str(lake.denoised_audio(v["voice_id"])))
        out[v["voice_id"]] = (v["speaker"], info.frames / info.samplerate)
    return out


def test_lhotse_export_loads_in_lhotse(lake: Lake, tmp_path: Path) -> None:
    import lhotse

    done = export(lake, "lhotse", tmp_path)
    recordings = lhotse.load_manifest(tmp_path / "recordings.jsonl.gz")
    supervisions = lhotse.load_manifest(tmp_path / "supervisions.jsonl.gz")
    lhotse.validate_recordings_and_supervisions(recordings, supervisions)
    expected = _expected(lake)
    assert done.voices == len(expected) == len(recordings) == len(supervisions)
    for sup in supervisions:
        speaker, duration = expected[sup.recording_id]
        assert sup.speaker == speaker and sup.duration == pytest.approx(duration)
        assert "local_snr_db" in (sup.custom or {})
    first = recordings[0]
    assert first.load_audio().shape == (1, first.num_samples)


def test_hf_export_loads_in_datasets(lake: Lake, tmp_path: Path) -> None:
    import datasets

    export(lake, "hf", tmp_path)
    ds = datasets.load_from_disk(str(tmp_path)).cast_column("audio", datasets.Audio(decode=False))
    expected = _expected(lake)
    assert sorted(ds["voice_id"]) == sorted(expected)
    for row in ds:
        audio, rate = sf.read(io.BytesIO(row["audio"]["bytes"]))  # self-contained: bytes inside
        speaker, duration = expected[row["voice_id"]]
        assert row["speaker"] == speaker
        assert len(audio) / rate == pytest.approx(duration) == pytest.approx(row["duration"])


def test_nemo_export_is_a_jsonl_manifest(lake: Lake, tmp_path: Path) -> None:
    export(lake, "nemo", tmp_path)
    lines = (tmp_path / "manifest.jsonl").read_text().splitlines()
    entries = [json.loads(line) for line in lines]
    expected = _expected(lake)
    assert len(entries) == len(expected)
    for e in entries:
        assert Path(e["audio_filepath"]).is_file()
        assert (e["speaker"], e["duration"]) == pytest.approx(expected[e["voice_id"]])


@pytest.mark.parametrize("fmt", ["lhotse", "hf", "nemo"])
def test_writing_twice_gives_identical_files_and_records_the_lake_state(
    lake: Lake, tmp_path: Path, fmt: str
) -> None:
    first = export(lake, fmt, tmp_path / "a")
    export(lake, fmt, tmp_path / "b")
    names = sorted(p.name for p in first.files)
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    record = json.loads((tmp_path / "a" / "voxlake_export.json").read_text())
    assets = {row["asset"] for row in record["lake_state"]}
    assert {"raw_voices", "denoised_voices", "voice_embeddings"} <= assets
    assert all(row["stage_hash"] and row["fingerprint"] for row in record["lake_state"])


def test_where_selects_and_an_empty_selection_writes_nothing(lake: Lake, tmp_path: Path) -> None:
    everyone = select(lake)
    speaker = everyone.voices[0].speaker
    some = select(lake, f"speaker = '{speaker}'")
    assert 0 < len(some.voices) < len(everyone.voices)
    assert {v.speaker for v in some.voices} == {speaker}
    with pytest.raises(EmptySelection, match="nothing was written"):
        export(lake, "nemo", tmp_path / "none", "duration_s > 1e9")
    assert not (tmp_path / "none").exists()


def test_the_predicate_is_confined_sql(lake: Lake, tmp_path: Path) -> None:
    import duckdb

    with pytest.raises(RefusedQuery):
        select(lake, "exists (select * from read_csv('/etc/hostname'))")
    target = tmp_path / "leak.csv"
    for escape in (
        f"true; copy (select 1) to '{target}'",
        f"true)) o join voices v using (voice_id); copy (select 1) to '{target}'; select (1",
    ):
        with pytest.raises((RefusedQuery, duckdb.Error)):
            select(lake, escape)
    assert not target.exists()


def test_export_command(lake: Lake, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["export", "--format", "nemo", "--lake", str(lake.root), "--out"]
    assert main([*args, str(tmp_path / "all")]) == 0
    assert "exported" in capsys.readouterr().out
    assert main([*args, str(tmp_path / "none"), "--where", "duration_s < 0"]) == 1
    assert "no denoised voice matches" in capsys.readouterr().err


def test_an_export_records_its_snapshot_and_as_of_reproduces_it(lake: Lake, tmp_path: Path) -> None:
    """The export names the snapshot it read; after the lake changes, `--as-of` that
    snapshot writes the same bytes, while the current one differs."""
    first = tmp_path / "first"
    export(lake, "nemo", first)
    record = json.loads((first / "voxlake_export.json").read_text())
    snapshot = record["snapshot"]["id"]
    assert (lake.root / "snapshots" / f"{snapshot}.json").exists()  # kept by `compact`
    changed = Lake(tmp_path / "changed")
    shutil.copytree(lake.root, changed.root)
    (batch,) = changed.table_batches("voices")
    metrics = changed.read_table("denoise_metrics", batch)
    changed.write_table("denoise_metrics", metrics.slice(0, 2), batch)  # a rerun keeps two
    again = tmp_path / "again"
    assert main(["export", "--format", "nemo", "--out", str(again), "--as-of", snapshot,
                 "--lake", str(changed.root)]) == 0  # fmt: skip
    was = (first / "manifest.jsonl").read_text().replace(str(lake.root), "<lake>")
    assert (again / "manifest.jsonl").read_text().replace(str(changed.root), "<lake>") == was
    now = export(changed, "nemo", tmp_path / "now")
    assert now.voices == 2
