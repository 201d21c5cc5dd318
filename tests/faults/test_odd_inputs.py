"""Odd and hostile input through the real pipeline, in one batch: every file is processed or
quarantined with its reason, and no file holds the batch hostage."""

from pathlib import Path

import dagster as dg

from voxlake import pipeline
from voxlake.lake.store import Lake
from voxlake.orchestration.definitions import defs
from voxlake.orchestration.runner import RunSettings
from voxlake.orchestration.testing import sensed_batch
from voxlake.resources import LakeResource
from voxlake.testing.consistency import inconsistencies
from voxlake.testing.hostile import build


def test_hostile_inbox_completes_and_accounts_for_every_file(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake").ensure()
    expected = build(lake.inbox, tmp_path / "elsewhere" / "secret.wav")
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        key = sensed_batch(instance, LakeResource(root=str(lake.root), max_duration_s=10.0))
        (lake.inbox / "vanishing.wav").unlink()  # after the scan, before the run
        config = RunSettings(str(lake.root)).run_config()
        config["resources"]["lake"]["config"]["max_duration_s"] = 10.0
        del config["execution"]  # execute_in_process runs in this process
        job = defs.resolve_job_def("ingest_batch")
        run = job.execute_in_process(config, instance=instance, partition_key=key)
        assert run.success
        assert all(c.passed for c in run.get_asset_check_evaluations())

    outcome = {v["source_path"]: "voice" for v in lake.read_table("voices").to_pylist()}
    outcome |= {d["source_path"]: "duplicate" for d in lake.read_table("duplicates").to_pylist()}
    outcome |= {
        r["source_path"]: r["reason"]
        for r in lake.read_table("rejected").to_pylist()
        if r["stage"] == "raw_voices"
    }
    print("\n" + f"{'input kind':32} {'file':34} outcome")
    for path, (kind, _) in sorted(expected.items(), key=lambda kv: kv[1][0]):
        print(f"{kind:32} {path[:34]:34} {outcome.get(path, 'LOST')}")
    assert {p: outcome.get(p) for p in expected} == {p: o for p, (_, o) in expected.items()}
    n_voices = sum(o == "voice" for o in outcome.values())
    assert len(expected) == n_voices + sum(o == "duplicate" for o in outcome.values()) + sum(
        o not in ("voice", "duplicate") for o in outcome.values()
    )
    # every accepted voice made it through every stage
    for table in ("denoise_metrics", "voice_mel_stats", "embeddings"):
        assert lake.read_table(table).num_rows == n_voices, table
    metrics = {m["voice_id"]: m for m in lake.read_table("denoise_metrics").to_pylist()}
    voices = {v["source_path"]: v["voice_id"] for v in lake.read_table("voices").to_pylist()}
    assert metrics[voices["clipped.wav"]]["in_clip_fraction"] > 0.05  # flagged in its metrics
    assert voices["a/take.wav"] != voices["b/take.wav"]
    from voxlake.embed import index_writer
    from voxlake.features import dataset

    dataset.update(lake, pipeline.mel_fingerprint(), 128)
    index_writer.sync(lake)
    assert inconsistencies(lake) == []
