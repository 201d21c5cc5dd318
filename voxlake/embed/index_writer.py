"""The LanceDB voice index's writer: the table `voices`, kept current batch by batch.

`sync` upserts the batches whose embeddings changed since the index last saw them (by
stage hash) and deletes rows of voices that are gone; unchanged batches cost nothing.
Search is exact (brute force, cosine) while the table is small (LanceDB's guidance: an
index rarely pays under ~100K rows). Once the table reaches `ann_threshold` rows an
IVF_RQ index (RaBitQ, 32 bytes a vector, sqrt(N) partitions) is built; rows upserted
later are searched exactly until `optimize_after` of them wait, then `optimize()` folds
them into it without retraining, and the index is retrained only when the table has
outgrown it (sqrt(N) over twice its partitions).
Only one writer runs at a time (the lake's "global" lock).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from voxlake.embed.index_table import (
    ASSET,
    DEFAULT_ANN_THRESHOLD,
    DEFAULT_OPTIMIZE_AFTER,
    REBUILD_GROWTH,
    TABLE,
    AnnPolicy,
    ann_partitions,
    ann_path,
    connect,
    first_fingerprint,
    open_table,
    quote,
    state_path,
)
from voxlake.lake.fingerprint import code_version
from voxlake.lake.hashing import hash_json
from voxlake.lake.lineage import StageResult, stored_stage_hash, write_lineage
from voxlake.lake.store import Lake, atomic_write_json, file_signature


def _index_rows(lake: Lake, batch: str) -> pa.Table:
    emb = lake.read_table("embeddings", batch).sort_by("voice_id")
    labels = {v["voice_id"]: v for v in lake.read_table("voices", batch).to_pylist()}
    ids = emb["voice_id"].to_pylist()
    return pa.table(
        {
            "voice_id": emb["voice_id"],
            "batch": emb["batch"],
            "speaker": pa.array([labels.get(i, {}).get("speaker") for i in ids], pa.string()),
            "source": pa.array([labels.get(i, {}).get("source") for i in ids], pa.string()),
            "fingerprint": emb["fingerprint"],
            "vector": emb["vector"],
        }
    )


def _one_embedder(tbl: Any, incoming: set[str], untouched: list[str]) -> None:
    """Refuse to mix embedders: cosine between two embedders' vectors means nothing."""
    if len(incoming) > 1:
        raise ValueError(
            f"the new embeddings come from {len(incoming)} embedders ({sorted(incoming)}); "
            "re-materialise voice_embeddings for every batch with one embedder"
        )
    if tbl is None or not incoming or not untouched:
        return
    (fp,) = incoming
    if first_fingerprint(tbl) == fp:  # the index holds one embedder (kept so): this one
        return
    others = tbl.count_rows(f"fingerprint != '{fp}' AND batch IN ({quote(untouched)})")
    if others:
        raise ValueError(
            f"{others} indexed voice(s) of other batches were embedded by another embedder than "
            f"{fp}; re-materialise voice_embeddings for every batch (a backfill) with one embedder"
        )


KEYED = ("voice_id", "batch")  # the columns every sync deletes and upserts by
ROWS_CACHE = "_rows_seen.json"  # embeddings file -> [signature, rows] (`embedding_rows`)


def _key_indexes(tbl: Any) -> None:
    """BTREE indexes on the upsert and delete keys (built once): without them, each
    batch's delete and merge-insert scan those columns of the whole table (0.35 s at 10^6
    rows, 0.05 s with them)."""
    from lancedb.index import BTree

    have = {c for i in tbl.list_indices() for c in i.columns}
    for column in KEYED:
        if column not in have:
            tbl.create_index(column, config=BTree())


def _vector_index(tbl: Any) -> Any | None:
    return next((i for i in tbl.list_indices() if "vector" in i.columns), None)


def _maintain_ann(
    lake: Lake,
    tbl: Any,
    rows: int,
    threshold: int,
    changed: bool,
    optimize_after: int = DEFAULT_OPTIMIZE_AFTER,
) -> dict[str, Any]:
    """Build the ANN index at the threshold; fold new rows in once `optimize_after` rows
    wait outside it (searched exactly until then); retrain only when the table has
    outgrown the index's partitions."""
    from lancedb.index import IvfRq

    idx = _vector_index(tbl)
    parts, trained = AnnPolicy.partitions(rows), ann_partitions(lake)
    if idx is None and rows < threshold:
        ann_path(lake).unlink(missing_ok=True)
        return {"ann": "none (exact search)"}
    if idx is None or not trained or parts > REBUILD_GROWTH * trained:
        tbl.create_index(
            "vector", config=IvfRq(distance_type="cosine", num_partitions=parts), replace=True
        )
        atomic_write_json(ann_path(lake), {"partitions": parts, "rows_at_build": rows})
        return {"ann": f"IVF_RQ built, {parts} partitions"}
    if changed:
        stats = tbl.index_stats(idx.name)
        waiting = int(getattr(stats, "num_unindexed_rows", 0) or 0)
        if waiting <= optimize_after:
            return {"ann": f"IVF_RQ current, {waiting} new rows searched exactly"}
        tbl.optimize()  # index the new rows into the existing index and compact the files
        return {"ann": "IVF_RQ updated (optimize)"}
    return {"ann": "IVF_RQ current"}


def sync(
    lake: Lake,
    ann_threshold: int = DEFAULT_ANN_THRESHOLD,
    optimize_after: int = DEFAULT_OPTIMIZE_AFTER,
) -> StageResult:
    """Bring the index up to date with the lake's embeddings tables (single writer)."""
    with lake.lock("global"):
        return _sync(lake, ann_threshold, optimize_after)


def _seen(lake: Lake) -> dict[str, str]:
    """Batch -> the embeddings stage hash the index holds (written after each sync)."""
    path = state_path(lake)
    return json.loads(path.read_text()) if path.exists() else {}


def _rows_cache_path(lake: Lake) -> Path:
    return lake.index_dir / ROWS_CACHE


def embedding_rows(lake: Lake) -> int:
    """Rows of the embeddings tables, from their Parquet footers. A footer is read only
    for a file whose signature changed since the last count (files are replaced atomically),
    so a count stats each file: at 10^7 voices, 20,000 footer reads became 20,000 stats.
    The cache is derived: another machine's signatures (inodes) miss and re-read."""
    path = _rows_cache_path(lake)
    try:
        cached = json.loads(path.read_text()) if path.exists() else {}
    except ValueError:  # a damaged cache is rebuilt from the footers
        cached = {}
    cache: dict[str, list[Any]] = {}
    for f in lake.table_files("embeddings"):
        sig = file_signature(f)
        if sig is None:  # dropped since the listing
            continue
        key = lake.relative(f)
        hit = cached.get(key)
        rows = hit[1] if hit and hit[0] == sig else pq.read_metadata(f).num_rows
        cache[key] = [sig, int(rows)]
    if cache != cached:
        atomic_write_json(path, cache)
    return sum(rows for _sig, rows in cache.values())


def check_total(lake: Lake, rows: int) -> None:
    """The index must hold one row per embedding (counted from the Parquet footers)."""
    total = embedding_rows(lake)
    if rows != total:
        raise ValueError(
            f"the voice index holds {rows} rows where the embeddings tables hold {total}; "
            "`voxlake doctor` names what differs"
        )


def _lineage_cache_path(lake: Lake) -> Path:
    return lake.index_dir / "_lineage_seen.json"


def _current_and_cache(lake: Lake) -> tuple[dict[str, str], dict[str, Any]]:
    """Batch -> its embeddings stage hash, as the lineage tables say now. A lineage file
    is read only when its (inode, size, mtime) differs from the cache's (lineage files are
    replaced atomically, never edited in place), so a sync stats each batch's file and
    reads only the new ones: at 10^7 voices, 20,000 reads became 20,000 stats."""
    path = _lineage_cache_path(lake)
    try:
        cached = json.loads(path.read_text()) if path.exists() else {}
    except ValueError:  # a damaged cache is rebuilt from the lineage itself
        cached = {}
    current, cache = {}, {}
    for b in lake.table_batches("embeddings"):
        sig = file_signature(lake.table_file("lineage", b, part="voice_embeddings"))
        hit = cached.get(b)
        if sig is not None and hit and hit.get("sig") == sig:
            current[b] = str(hit["hash"])
        else:
            current[b] = stored_stage_hash(lake, b, "voice_embeddings") or ""
        if sig is not None:
            cache[b] = {"sig": sig, "hash": current[b]}
    return current, cache


def _current(lake: Lake) -> dict[str, str]:
    return _current_and_cache(lake)[0]


def _changes(seen: dict[str, str], current: dict[str, str]) -> tuple[list[str], list[str]]:
    changed = sorted(b for b, h in current.items() if seen.get(b) != h)
    return changed, sorted(set(seen) - set(current))


def behind(lake: Lake) -> list[str]:
    """Batches the index does not hold as they are now (new, changed or gone)."""
    changed, gone = _changes(_seen(lake), _current(lake))
    return sorted({*changed, *gone})


def _sync(lake: Lake, ann_threshold: int, optimize_after: int) -> StageResult:
    db = connect(lake)
    state_file = state_path(lake)
    tbl = open_table(db)
    seen = _seen(lake) if tbl is not None else {}
    current, lineage_cache = _current_and_cache(lake)
    changed, gone = _changes(seen, current)
    incoming = {b: _index_rows(lake, b) for b in changed}
    fingerprints = {fp for rows in incoming.values() for fp in rows["fingerprint"].to_pylist()}
    _one_embedder(tbl, fingerprints, [b for b in current if b not in incoming])
    if tbl is not None and changed:
        _key_indexes(tbl)  # an index made before they existed gains them once
    for batch in changed:
        rows = incoming[batch]
        if tbl is None:
            if rows.num_rows == 0:
                seen[batch] = current[batch]
                continue
            tbl = db.create_table(TABLE, rows)
            _key_indexes(tbl)
        else:
            ids = rows["voice_id"].to_pylist()
            keep = f" AND voice_id NOT IN ({quote(ids)})" if ids else ""
            tbl.delete(f"batch = '{batch}'{keep}")
            if ids:
                tbl.merge_insert(
                    "voice_id"
                ).when_matched_update_all().when_not_matched_insert_all().execute(rows)
        seen[batch] = current[batch]
    if tbl is not None:
        for batch in gone:
            tbl.delete(f"batch = '{batch}'")
            seen.pop(batch, None)
    n = tbl.count_rows() if tbl is not None else 0
    ann = (
        {}
        if tbl is None
        else _maintain_ann(lake, tbl, n, ann_threshold, bool(changed or gone), optimize_after)
    )
    atomic_write_json(state_file, seen)
    atomic_write_json(_lineage_cache_path(lake), lineage_cache)
    # The index holds exactly its batches' embeddings as `seen` names them (each by its
    # stage hash, itself a hash of the batch's vectors): hashing that map identifies the
    # content without reading 10^7 rows back at every sync. `voxlake doctor` and the
    # consistency checks read the rows themselves.
    digest = "" if tbl is None else hash_json({"batches": seen, "rows": n})
    fp = ",".join(sorted(fingerprints)) or "-"
    write_lineage(lake, "", ASSET, digest, fp, CODE_VERSION, n)
    return StageResult(
        ASSET,
        "",
        n,
        digest,
        fp,
        CODE_VERSION,
        extra={"changed_batches": changed, "removed_batches": gone, **ann},
    )


# Made from the code above when it is loaded (a later edit on disk does not change it).
CODE_VERSION = code_version(sys.modules[__name__])
