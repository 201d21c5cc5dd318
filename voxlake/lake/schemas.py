"""Arrow schemas of every lake table, declared once.

Each is a Delta table at tables/<name>/ (voxlake.lake.tables); a batch table's rows carry
their batch key as a column.
"""

from __future__ import annotations

import pyarrow as pa

EXACT = pa.decimal128(38, 0)  # exact fixed-point integer sums (see features/stats.py)
EMBEDDING_DIM = 256
STR, I64, F64 = pa.string(), pa.int64(), pa.float64()

# Column groups several tables share, in the order they appear there.
VOICE_KEY = [("voice_id", STR), ("batch", STR)]
HASHED = [("content_hash", STR), ("fingerprint", STR)]  # per-voice hash, stage fingerprint
EXACT_SUMS = [("sum", pa.list_(EXACT)), ("sum_square", pa.list_(EXACT))]
FILE_REF = [("batch", STR), ("source_path", STR), ("file_name", STR), ("voice_id", STR)]

VOICES = pa.schema(
    [
        *VOICE_KEY,
        ("source_path", STR),
        ("file_name", STR),
        ("format", STR),
        ("subtype", STR),
        ("sample_rate", pa.int32()),
        ("channels", pa.int32()),
        ("frames", I64),
        ("duration_s", F64),
        ("bytes", I64),
        ("rms_dbfs", F64),
        ("peak_dbfs", F64),
        ("speaker", STR),
        ("source", STR),
        ("labels", STR),  # JSON of the other sidecar columns
        ("raw_path", STR),
    ]
)

# What a corpus manifest said of a voice (voxlake ingest --from): one row per such voice.
TRANSCRIPTS = pa.schema(
    [
        *VOICE_KEY,
        ("utterance_id", STR),  # the manifest's own id
        ("text", STR),  # the transcript as given
        ("language", STR),
        ("gender", STR),
        ("recording_id", STR),  # BLAKE3 of the recording it was cut from (itself if whole)
        ("segment_start_s", F64),  # null for a whole recording
        ("segment_end_s", F64),
    ]
)

REJECTED = pa.schema(
    [
        *FILE_REF,  # null when the file could not be read at all
        ("stage", STR),
        ("reason", STR),
        ("detail", STR),
    ]
)

DUPLICATES = pa.schema(
    [
        *FILE_REF,
        ("first_batch", STR),
    ]
)

DENOISE_METRICS = pa.schema(
    [
        *VOICE_KEY,
        ("sample_rate", pa.int32()),
        ("frames", I64),
        ("in_rms_dbfs", F64),
        ("in_peak_dbfs", F64),
        ("out_rms_dbfs", F64),
        ("out_peak_dbfs", F64),
        ("in_clip_fraction", F64),
        ("out_clip_fraction", F64),
        ("in_dc_offset", F64),
        ("out_dc_offset", F64),
        ("local_snr_db", F64),
        ("floor_depth_db", F64),  # noise floor below the loud frames (~SNR + 5 dB)
        ("passthrough", pa.bool_()),  # already clean: the input was written, not denoised
        ("dnsmos_sig_in", F64),  # DNSMOS P.835, null when switched off
        ("dnsmos_bak_in", F64),
        ("dnsmos_ovrl_in", F64),
        ("dnsmos_sig_out", F64),
        ("dnsmos_bak_out", F64),
        ("dnsmos_ovrl_out", F64),
        ("denoised_path", STR),
        *HASHED,
    ]
)

VOICE_MEL_STATS = pa.schema(
    [
        *VOICE_KEY,
        ("n_frames", I64),
        ("mean", pa.list_(pa.float32())),
        ("std", pa.list_(pa.float32())),
        *EXACT_SUMS,
        *HASHED,
    ]
)

BATCH_MEL_STATS = pa.schema(
    [
        ("batch", STR),
        ("n_voices", I64),
        ("n_frames", I64),
        *EXACT_SUMS,
        ("partial_hash", STR),
        ("fingerprint", STR),
    ]
)

DATASET_MEL_STATS = pa.schema(
    [
        ("bin", pa.int32()),
        ("mean", F64),
        ("std", F64),
        ("var", F64),
        ("n_frames", I64),
        ("n_voices", I64),
        ("stats_hash", STR),
        ("fingerprint", STR),
    ]
)

# Mel sums per (slice, label, bin), exact, kept by voxlake.features.slices: the rows that
# are not `included` add up, per key, to the sums over every voice of the lake.
SLICE_MEL_SUMS = pa.schema(
    [
        ("slice", STR),  # the voices column it slices by: speaker or source
        ("label", STR),  # that column's value ("(none)" where empty)
        ("bin", pa.int32()),
        ("voices", I64),
        ("frames", I64),
        ("sum_q", EXACT),
        ("sum_square_q", EXACT),
        ("fingerprint", STR),
        ("batch", STR),  # the batch of a change or of an included copy; null: folded sums
        ("included", pa.bool_()),  # a copy of what the folded sums hold of the batch
    ]
)

EMBEDDINGS = pa.schema(
    [
        *VOICE_KEY,
        ("embedder", STR),
        ("vector", pa.list_(pa.float32(), EMBEDDING_DIM)),
        *HASHED,
    ]
)

LINEAGE = pa.schema(
    [
        ("batch", STR),  # "" for global assets
        ("asset", STR),
        ("stage_hash", STR),
        ("fingerprint", STR),
        ("code_version", STR),
        ("rows", I64),
        ("model_hashes", STR),  # canonical JSON: model name -> SHA-256 of its file
        ("environment", STR),  # canonical JSON: CPU, OS, Python, library versions
        ("environment_fingerprint", STR),
        ("materialized_at", STR),
    ]
)

VOICE_HASHES = pa.schema(
    [
        *VOICE_KEY,
        ("stage", STR),
        ("content_hash", STR),
    ]
)

QUALITY_RESULTS = pa.schema(
    [
        ("batch", STR),
        ("table_name", STR),
        ("expectation", STR),
        ("column_name", STR),
        ("success", pa.bool_()),
        ("unexpected_count", I64),
        ("observed", STR),
        ("checked_at", STR),
    ]
)

REPRODUCIBILITY = pa.schema(
    [
        ("batch", STR),
        ("check", STR),  # rerun, workers=N, batch_order, regroup, manifest
        ("stage", STR),
        ("run", pa.int32()),
        ("stored_hash", STR),
        ("recomputed_hash", STR),
        ("match", pa.bool_()),
        ("first_voice", STR),
        ("max_abs_diff", F64),
        ("checked_at", STR),
    ]
)

ERASURES = pa.schema(
    [
        *VOICE_KEY,
        ("reason", STR),
        ("files_removed", I64),
        ("rows_removed", I64),
        ("erased_at", STR),
    ]
)

BATCH_FAILURES = pa.schema(
    [
        ("batch", STR),
        ("step", STR),  # the asset whose step failed
        ("error", STR),  # its error, on one line
        ("failed_at", STR),
    ]
)

TABLES: dict[str, pa.Schema] = {
    "voices": VOICES,
    "transcripts": TRANSCRIPTS,
    "rejected": REJECTED,
    "duplicates": DUPLICATES,
    "denoise_metrics": DENOISE_METRICS,
    "voice_mel_stats": VOICE_MEL_STATS,
    "batch_mel_stats": BATCH_MEL_STATS,
    "dataset_mel_stats": DATASET_MEL_STATS,
    "slice_mel_sums": SLICE_MEL_SUMS,
    "embeddings": EMBEDDINGS,
    "lineage": LINEAGE,
    "voice_hashes": VOICE_HASHES,
    "quality_results": QUALITY_RESULTS,
    "reproducibility": REPRODUCIBILITY,
    "erasures": ERASURES,
    "batch_failures": BATCH_FAILURES,
}

GLOBAL_TABLES = frozenset({"dataset_mel_stats"})

# Tables partitioned by a column (a query's filter on it reads one partition's files): the
# included copies of slice_mel_sums are never read by a query.
PARTITIONED: dict[str, list[str]] = {"slice_mel_sums": ["included"]}
