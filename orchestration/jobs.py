"""The code location's jobs: one batch through every stage; the dataset-wide assets; verify.

Selections follow the assets' scope tags, so a new stage joins its job by being declared.
"""

import dagster as dg

from voxlake.assets.results import BATCH_SCOPE, DATASET_SCOPE
from voxlake.orchestration.failures import record_batch_failure
from voxlake.orchestration.partitions import voice_batches


def _scope(tags: dict[str, str]) -> dg.AssetSelection:
    ((key, value),) = tags.items()
    return dg.AssetSelection.tag(key, value)


ingest_batch_job = dg.define_asset_job(
    "ingest_batch",
    selection=_scope(BATCH_SCOPE),
    partitions_def=voice_batches,
    description="One ingestion batch through denoising, mel features and embeddings.",
    hooks={record_batch_failure},
)

refresh_dataset_job = dg.define_asset_job(
    "refresh_dataset",
    selection=_scope(DATASET_SCOPE),
    description="Bring the dataset mel statistics and the voice index up to date.",
)

compact_lake_job = dg.define_asset_job(
    "compact_lake",
    selection=dg.AssetSelection.assets("table_compaction"),
    description="Merge the tables' small files and expire snapshots past the retention.",
)

# On by default: a lake that takes a batch every few minutes adds a few hundred small
# files a day per table; a nightly compaction keeps whole-table reads to a few files.
compact_lake_schedule = dg.ScheduleDefinition(
    name="compact_lake_nightly",
    job=compact_lake_job,
    cron_schedule="30 3 * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)

verify_batch_job = dg.define_asset_job(
    "verify_batch",
    selection=dg.AssetSelection.assets("reproducibility"),
    partitions_def=voice_batches,
    description="Recompute a batch from raw audio and compare BLAKE3 stage hashes.",
)
