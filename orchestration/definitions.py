"""The code location: assets, checks, jobs, the inbox sensor and resources."""

import dagster as dg
from voxlake.assets import ALL_ASSETS
from voxlake.orchestration.jobs import ingest_batch_job, refresh_dataset_job, verify_batch_job
from voxlake.orchestration.sensors import voice_inbox
from voxlake.resources import default_resources

defs = dg.Definitions(
    assets=ALL_ASSETS,
    jobs=[ingest_batch_job, refresh_dataset_job, verify_batch_job],
    sensors=[voice_inbox],
    resources=default_resources(),
)
