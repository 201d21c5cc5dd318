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
from typing import Any

import pyarrow as pa

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
from voxlake.lake.lineage import StageResult, write_lineage
from voxlake.lake.store import Lake, atomic_write_json


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


def embedding_rows(lake: Lake) -> int:
    """Rows of the embeddings table, from its log's statistics (no data file is read)."""
    return lake.table_rows("embeddings")


def check_total(lake: Lake, rows: int) -> None:
    """The index must hold one row per embedding (counted from the Parquet footers)."""
    total = embedding_rows(lake)
    if rows != total:
        raise ValueError(
            f"the voice index holds {rows} rows where the embeddings tables hold {total}; "
            "`voxlake doctor` names what differs"
        )


def _current(lake: Lake) -> dict[str, str]:
    """Batch -> its embeddings stage hash, as the lineage table says now (one read of the
    lineage table's embeddings rows: one row per batch)."""
    t = lake.tables.read_parts("lineage", "voice_embeddings", ["batch", "stage_hash"])
    has = set(lake.table_batches("embeddings"))
    return {
        b: h or ""
        for b, h in zip(t["batch"].to_pylist(), t["stage_hash"].to_pylist(), strict=True)
        if b in has
    }


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
    current = _current(lake)
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
