"""Right to erasure: after forgetting, the lake is as if it never saw those voices."""

import shutil
from pathlib import Path

import pyarrow.parquet as pq

from voxlake import pipeline
from voxlake.embed import index_search, index_table, index_writer
from voxlake.features import dataset as dataset_stats
from voxlake.ingest.forget import forget
from voxlake.ingest.inbox import list_batches, read_manifest
from voxlake.lake import catalog
from voxlake.lake.store import Lake
from voxlake.repro.recompute import verify_batch
from voxlake.testing import make_lake, process_all

FP = pipeline.mel_fingerprint()


def _stats(lake: Lake) -> tuple[bytes, bytes, int]:
    final = dataset_stats.update(lake, FP, 128).final
    assert final is not None
    return final.mean.tobytes(), final.var.tobytes(), final.n_frames


def test_forgotten_voices_leave_the_stats_of_a_lake_that_never_saw_them(
    processed_lake: Lake, tmp_path: Path
) -> None:
    lake = Lake(tmp_path / "a")
    shutil.copytree(processed_lake.root, lake.root)
    _stats(lake)
    index_writer.sync(lake)
    voices = sorted(lake.read_table("voices").to_pylist(), key=lambda v: v["source_path"])
    victims = [voices[1], voices[4]]
    ids = [v["voice_id"] for v in victims]

    report = forget(lake, [*ids, "not-a-voice"], reason="user request")
    assert sorted(report.forgotten) == sorted(ids) and report.unknown == ["not-a-voice"]

    # A lake that never saw them: the same corpus with those two files removed.
    never = make_lake(tmp_path / "b")
    for v in victims:
        (never.inbox / v["source_path"]).unlink()
    process_all(never)
    assert _stats(lake) == _stats(never)

    (batch,) = list_batches(lake)
    for table in ("voices", "denoise_metrics", "voice_mel_stats", "embeddings", "voice_hashes"):
        assert not set(ids) & set(lake.read_table(table)["voice_id"].to_pylist()), table
        # gone from the history too: no data file of any version holds them
        for f in lake.table_dir(table).glob("*.parquet"):
            held = pq.read_table(f, columns=["voice_id"])["voice_id"].to_pylist()
            assert not set(ids) & set(held), (table, f.name)
    for v in victims:
        assert not (lake.root / v["raw_path"]).exists()
        assert not lake.denoised_audio(v["voice_id"]).exists()
        assert not lake.mel_features(v["voice_id"]).exists()
        assert not (lake.inbox / v["source_path"]).exists()
    assert not set(ids) & {f.voice_id for f in read_manifest(lake, batch).files}
    assert index_table.count(lake) == 4 and not set(ids) & set(index_search.voice_ids(lake))
    assert catalog.query(lake, "select count(*) from erasures")[1] == [(2,)]
    # the remaining batch still verifies: its stage hashes were recomputed
    assert all(r.match for r in verify_batch(lake, batch, runs=1))


def test_stats_export_npz_and_json_and_window(processed_lake: Lake, tmp_path: Path) -> None:
    import io
    import json

    import numpy as np

    from voxlake.features.export import export

    lake = Lake(tmp_path / "a")
    shutil.copytree(processed_lake.root, lake.root)
    final = dataset_stats.update(lake, FP, 128).final
    assert final is not None
    npz = np.load(io.BytesIO(export(lake, "npz")))
    assert set(npz.files) == {"count", "sum", "sum_square"}
    assert int(npz["count"]) == final.n_frames
    mean = npz["sum"] / npz["count"]
    np.testing.assert_allclose(mean, final.mean, rtol=1e-12)
    np.testing.assert_allclose(npz["sum_square"] / npz["count"] - mean**2, final.var, rtol=1e-6)
    doc = json.loads(export(lake, "json"))
    assert doc["fingerprint"] == FP and doc["shape"] == [128]
    assert doc["mean"] == final.mean.tolist()
    win = json.loads(export(lake, "json", window_frames=100))
    assert win["shape"] == [100, 128] and win["n_samples"] == 6
