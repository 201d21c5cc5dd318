"""Arrow schemas of every lake table, declared once.

Partitioned tables live at tables/<name>/batch=<key>/part.parquet and carry their batch
key as a column too; global tables at tables/<name>/part.parquet.
"""

from __future__ import annotations

import pyarrow as pa

EXACT = pa.decimal128(38, 0)  # exact fixed-point integer sums (see stats.py)
EMBEDDING_DIM = 256

VOICES = pa.schema(
    [
        ("voice_id", pa.string()),
        ("batch", pa.string()),
        ("source_path", pa.string()),
        ("file_name", pa.string()),
        ("format", pa.string()),
        ("subtype", pa.string()),
        ("sample_rate", pa.int32()),
        ("channels", pa.int32()),
        ("frames", pa.int64()),
        ("duration_s", pa.float64()),
        ("bytes", pa.int64()),
        ("rms_dbfs", pa.float64()),
        ("peak_dbfs", pa.float64()),
        ("speaker", pa.string()),
        ("source", pa.string()),
        ("labels", pa.string()),  # JSON of the other sidecar columns
        ("raw_path", pa.string()),
    ]
)

REJECTED = pa.schema(
    [
        ("batch", pa.string()),
        ("source_path", pa.string()),
        ("file_name", pa.string()),
        ("voice_id", pa.string()),  # null when the file could not be read at all
        ("stage", pa.string()),
        ("reason", pa.string()),
        ("detail", pa.string()),
    ]
)

DUPLICATES = pa.schema(
    [
        ("batch", pa.string()),
        ("source_path", pa.string()),
        ("file_name", pa.string()),
        ("voice_id", pa.string()),
        ("first_batch", pa.string()),
    ]
)

DENOISE_METRICS = pa.schema(
    [
        ("voice_id", pa.string()),
        ("batch", pa.string()),
        ("sample_rate", pa.int32()),
        ("frames", pa.int64()),
        ("in_rms_dbfs", pa.float64()),
        ("in_peak_dbfs", pa.float64()),
        ("out_rms_dbfs", pa.float64()),
        ("out_peak_dbfs", pa.float64()),
        ("in_clip_fraction", pa.float64()),
        ("out_clip_fraction", pa.float64()),
        ("in_dc_offset", pa.float64()),
        ("out_dc_offset", pa.float64()),
        ("local_snr_db", pa.float64()),
        ("floor_depth_db", pa.float64()),  # noise floor below the loud frames (~SNR + 5 dB)
        ("passthrough", pa.bool_()),  # already clean: the input was written, not denoised
        ("dnsmos_sig_in", pa.float64()),  # DNSMOS P.835, null when switched off
        ("dnsmos_bak_in", pa.float64()),
        ("dnsmos_ovrl_in", pa.float64()),
        ("dnsmos_sig_out", pa.float64()),
        ("dnsmos_bak_out", pa.float64()),
        ("dnsmos_ovrl_out", pa.float64()),
        ("denoised_path", pa.string()),
        ("content_hash", pa.string()),
        ("fingerprint", pa.string()),
    ]
)

VOICE_MEL_STATS = pa.schema(
    [
        ("voice_id", pa.string()),
        ("batch", pa.string()),
        ("n_frames", pa.int64()),
        ("mean", pa.list_(pa.float32())),
        ("std", pa.list_(pa.float32())),
        ("sum", pa.list_(EXACT)),
        ("sum_square", pa.list_(EXACT)),
        ("content_hash", pa.string()),
        ("fingerprint", pa.string()),
    ]
)

BATCH_MEL_STATS = pa.schema(
    [
        ("batch", pa.string()),
        ("n_voices", pa.int64()),
        ("n_frames", pa.int64()),
        ("sum", pa.list_(EXACT)),
        ("sum_square", pa.list_(EXACT)),
        ("partial_hash", pa.string()),
        ("fingerprint", pa.string()),
    ]
)

DATASET_MEL_STATS = pa.schema(
    [
        ("bin", pa.int32()),
        ("mean", pa.float64()),
        ("std", pa.float64()),
        ("var", pa.float64()),
        ("n_frames", pa.int64()),
        ("n_voices", pa.int64()),
        ("stats_hash", pa.string()),
        ("fingerprint", pa.string()),
    ]
)

EMBEDDINGS = pa.schema(
    [
        ("voice_id", pa.string()),
        ("batch", pa.string()),
        ("embedder", pa.string()),
        ("vector", pa.list_(pa.float32(), EMBEDDING_DIM)),
        ("content_hash", pa.string()),
        ("fingerprint", pa.string()),
    ]
)

LINEAGE = pa.schema(
    [
        ("batch", pa.string()),  # "" for global assets
        ("asset", pa.string()),
        ("stage_hash", pa.string()),
        ("fingerprint", pa.string()),
        ("code_version", pa.string()),
        ("rows", pa.int64()),
        ("model_hashes", pa.string()),  # canonical JSON: model name -> SHA-256 of its file
        ("environment", pa.string()),  # canonical JSON: CPU, OS, Python, library versions
        ("environment_fingerprint", pa.string()),
        ("materialized_at", pa.string()),
    ]
)

VOICE_HASHES = pa.schema(
    [
        ("voice_id", pa.string()),
        ("batch", pa.string()),
        ("stage", pa.string()),
        ("content_hash", pa.string()),
    ]
)

QUALITY_RESULTS = pa.schema(
    [
        ("batch", pa.string()),
        ("table_name", pa.string()),
        ("expectation", pa.string()),
        ("column_name", pa.string()),
        ("success", pa.bool_()),
        ("unexpected_count", pa.int64()),
        ("observed", pa.string()),
        ("checked_at", pa.string()),
    ]
)

REPRODUCIBILITY = pa.schema(
    [
        ("batch", pa.string()),
        ("check", pa.string()),  # rerun, workers=N, batch_order, regroup, manifest
        ("stage", pa.string()),
        ("run", pa.int32()),
        ("stored_hash", pa.string()),
        ("recomputed_hash", pa.string()),
        ("match", pa.bool_()),
        ("first_voice", pa.string()),
        ("max_abs_diff", pa.float64()),
        ("checked_at", pa.string()),
    ]
)

ERASURES = pa.schema(
    [
        ("voice_id", pa.string()),
        ("batch", pa.string()),
        ("reason", pa.string()),
        ("files_removed", pa.int64()),
        ("rows_removed", pa.int64()),
        ("erased_at", pa.string()),
    ]
)

TABLES: dict[str, pa.Schema] = {
    "voices": VOICES,
    "rejected": REJECTED,
    "duplicates": DUPLICATES,
    "denoise_metrics": DENOISE_METRICS,
    "voice_mel_stats": VOICE_MEL_STATS,
    "batch_mel_stats": BATCH_MEL_STATS,
    "dataset_mel_stats": DATASET_MEL_STATS,
    "embeddings": EMBEDDINGS,
    "lineage": LINEAGE,
    "voice_hashes": VOICE_HASHES,
    "quality_results": QUALITY_RESULTS,
    "reproducibility": REPRODUCIBILITY,
    "erasures": ERASURES,
}

GLOBAL_TABLES = frozenset({"dataset_mel_stats"})
