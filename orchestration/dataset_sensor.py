"""The dataset's safety net: a sensor that asks for `refresh_dataset` when a batch finished
after the run that last wrote the dataset-wide assets had begun.

The automation follows batches by events, and an event cannot say what a run read. A batch
that finishes while the dataset run is under way, after that run read the batches, lands
before the run's own materialisation, so by timestamps it looks handled, and the dataset
stays one batch behind until the next batch (seen on a cluster of two workers). This
sensor compares the newest batch output with the *start* of the run behind each
dataset-wide asset's latest materialisation, from the instance alone (no lake is read), and
asks for one more run, once the automation has had a tick to do so itself (`GRACE_S`), so
that the two do not both run the dataset. The run key (one per batch output) keeps it to
one request; the `voxlake_global` pool keeps that run behind any other.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import dagster as dg

from voxlake.orchestration.jobs import refresh_dataset_job
from voxlake.pipeline import FINAL_STAGES

DATASET_ASSETS = ("mel_stats", "voice_index")
GRACE_S = 75.0  # the automation ticks every 30 s; its run starts within a tick or two
IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def dataset_behind(
    instance: dg.DagsterInstance,
    sources: Sequence[str] = FINAL_STAGES,
    targets: Sequence[str] = DATASET_ASSETS,
) -> str | None:
    """A key naming the newest batch output that no run of every target began after
    (None when the targets are current)."""
    newest: dg.EventLogEntry | None = None
    for name in sources:
        event = instance.get_latest_materialization_event(dg.AssetKey(name))
        if event is not None and (newest is None or event.timestamp > newest.timestamp):
            newest = event
    if newest is None:
        return None
    key = f"{newest.run_id}-{newest.timestamp:.6f}"
    for name in targets:
        event = instance.get_latest_materialization_event(dg.AssetKey(name))
        if event is None:
            return key
        record = instance.get_run_record_by_id(event.run_id) if event.run_id else None
        began = record.start_time if record is not None and record.start_time else event.timestamp
        if newest.timestamp >= began:
            return key
    return None


def dataset_run_in_flight(
    instance: dg.DagsterInstance, targets: Sequence[str] = DATASET_ASSETS
) -> bool:
    keys = {dg.AssetKey(t) for t in targets}
    for run in instance.get_runs(dg.RunsFilter(statuses=IN_FLIGHT)):
        if run.job_name == refresh_dataset_job.name or keys & set(run.asset_selection or ()):
            return True
    return False


@dg.sensor(
    job=refresh_dataset_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def dataset_follows_batches(
    context: dg.SensorEvaluationContext,
) -> dg.RunRequest | dg.SkipReason:
    """Ask for one more dataset run when a batch finished after the last one began."""
    if dataset_run_in_flight(context.instance):
        return dg.SkipReason("a dataset run is under way")
    behind = dataset_behind(context.instance)
    if behind is None:
        return dg.SkipReason("the dataset statistics and the index are current")
    if time.time() - float(behind.rsplit("-", 1)[1]) < GRACE_S:
        return dg.SkipReason("a batch is new: the automation runs the dataset first")
    return dg.RunRequest(run_key=f"dataset-after-{behind}")
