"""Right to erasure: forget voices everywhere, and retract them from the statistics exactly.

For every batch that holds one of the voices: its rows go from every table, its files
(raw, denoised, mel features, and the inbox copies with the same content) are deleted
(a file ingested by reference is the user's own: its reference is dropped, the file kept),
the batch's manifest drops those inbox entries, the batch's mel partial is reduced by the
voice's exact sums, and every stage hash of the batch is recomputed from what remains.
The dataset statistics are then updated through the normal incremental path (retract the
old partial, add the new) and the index drops the rows. The erasure itself is recorded in
the `erasures` table and in lineage. Integer sums make the result bit-identical to a lake
that never saw those voices.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voxlake import pipeline
from voxlake.embed import index_table, index_writer
from voxlake.features import dataset as dataset_stats
from voxlake.features import slices
from voxlake.features.stats import MelStats, MelSums, from_decimals, to_decimals
from voxlake.ingest.inbox import Manifest, manifest_path, read_manifest
from voxlake.ingest.raw import ASSET as RAW
from voxlake.ingest.raw import raw_pairs
from voxlake.ingest.references import drop_references
from voxlake.lake.fingerprint import code_version
from voxlake.lake.hashing import hash_file, hash_json
from voxlake.lake.lineage import now_iso, record_stage, write_lineage
from voxlake.lake.store import Lake, atomic_write_json

VOICE_TABLES = (
    "voices",
    "transcripts",
    "rejected",
    "duplicates",
    "denoise_metrics",
    "voice_mel_stats",
    "embeddings",
    "voice_hashes",
)


@dataclass
class ForgetReport:
    forgotten: dict[str, str] = field(default_factory=dict)  # voice_id -> batch
    unknown: list[str] = field(default_factory=list)
    files_removed: int = 0
    rows_removed: int = 0


def _filter_parts(lake: Lake, table: str, batch: str, ids: set[str]) -> int:
    """Delete the voices' rows from a batch of `table`, in one commit."""
    return lake.tables.delete_voices(table, batch, sorted(ids))


def _unlink(path: Path) -> int:
    try:
        path.unlink()
        return 1
    except FileNotFoundError:
        return 0


def _drop_inbox_copies(lake: Lake, batch: str, ids: set[str]) -> int:
    m = read_manifest(lake, batch)
    removed = 0
    for f in m.files:
        if f.voice_id in ids and f.root is None:  # a referenced original is not the lake's
            p = lake.inbox / f.path
            if p.is_file() and hash_file(p) in ids:
                removed += _unlink(p)
    kept = tuple(f for f in m.files if f.voice_id not in ids)
    atomic_write_json(manifest_path(lake, batch), Manifest(m.batch, kept, m.created_at).to_json())
    return removed


def _reduce_partial(lake: Lake, batch: str, gone: list[dict[str, Any]]) -> None:
    partial = dataset_stats.batch_partial(lake, batch)
    if partial is None or not gone:
        return
    row = partial.to_pylist()[0]
    st = MelStats(len(row["sum"]), row["fingerprint"])
    st.add(
        MelSums(
            row["n_frames"],
            row["n_voices"],
            from_decimals(row["sum"]),
            from_decimals(row["sum_square"]),
        )
    )
    for g in gone:
        st.remove(
            MelSums(
                int(g["n_frames"]),
                1,
                from_decimals(g["sum"]),
                from_decimals(g["sum_square"]),
            )
        )
    s = st.sums()
    row.update(
        n_voices=s.n_voices,
        n_frames=s.n_frames,
        sum=to_decimals(s.sum),
        sum_square=to_decimals(s.sum_square),
    )
    lake.write_table("batch_mel_stats", [row], batch)


def _rehash(lake: Lake, batch: str) -> None:
    """Re-record every stage hash of the batch from the rows that remain."""
    lineage = {r["asset"]: r for r in lake.read_table("lineage", batch).to_pylist()}
    hashes = lake.read_table("voice_hashes", batch).to_pylist()
    for stage in pipeline.STAGE_ORDER[1:]:
        if stage not in lineage:
            continue
        pairs = [(h["voice_id"], h["content_hash"]) for h in hashes if h["stage"] == stage]
        old = lineage[stage]
        result = record_stage(lake, batch, stage, pairs, old["fingerprint"], old["code_version"])
        if stage == pipeline.MEL.name:
            partial = dataset_stats.batch_partial(lake, batch)
            if partial is not None:
                row = partial.to_pylist()[0]
                row["partial_hash"] = result.stage_hash
                lake.write_table("batch_mel_stats", [row], batch)
            dataset_stats.mark_changed(lake, batch, result.stage_hash)
    if RAW in lineage:
        rejected = [r for r in lake.read_table("rejected", batch).to_pylist() if r["stage"] == RAW]
        pairs = raw_pairs(
            lake.read_table("voices", batch).to_pylist(),
            rejected,
            lake.read_table("duplicates", batch).to_pylist(),
            lake.read_table("transcripts", batch).to_pylist(),
        )
        old = lineage[RAW]
        record_stage(lake, batch, RAW, pairs, old["fingerprint"], old["code_version"])


def forget(lake: Lake, voice_ids: list[str], reason: str = "") -> ForgetReport:
    ids = set(voice_ids)
    report = ForgetReport()
    voices = lake.read_table("voices").to_pylist()
    for v in voices:
        if v["voice_id"] in ids:
            report.forgotten[v["voice_id"]] = v["batch"]
    batches = set(report.forgotten.values())
    for t in ("duplicates", "rejected"):
        for r in lake.read_table(t).to_pylist():
            if r["voice_id"] in ids:
                batches.add(r["batch"])
    report.unknown = sorted(ids - set(report.forgotten))
    by_batch = {
        b: [r for r in lake.read_table("voice_mel_stats", b).to_pylist() if r["voice_id"] in ids]
        for b in batches
    }
    for batch in sorted(batches):
        _reduce_partial(lake, batch, by_batch[batch])
        for table in VOICE_TABLES:
            report.rows_removed += _filter_parts(lake, table, batch, ids)
        report.files_removed += _drop_inbox_copies(lake, batch, ids)
        _rehash(lake, batch)
    for voice_id, raw in ((v["voice_id"], v["raw_path"]) for v in voices if v["voice_id"] in ids):
        report.files_removed += _unlink(lake.root / raw)
        report.files_removed += _unlink(lake.denoised_audio(voice_id))
        report.files_removed += _unlink(lake.mel_features(voice_id))
    drop_references(lake, ids)
    for table in VOICE_TABLES:  # erased means gone: no earlier version keeps the rows
        lake.tables.expire(table, keep_hours=0)
    if batches:
        stats = dataset_stats.load(lake)
        if stats is not None:
            dataset_stats.update(lake, stats.fingerprint, stats.n_bins)
            # the sums of a speaker with one voice are that voice's: no version keeps them
            slices.fold(lake)
            lake.tables.expire(slices.TABLE, keep_hours=0)
        if index_table.present(lake):
            index_writer.sync(lake)
        when = now_iso()
        lake.write_table(
            "erasures",
            [
                {
                    "voice_id": v,
                    "batch": b,
                    "reason": reason,
                    "files_removed": report.files_removed,
                    "rows_removed": report.rows_removed,
                    "erased_at": when,
                }
                for v, b in sorted(report.forgotten.items())
            ],
            None,
            part=f"erasure-{when.replace(':', '')}-{hash_json(sorted(ids))[:8]}",
        )
        for batch in sorted(batches):
            write_lineage(
                lake,
                batch,
                "forget",
                "",
                "-",
                CODE_VERSION,
                sum(1 for b in report.forgotten.values() if b == batch),
            )
    return report


# Made from the code above when it is loaded (a later edit on disk does not change it).
CODE_VERSION = code_version(sys.modules[__name__])
