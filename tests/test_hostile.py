"""Hostile input through the real pipeline: every file is processed or quarantined."""

from pathlib import Path

import dagster as dg
from voxlake.assets import ALL_ASSETS, BATCH_ASSETS
from voxlake.orchestration.testing import sensed_batch
from voxlake.resources import LakeResource, default_resources

from voxlake.lake.store import Lake
from voxlake.testing.hostile import build


def test_hostile_inbox_completes_and_accounts_for_every_file(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake").ensure()
    expected = build(lake.inbox, tmp_path / "elsewhere" / "secret.wav")
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        resources = {
            **default_resources(str(lake.root)),
            "lake": LakeResource(root=str(lake.root), max_duration_s=10.0),
        }
        key = sensed_batch(instance, resources["lake"])
        (lake.inbox / "vanishing.wav").unlink()  # after the scan, before the run
        run = dg.materialize(
            ALL_ASSETS,
            selection=[k for a in BATCH_ASSETS for k in a.keys],
            partition_key=key,
            instance=instance,
            resources=resources,
        )
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
