"""The per-batch stages and the dataset-wide updates, called directly (no Dagster)."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from voxlake import pipeline
from voxlake.embed import index_search, index_table, index_writer
from voxlake.features import dataset as dataset_stats
from voxlake.features.stats import MelStats, MelSums, from_decimals
from voxlake.ingest.inbox import list_batches, read_manifest
from voxlake.lake import catalog
from voxlake.lake.hashing import hash_array
from voxlake.lake.store import Lake
from voxlake.repro.recompute import verify_batch
from voxlake.testing import make_lake, process_all

FP = pipeline.mel_fingerprint()


def test_every_inbox_file_is_accounted_for(processed_lake: Lake) -> None:
    (batch,) = list_batches(processed_lake)
    files = read_manifest(processed_lake, batch).files
    voices = processed_lake.read_table("voices", batch)
    rejected = processed_lake.read_table("rejected", batch).to_pylist()
    dups = processed_lake.read_table("duplicates", batch)
    assert voices.num_rows == 6 and dups.num_rows == 0
    assert voices.num_rows + len(rejected) + dups.num_rows == len(files) == 10
    assert {r["file_name"]: r["reason"] for r in rejected} == {
        "bad_empty.wav": "empty",
        "bad_truncated.wav": "undecodable",
        "bad_not_audio.wav": "undecodable",
        "bad_silent.wav": "silent",
    }
    for v in voices.to_pylist():  # content-addressed raw copies
        assert (processed_lake.root / v["raw_path"]).exists()
        assert v["speaker"].startswith("spk")


def test_stage_tables_line_up(processed_lake: Lake) -> None:
    (batch,) = list_batches(processed_lake)
    ids = sorted(processed_lake.read_table("voices", batch)["voice_id"].to_pylist())
    for table in ("denoise_metrics", "voice_mel_stats", "embeddings"):
        assert sorted(processed_lake.read_table(table, batch)["voice_id"].to_pylist()) == ids
    vectors = np.asarray(processed_lake.read_table("embeddings", batch)["vector"].to_pylist())
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    metrics = processed_lake.read_table("denoise_metrics", batch).to_pylist()
    voices = {v["voice_id"]: v for v in processed_lake.read_table("voices", batch).to_pylist()}
    for m in metrics:  # stored at the voice's own rate, exactly as long as it
        v = voices[m["voice_id"]]
        assert (m["sample_rate"], m["frames"]) == (v["sample_rate"], v["frames"])


def test_dataset_stats_equal_a_full_recompute_and_update_incrementally(
    processed_lake: Lake, tmp_path: Path
) -> None:
    lake = Lake(tmp_path / "copy")
    shutil.copytree(processed_lake.root, lake.root)
    first = dataset_stats.update(lake, FP, 128)
    assert first.added == list_batches(lake) and first.retracted == []
    full = MelStats(128, FP)
    for r in lake.read_table("voice_mel_stats").to_pylist():
        full.add(MelSums(r["n_frames"], 1, from_decimals(r["sum"]), from_decimals(r["sum_square"])))
    assert first.final is not None
    assert first.final.mean.tobytes() == full.finalize().mean.tobytes()
    assert first.final.var.tobytes() == full.finalize().var.tobytes()
    again = dataset_stats.update(lake, FP, 128)
    assert again.added == [] and again.result.stage_hash == first.result.stage_hash
    with pytest.raises(ValueError, match="never mixed"):
        dataset_stats.update(lake, "another-extractor", 128)


def test_index_search_finds_the_same_speaker(processed_lake: Lake, tmp_path: Path) -> None:
    lake = Lake(tmp_path / "copy")
    shutil.copytree(processed_lake.root, lake.root)
    result = index_writer.sync(lake)
    assert result.rows == index_table.count(lake) == 6
    assert (
        index_writer.sync(lake).extra["changed_batches"] == []
    )  # nothing changed: nothing upserted
    voices = lake.read_table("voices").to_pylist()
    hits_ok = 0
    for v in voices:
        hits = index_search.search(
            lake, index_search.vector_of(lake, v["voice_id"]), k=1, exclude=v["voice_id"]
        )
        assert len(hits) == 1 and hits[0].voice_id != v["voice_id"]
        hits_ok += hits[0].speaker == v["speaker"]
    assert hits_ok >= 4  # 3 speakers x 2 voices: most nearest neighbours share the speaker
    only = index_search.search(
        lake, index_search.vector_of(lake, voices[0]["voice_id"]), k=6, where="speaker = 'spk01'"
    )
    assert only and all(h.speaker == "spk01" for h in only)


def test_verify_matches_and_names_the_stage_that_diverged(
    processed_lake: Lake, tmp_path: Path
) -> None:
    lake = Lake(tmp_path / "copy")
    shutil.copytree(processed_lake.root, lake.root)
    (batch,) = list_batches(lake)
    rows = verify_batch(lake, batch, runs=1)
    assert [r.stage for r in rows] == [
        "raw_voices",
        "denoised_voices",
        "voice_mel_stats",
        "voice_embeddings",
    ]
    assert all(r.match for r in rows)
    # Tamper with one stored mel hash: verify must name that stage and that voice.
    hashes = lake.read_table("voice_hashes", batch).to_pylist()
    victim = sorted(h["voice_id"] for h in hashes if h["stage"] == "voice_mel_stats")[0]
    mel = np.load(lake.mel_features(victim))
    np.save(lake.mel_features(victim), mel + 0.5)
    from voxlake.lake.lineage import record_stage

    pairs = [
        (h["voice_id"], hash_array(mel + 0.5) if h["voice_id"] == victim else h["content_hash"])
        for h in hashes
        if h["stage"] == "voice_mel_stats"
    ]
    record_stage(lake, batch, "voice_mel_stats", pairs, FP, pipeline.MEL.code_version)
    bad = [r for r in verify_batch(lake, batch, runs=1) if not r.match]
    assert [r.stage for r in bad] == ["voice_mel_stats"]
    assert bad[0].first_voice == victim
    assert bad[0].max_abs_diff == pytest.approx(0.5, abs=1e-5)


def test_catalog_views_answer_sql(processed_lake: Lake, tmp_path: Path) -> None:
    lake = Lake(tmp_path / "copy")
    shutil.copytree(processed_lake.root, lake.root)
    assert catalog.query(lake, "select count(*) from voices")[1] == [(6,)]
    cols, rows = catalog.query(lake, "select * from batch_summary")
    summary = dict(zip(cols, rows[0], strict=True))
    assert summary["inputs"] == 10 and summary["label_problems"] == 0
    with pytest.raises(Exception, match=r"read-only|Cannot execute"):
        catalog.query(lake, "create table x as select 1")


def test_a_second_batch_with_old_and_new_content(tmp_path: Path) -> None:
    lake = make_lake(tmp_path, voices=2, speakers=2, bad_files=False)
    process_all(lake)
    first = sorted(lake.read_table("voices")["voice_id"].to_pylist())
    shutil.copyfile(next(lake.inbox.glob("spk00*.wav")), lake.inbox / "again.wav")
    make_lake(tmp_path / "other", voices=1, speakers=1, seed=7, bad_files=False)
    shutil.copyfile(next((tmp_path / "other" / "inbox").glob("*.wav")), lake.inbox / "new.wav")
    (second,) = process_all(lake)
    dups = lake.read_table("duplicates", second).to_pylist()
    assert [d["file_name"] for d in dups] == ["again.wav"]
    assert dups[0]["voice_id"] in first
    assert lake.read_table("voices", second)["file_name"].to_pylist() == ["new.wav"]


def test_a_re_encoded_recording_is_a_near_duplicate(tmp_path: Path) -> None:
    import soundfile as sf

    lake = make_lake(tmp_path, voices=3, speakers=3, bad_files=False)
    src = sorted(lake.inbox.glob("spk00*.wav"))[0]
    x, sr = sf.read(src)
    sf.write(lake.inbox / "reencoded.flac", x, sr, subtype="PCM_24")  # other bytes, same voice
    process_all(lake)
    index_writer.sync(lake)
    ids = {v["source_path"]: v["voice_id"] for v in lake.read_table("voices").to_pylist()}
    pair = tuple(sorted((ids[src.name], ids["reencoded.flac"])))
    found = index_search.near_duplicates(lake, threshold=0.95)
    assert [(a, b) for a, b, _ in found] == [pair]
    assert index_search.near_duplicates(lake, threshold=1.01) == []
    _, rows = catalog.query(lake, "select voice_a, voice_b from near_duplicates")
    assert rows == [pair]
