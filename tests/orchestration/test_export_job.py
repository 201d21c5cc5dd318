"""The export_shards job: a real Dagster run (multiprocess executor) whose write steps
spread the shards, and whose shards are the bytes the CLI's export writes."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg

from voxlake.export.shards import ShardRequest, ShardSize, export_shards, verify_shards
from voxlake.export.splits import parse_split
from voxlake.lake.store import Lake
from voxlake.orchestration.runner import RunSettings, launch


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_the_job_spreads_shards_over_steps_and_writes_the_cli_bytes(
    processed_lake: Lake, tmp_path: Path
) -> None:
    lake = Lake(tmp_path / "lake")
    shutil.copytree(processed_lake.root, lake.root)
    out = tmp_path / "job"
    config = {
        "format": "hf-parquet",
        "out": str(out),
        "split": "train=0.5,test=0.5",
        "shard_size": "1",  # a shard per voice
        "shards_per_step": 2,
    }
    settings = RunSettings(str(lake.root), executor="multiprocess")
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        run = launch(
            "export_shards", instance, settings, ops={"plan_shard_export": {"config": config}}
        )
        assert run.success
        steps = {
            e.step_key
            for e in run.all_events
            if e.event_type == dg.DagsterEventType.STEP_SUCCESS and e.step_key
        }
        writes = [s for s in steps if s.startswith("write_shard_group")]
        assert len(writes) == 3  # 6 shards in groups of 2: three steps
        (meta,) = [
            e.event_specific_data.metadata  # type: ignore[union-attr]
            for e in run.all_events
            if e.event_type == dg.DagsterEventType.STEP_OUTPUT
            and e.step_key == "finish_shard_export"
        ]
        assert meta["voices"].value == 6 and meta["written_now"].value == 6
        outputs = lake.root / "dagster" / "outputs" / run.run_id  # where any machine reads
        assert len(list(outputs.rglob("*.json"))) == 1 + 3 + 3  # plan x3, writes, finish
        again = launch(
            "export_shards", instance, settings, ops={"plan_shard_export": {"config": config}}
        )
        assert again.success  # the same export again: nothing to write, the manifest stays
    assert verify_shards(out).ok
    cli = export_shards(
        lake,
        ShardRequest(
            "hf-parquet",
            tmp_path / "cli",
            spec=parse_split("train=0.5,test=0.5"),
            size=ShardSize(bytes=None, voices=1),
        ),
        workers=2,
    )
    assert cli.shards == 6
    assert _files(out) == _files(tmp_path / "cli")
