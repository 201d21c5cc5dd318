"""Dataset mel statistics: the exact merge of all batch partials, kept current incrementally.

The accumulator lives in stats/: `dataset.json` holds the exact sums, `included/` a copy of
each batch partial that went into them, and `pending/` one marker per batch whose partial
was written (or removed) since the last update. An update visits only the pending batches:
it retracts the included copy (subtracts it) and adds the new partial. Its cost depends on
the number of changed batches, not on the number of batches in the lake. Integer sums
make that exact: the result is bit-identical to a full recompute (`rebuild=True`). The
same visit keeps the sums per speaker and per source (`voxlake.features.slices`).
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from voxlake.features import slices, stats
from voxlake.features.stats import FinalStats, MelStats, MelSums, from_decimals
from voxlake.lake.fingerprint import code_version
from voxlake.lake.hashing import hash_arrays
from voxlake.lake.lineage import StageResult, write_lineage
from voxlake.lake.schemas import BATCH_MEL_STATS
from voxlake.lake.store import Lake, atomic_write_json

ASSET = "mel_stats"


@dataclass(frozen=True)
class DatasetStatsUpdate:
    result: StageResult
    final: FinalStats | None
    added: list[str]
    retracted: list[str]


def _state_path(lake: Lake) -> Path:
    return lake.stats_dir / "dataset.json"


def _included_dir(lake: Lake) -> Path:
    return lake.stats_dir / "included"


def _pending_dir(lake: Lake) -> Path:
    return lake.stats_dir / "pending"


def mark_changed(lake: Lake, batch: str, partial_hash: str) -> None:
    """Called by whoever writes (or deletes) a batch partial: the next update visits it."""
    from voxlake.lake.store import atomic_write_bytes

    atomic_write_bytes(_pending_dir(lake) / batch, partial_hash.encode())


def behind(lake: Lake) -> list[str]:
    """Batches whose partial changed since the last update (what a killed update left)."""
    pending = _pending_dir(lake)
    marked = sorted(p.name for p in pending.glob("*")) if pending.exists() else []
    if not _state_path(lake).exists():  # never updated: every batch with a partial
        return sorted(set(marked) | set(lake.table_batches("batch_mel_stats")))
    return marked


def read_partial(path: Path) -> tuple[MelSums, str, str]:
    """A partial kept in the accumulator's included/ (a one-row Parquet file)."""
    return _partial(pq.read_table(path, schema=BATCH_MEL_STATS))


def batch_partial(lake: Lake, batch: str) -> pa.Table | None:
    """A batch's row of batch_mel_stats, or None where it has none."""
    t = lake.read_table("batch_mel_stats", batch)
    return t if t.num_rows else None


def partial_sums(t: pa.Table | None) -> MelSums:
    """The sums of a batch's partial (`batch_partial`); an absent one is an error."""
    if t is None:
        raise ValueError("the batch has no row in batch_mel_stats")
    return _partial(t)[0]


def _partial(t: pa.Table) -> tuple[MelSums, str, str]:
    row = t.to_pylist()[0]
    sums = MelSums(
        row["n_frames"],
        row["n_voices"],
        from_decimals(row["sum"]),
        from_decimals(row["sum_square"]),
    )
    return sums, row["partial_hash"], row["fingerprint"]


def load(lake: Lake) -> MelStats | None:
    path = _state_path(lake)
    if not path.exists():
        return None
    d = json.loads(path.read_text())
    st = MelStats(len(d["sum"]), d["fingerprint"])
    st.add(
        MelSums(
            d["n_frames"],
            d["n_voices"],
            tuple(int(v) for v in d["sum"]),
            tuple(int(v) for v in d["sum_square"]),
        )
    )
    return st


def _save(lake: Lake, st: MelStats) -> None:
    s = st.sums()
    atomic_write_json(
        _state_path(lake),
        {
            "fingerprint": st.fingerprint,
            "n_frames": s.n_frames,
            "n_voices": s.n_voices,
            "sum": [str(v) for v in s.sum],
            "sum_square": [str(v) for v in s.sum_square],
        },
    )


def update(lake: Lake, fingerprint: str, n_bins: int, rebuild: bool = False) -> DatasetStatsUpdate:
    """Bring the dataset stats up to date with the batch partials that changed. One writer
    at a time: the lake's global lock, as the index's sync (two updates at once would both
    find the accumulator as it was, and the second would save what the first did not see)."""
    with lake.lock("global"):
        return _update(lake, fingerprint, n_bins, rebuild)


def _update(lake: Lake, fingerprint: str, n_bins: int, rebuild: bool) -> DatasetStatsUpdate:
    st = None if rebuild else load(lake)
    if st is not None and st.fingerprint != fingerprint:
        raise ValueError(
            f"dataset stats were built with extractor {st.fingerprint}, the pipeline now runs "
            f"{fingerprint}: stats of different extractors are never mixed; rebuild them"
        )
    included = _included_dir(lake)
    pending = _pending_dir(lake)
    fresh = st is None
    if st is None:  # first update or rebuild: visit every batch
        shutil.rmtree(included, ignore_errors=True)
        st = MelStats(n_bins, fingerprint)
        todo = {b: "" for b in lake.table_batches("batch_mel_stats")}
        todo |= {p.name: p.read_text() for p in pending.glob("*")} if pending.exists() else {}
    else:
        todo = {p.name: p.read_text() for p in pending.glob("*")} if pending.exists() else {}
    included.mkdir(parents=True, exist_ok=True)
    # the same sums per speaker and source: all at once where they were never kept
    rebuild_slices = fresh or lake.tables.version(slices.TABLE) is None
    if rebuild_slices:
        slices.rebuild(lake)
    added, retracted = [], []
    for batch in sorted(todo):
        kept = included / f"{batch}.parquet"
        current = batch_partial(lake, batch)
        old = read_partial(kept) if kept.exists() else None
        new = _partial(current) if current is not None else None
        if not (old and new and old[1] == new[1]):
            if new and new[2] != fingerprint:
                raise ValueError(
                    f"batch {batch} partial has extractor {new[2]}, expected {fingerprint}"
                )
            if old:
                st.remove(old[0])
                retracted.append(batch)
                kept.unlink()
            if new and current is not None:
                st.add(new[0])
                added.append(batch)
                tmp = included / f".tmp-{batch}.parquet"
                pq.write_table(current, tmp)
                tmp.replace(kept)
        if not rebuild_slices:
            slices.update_batch(lake, batch)
        marker = pending / batch
        if marker.exists() and marker.read_text() == todo[batch]:
            marker.unlink()
    _save(lake, st)
    final = st.finalize() if st.n_frames else None
    rows = []
    digest = ""
    if final is not None:
        digest = hash_arrays(final.mean, final.var)
        rows = [
            {
                "bin": i,
                "mean": float(final.mean[i]),
                "std": float(final.std[i]),
                "var": float(final.var[i]),
                "n_frames": final.n_frames,
                "n_voices": final.n_voices,
                "stats_hash": digest,
                "fingerprint": fingerprint,
            }
            for i in range(n_bins)
        ]
    lake.write_table("dataset_mel_stats", rows)
    write_lineage(lake, "", ASSET, digest, fingerprint, CODE_VERSION, len(rows))
    result = StageResult(
        ASSET,
        "",
        len(rows),
        digest,
        fingerprint,
        CODE_VERSION,
        extra={"added": added, "retracted": retracted},
    )
    return DatasetStatsUpdate(result, final, added, retracted)


# Made from the code above when it is loaded (a later edit on disk does not change it).
CODE_VERSION = code_version(sys.modules[__name__], stats, slices)
