"""What each asset and lake table holds, one sentence each, declared once.

The Dagster assets take their descriptions from `ASSETS`, and the documentation's asset and
SQL reference pages are generated from `ASSETS` and `TABLES`. The derived views describe
themselves in the leading comment of their `sql/views/*.sql` file.
"""

from __future__ import annotations

from dataclasses import dataclass

ASSETS: dict[str, str] = {
    "raw_voices": (
        "The batch's accepted voices, copied into the lake by content hash, with the files "
        "it refused and why, and the re-sent content it recognised."
    ),
    "denoised_voices": (
        "Each voice denoised by DeepFilterNet3, with its before-and-after level, clipping, "
        "SNR and (when switched on) DNSMOS measures."
    ),
    "voice_mel_stats": (
        "Each denoised voice's log-mel summary and exact mel sums, plus the batch's "
        "mergeable partial statistics."
    ),
    "voice_embeddings": (
        "One L2-normalised 256-dimensional speaker embedding per denoised voice, with the "
        "embedder that made it."
    ),
    "mel_stats": (
        "The dataset's mel statistics per bin (count, mean, std), the exact merge of every "
        "batch's partial sums, updated batch by batch, with the same sums per speaker and "
        "per source."
    ),
    "voice_index": (
        "The LanceDB vector index of every voice's embedding, searched by `voxlake search` "
        "and `voxlake duplicates`."
    ),
    "reproducibility": (
        "A batch recomputed from its raw audio, with every stage's BLAKE3 hash compared "
        "against the stored one."
    ),
    "table_compaction": (
        "The lake's tables kept lean: the mel sums per speaker and source folded, small "
        "data files merged, the log checkpointed, and snapshots older than the retention "
        "expired (those an export or hash manifest "
        "recorded are kept); its metadata shows files and bytes before and after."
    ),
}


@dataclass(frozen=True)
class TableDoc:
    """A lake table in the SQL reference: what one row is, and a query worth starting from."""

    description: str
    example: str


TABLES: dict[str, TableDoc] = {
    "voices": TableDoc(
        "One row per accepted voice: its id (BLAKE3 of the raw bytes), batch, source file, "
        "format, length, level and labels (speaker, source, the rest as JSON).",
        "select speaker, count(*) as voices, sum(duration_s) / 3600 as hours\n"
        "from voices group by speaker order by voices desc",
    ),
    "transcripts": TableDoc(
        "One row per voice a corpus manifest brought (`voxlake ingest --from`): its text as "
        "given, language, gender, the manifest's utterance id, and for a segment its "
        "recording's content hash and bounds in seconds.",
        "select t.language, count(*) as voices, sum(v.duration_s) / 3600 as hours\n"
        "from transcripts t join voices v using (voice_id) group by t.language",
    ),
    "rejected": TableDoc(
        "One row per refused file or failed voice: the stage that refused it, a reason "
        "code and a detail.",
        "select stage, reason, count(*) as files from rejected group by all order by files desc",
    ),
    "duplicates": TableDoc(
        "One row per file whose content the lake already held, with the batch that first "
        "brought it.",
        "select batch, count(*) as resent from duplicates group by batch order by batch",
    ),
    "denoise_metrics": TableDoc(
        "One row per denoised voice: levels, peaks, DC offset and clipping before and "
        "after, the local SNR, the noise floor's depth and DNSMOS scores.",
        "select voice_id, local_snr_db, dnsmos_ovrl_in, dnsmos_ovrl_out\n"
        "from denoise_metrics order by local_snr_db limit 10",
    ),
    "voice_mel_stats": TableDoc(
        "One row per voice: its log-mel frame count, per-bin mean and std, and exact Q31.32 "
        "sums of the frames and their squares.",
        "select batch, sum(n_frames) as frames from voice_mel_stats group by batch",
    ),
    "batch_mel_stats": TableDoc(
        "One row per batch: the exact sums of all its voices' mel frames, the partial that "
        "the dataset statistics merge.",
        "select batch, n_voices, n_frames, partial_hash from batch_mel_stats order by batch",
    ),
    "dataset_mel_stats": TableDoc(
        "One row per mel bin: the dataset's mean, std and variance over every voice's frames.",
        "select bin, mean, std from dataset_mel_stats order by bin",
    ),
    "slice_mel_sums": TableDoc(
        "Exact mel sums per speaker and per source label, kept up to date by the dataset "
        "statistics step: its rows add up per (slice, label, bin).",
        "select slice, label, sum(voices) as voices from slice_mel_sums where bin = 0 "
        "group by all order by all",
    ),
    "embeddings": TableDoc(
        "One row per voice: its 256-dimensional speaker embedding and the embedder that made it.",
        "select embedder, count(*) as voices from embeddings group by embedder",
    ),
    "lineage": TableDoc(
        "One row per stage run of a batch: its BLAKE3 stage hash, config fingerprint, code "
        "version, model hashes and environment.",
        "select batch, asset, stage_hash, code_version from lineage order by materialized_at",
    ),
    "voice_hashes": TableDoc(
        "One row per voice and stage: the content hash of what the stage made of the voice.",
        "select stage, count(*) as voices from voice_hashes group by stage",
    ),
    "quality_results": TableDoc(
        "One row per Great Expectations expectation checked on a batch's table, with its outcome.",
        "select table_name, expectation, count(*) filter (where not success) as failures\n"
        "from quality_results group by all order by failures desc",
    ),
    "reproducibility": TableDoc(
        "One row per batch, check, stage and rerun: the stored and recomputed hashes and "
        "whether they match.",
        'select batch, "check", stage, bool_and(match) as identical\n'
        'from reproducibility group by all order by batch, "check", stage',
    ),
    "erasures": TableDoc(
        "One row per voice erased by `voxlake forget`: why, and how many files and rows went.",
        "select voice_id, reason, erased_at from erasures order by erased_at",
    ),
    "batch_failures": TableDoc(
        "One row per failed run of a batch: the step that failed and its error.",
        "select batch, step, error from batch_failures order by failed_at desc",
    ),
}
