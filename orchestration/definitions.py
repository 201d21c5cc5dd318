"""The code location: assets, checks, jobs, the inbox sensor and resources, wired once.

`ingest_batch`, `refresh_dataset`, `verify_batch`, `compact_lake` and `export_shards` are
also module-level functions that return the resolved jobs, so that `dg.reconstructable`
can hand them to any executor.
"""

import dagster as dg

from voxlake.assets import ALL_ASSETS
from voxlake.orchestration.dataset_sensor import dataset_follows_batches
from voxlake.orchestration.export_job import export_shards_job
from voxlake.orchestration.jobs import (
    compact_lake_job,
    compact_lake_schedule,
    ingest_batch_job,
    refresh_dataset_job,
    verify_batch_job,
)
from voxlake.orchestration.sensors import voice_inbox
from voxlake.orchestration.step_outputs import step_outputs
from voxlake.resources import default_resources

# The code location as `dg dev`, `workspace.yaml` and a cluster's workspace load it.
MODULE = __name__
LOCATION_NAME = "voxlake"
REPOSITORY_NAME = "__repository__"  # Dagster's name for the repository of a Definitions

defs = dg.Definitions(
    assets=ALL_ASSETS,
    jobs=[
        ingest_batch_job,
        refresh_dataset_job,
        verify_batch_job,
        compact_lake_job,
        export_shards_job,
    ],
    schedules=[compact_lake_schedule],
    sensors=[
        voice_inbox,
        dataset_follows_batches,  # the safety net: a batch that landed during a dataset run
        # Automation on by default: new batches reach mel_stats and voice_index unattended.
        dg.AutomationConditionSensorDefinition(
            "voxlake_automation",
            target=dg.AssetSelection.all(),
            default_status=dg.DefaultSensorStatus.RUNNING,
            minimum_interval_seconds=30,
        ),
    ],
    resources={**default_resources(), "step_outputs": step_outputs},
)


def ingest_batch() -> dg.JobDefinition:
    return defs.resolve_job_def("ingest_batch")


def refresh_dataset() -> dg.JobDefinition:
    return defs.resolve_job_def("refresh_dataset")


def verify_batch() -> dg.JobDefinition:
    return defs.resolve_job_def("verify_batch")


def compact_lake() -> dg.JobDefinition:
    return defs.resolve_job_def("compact_lake")


def export_shards() -> dg.JobDefinition:
    return defs.resolve_job_def("export_shards")


JOBS = {
    "ingest_batch": ingest_batch,
    "refresh_dataset": refresh_dataset,
    "verify_batch": verify_batch,
    "compact_lake": compact_lake,
    "export_shards": export_shards,
}
