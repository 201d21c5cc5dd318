"""`export_shards`: a shard export as a Dagster job, its shards spread over the executor's
steps: processes on one machine; in cluster mode (a Celery broker in the environment), the
Celery executor, each step a task on the step workers' queue, so the shards spread over
the machines. Steps hand their small outputs over through the lake (`step_outputs`), which
every machine reads.

It is a job of ops, not assets: an export is a product written outside the lake, not a
new set of `voice_batches` partitions. The plan step pins the snapshot, claims the
destination and fans the pending shards out in groups; each write step plans again on
that snapshot (the same plan, so the same bytes) and writes its group; the last step
writes `manifest.json`. A run that failed half-way is run again with the same config: the
written shards are kept.
"""

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dagster as dg

from voxlake.export.shards import (
    DEFAULT_SHARD_SIZE,
    PreparedExport,
    ShardRequest,
    finish_export,
    parse_shard_size,
    prepare_export,
    write_shards,
)
from voxlake.export.splits import DEFAULT_SEED, parse_split
from voxlake.orchestration.queues import BROKER_ENV, STEPS_QUEUE
from voxlake.resources import LakeResource

OUTPUTS = "step_outputs"  # the IO manager's key (`voxlake.orchestration.step_outputs`)
# Where dagster-celery sends a step (ignored by the other executors).
ON_STEP_WORKERS = {"dagster-celery/queue": STEPS_QUEUE}


def _executor() -> dg.ExecutorDefinition:
    """The Celery executor where a broker is configured (cluster mode), else Dagster's
    default (in process, or a process per step when asked)."""
    if not os.environ.get(BROKER_ENV):
        return dg.multi_or_in_process_executor
    from voxlake.orchestration.step_executor import steps_on_workers

    return steps_on_workers()


class ShardExportConfig(dg.Config):
    """What `voxlake export --shards` takes, as the launchpad's config."""

    format: str = "webdataset"
    out: str
    where: str | None = None
    as_of: str | None = None
    split: str | None = None
    by: str = "speaker"
    seed: str = DEFAULT_SEED
    audio: str = "denoised"
    shard_size: str = DEFAULT_SHARD_SIZE
    overwrite: bool = False
    shards_per_step: int = 4
    threads_per_step: int = 1


@contextmanager
def _prepared(
    lake: LakeResource, params: dict[str, Any], overwrite: bool
) -> Iterator[PreparedExport]:
    request = ShardRequest(
        params["format"],
        params["out"],
        where=params["where"],
        as_of=params["as_of"],
        spec=parse_split(params["split"], params["by"], params["seed"]),
        kind=params["audio"],
        size=parse_shard_size(params["shard_size"]),
        overwrite=overwrite,
    )
    with lake.read_session() as (the_lake, files):  # a store lake is read in place
        yield prepare_export(the_lake, request, files)


@dg.op(
    out=dg.DynamicOut(dict, io_manager_key=OUTPUTS),
    tags=ON_STEP_WORKERS,
    description="Pin the snapshot, plan, claim the destination.",
)
def plan_shard_export(
    context: dg.OpExecutionContext, config: ShardExportConfig, lake: LakeResource
) -> Any:
    params = config.model_dump(exclude={"overwrite", "shards_per_step"})
    with _prepared(lake, params, config.overwrite) as prepared:
        pending = prepared.pending() if prepared.complete is None else []
    for warning in prepared.warnings:
        context.log.warning(warning)
    params["as_of"] = prepared.snapshot_id  # every step reads the snapshot planned here
    context.log.info(
        f"snapshot {prepared.snapshot_id}: {len(prepared.shards)} shard(s), "
        f"{len(pending)} to write, in groups of {config.shards_per_step}"
    )
    step = max(1, config.shards_per_step)
    groups = [pending[i : i + step] for i in range(0, len(pending), step)] or [[]]
    for i, keys in enumerate(groups):
        yield dg.DynamicOutput({**params, "keys": keys}, mapping_key=f"group_{i:05d}")


@dg.op(
    out=dg.Out(dict, io_manager_key=OUTPUTS),
    tags=ON_STEP_WORKERS,
    description="Write one group of shards.",
)
def write_shard_group(
    context: dg.OpExecutionContext, lake: LakeResource, group: dict[str, Any]
) -> dict[str, Any]:
    with _prepared(lake, group, overwrite=False) as prepared:
        written = write_shards(prepared, group["keys"], workers=group["threads_per_step"])
    writer = f"{socket.gethostname()}:{os.getpid()}"
    context.log.info(f"wrote {written} of {len(group['keys'])} shard(s) on {writer}")
    return {**group, "written": written, "writer": writer}


@dg.op(
    out=dg.Out(dict, io_manager_key=OUTPUTS),
    tags=ON_STEP_WORKERS,
    description="Write manifest.json from every shard's record.",
)
def finish_shard_export(
    context: dg.OpExecutionContext, lake: LakeResource, groups: list[dict[str, Any]]
) -> dg.Output[dict[str, Any]]:
    with _prepared(lake, groups[0], overwrite=False) as prepared:
        manifest = finish_export(prepared)
    out = str(groups[0]["out"]).rstrip("/")
    return dg.Output(
        {"manifest": f"{out}/manifest.json", "plan": manifest["plan"]},
        metadata={
            "voices": manifest["voices"],
            "shards": len(manifest["shards"]),
            "written_now": sum(g["written"] for g in groups),
            "writers": len({g["writer"] for g in groups}),  # processes the groups ran in
            "snapshot": manifest["snapshot"]["id"],
            "splits": {k: v["voices"] for k, v in manifest["splits"].items()},
            "manifest": dg.MetadataValue.path(f"{out}/manifest.json"),
        },
    )


@dg.job(
    name="export_shards",
    executor_def=_executor(),
    description="Write the selection as shards (webdataset, hf-parquet, lhotse-shar), "
    "pinned to a snapshot, spread over the executor's steps.",
)
def export_shards_job() -> None:
    groups = plan_shard_export().map(write_shard_group)
    finish_shard_export(groups.collect())
