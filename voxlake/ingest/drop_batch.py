"""Remove a batch from the lake: the way out for a failed batch that should not be retried.

Its rows leave every per-batch table, its voices' files (raw, denoised, mel features) are
deleted, its manifest goes, and its input files are logged in `batches/_dropped.jsonl`, so
that the next inbox scan does not make them a batch again (re-send a file under a new
name or content to ingest it). The dataset statistics retract its partial and the index
its rows, through their normal incremental updates. Dropping a complete batch removes its
voices as `forget` would, without the erasure record: it needs `force`.
"""

from __future__ import annotations

from dataclasses import dataclass

from voxlake.embed import index_table, index_writer
from voxlake.features import dataset as dataset_stats
from voxlake.ingest.inbox import DROPPED_LOG, append_log, manifest_path, read_manifest
from voxlake.lake.schemas import GLOBAL_TABLES, TABLES
from voxlake.lake.store import Lake
from voxlake.pipeline import batch_complete

KEPT_TABLES = frozenset(
    {
        "erasures",  # the audit of erasures outlives any batch
        "slice_mel_sums",  # the statistics step retracts the batch (its included copy)
    }
)


class CompleteBatch(ValueError):
    """Refused: the batch is complete, and `force` was not given."""


@dataclass(frozen=True)
class DroppedBatch:
    batch: str
    voices: int
    files_removed: int
    inputs_logged: int


def _unlink_all(lake: Lake, batch: str) -> tuple[int, int]:
    voices = lake.read_table("voices", batch).to_pylist()
    removed = 0
    for v in voices:
        for path in (
            lake.root / v["raw_path"],
            lake.denoised_audio(v["voice_id"]),
            lake.mel_features(v["voice_id"]),
        ):
            if path.is_file():
                path.unlink()
                removed += 1
    return len(voices), removed


def drop_batch(lake: Lake, batch: str, force: bool = False) -> DroppedBatch:
    """Remove `batch` everywhere (FileNotFoundError: no such batch; CompleteBatch)."""
    manifest = read_manifest(lake, batch)
    if batch_complete(lake, batch) and not force:
        raise CompleteBatch(
            f"batch {batch} is complete; dropping it removes its voices (to erase voices, "
            "use `voxlake forget`; to drop it anyway, --force)"
        )
    with lake.lock("batches"):
        n_voices, removed = _unlink_all(lake, batch)
        for table in TABLES:
            if table not in GLOBAL_TABLES and table not in KEPT_TABLES:
                lake.drop_batch(table, batch)
        append_log(lake, DROPPED_LOG, list(manifest.files))
        dataset_stats.mark_changed(lake, batch, "")
        manifest_path(lake, batch).unlink()
    stats = dataset_stats.load(lake)
    if stats is not None:
        dataset_stats.update(lake, stats.fingerprint, stats.n_bins)
    if index_table.present(lake):
        index_writer.sync(lake)
    return DroppedBatch(batch, n_voices, removed, len(manifest.files))
