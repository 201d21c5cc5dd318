"""Jobs: one batch through every per-voice stage; the dataset-wide assets; verification."""

import dagster as dg
from voxlake.orchestration.partitions import voice_batches

ingest_batch_job = dg.define_asset_job(
    "ingest_batch",
    selection=["raw_voices", "denoised_voices", "voice_mel_stats", "voice_embeddings"],
    partitions_def=voice_batches,
    description="One ingestion batch through denoising, mel features and embeddings.",
)

refresh_dataset_job = dg.define_asset_job(
    "refresh_dataset",
    selection=["mel_stats", "voice_index"],
    description="Bring the dataset mel statistics and the voice index up to date.",
)

verify_batch_job = dg.define_asset_job(
    "verify_batch",
    selection=["reproducibility"],
    partitions_def=voice_batches,
    description="Recompute a batch from raw audio and compare BLAKE3 stage hashes.",
)
