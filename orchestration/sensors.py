"""The inbox sensor: new files -> batch manifests -> partitions + run requests, at once."""

from __future__ import annotations

from typing import Any

import dagster as dg

from voxlake.ingest.inbox import list_batches, scan_inbox
from voxlake.orchestration.jobs import ingest_batch_job
from voxlake.orchestration.partitions import voice_batches
from voxlake.resources import LakeResource

# A batch's run is one process (on a cluster: one Celery worker's task); the stages spread
# its voices over the worker's cores themselves.
BATCH_RUN_CONFIG: dict[str, Any] = {"execution": {"config": {"in_process": {}}}}


def pending_partitions(instance: dg.DagsterInstance, lake: LakeResource) -> list[str]:
    """Scan the inbox (writing manifests for new batches); batches not yet partitions."""
    with lake.inbox_session() as lk:
        scan_inbox(lk, lake.batch_size)
        batches = list_batches(lk)
    known = set(instance.get_dynamic_partitions(voice_batches.name or "voice_batches"))
    return [b for b in batches if b not in known]


@dg.sensor(
    job=ingest_batch_job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING
)
def voice_inbox(
    context: dg.SensorEvaluationContext, lake: LakeResource
) -> dg.SensorResult | dg.SkipReason:
    """Group new inbox files into batches; add each as a partition and request its run."""
    keys = pending_partitions(context.instance, lake)
    if not keys:
        return dg.SkipReason("no new voices in the inbox")
    context.log.info(f"new batches: {', '.join(keys)}")
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(partition_key=k, run_key=f"ingest-{k}", run_config=BATCH_RUN_CONFIG)
            for k in keys
        ],
        dynamic_partitions_requests=[voice_batches.build_add_request(keys)],
    )
