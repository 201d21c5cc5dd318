"""The LanceDB voice index: one table `voices` of every embedding, kept current per batch.

`sync` upserts the batches whose embeddings changed since the index last saw them (by
stage hash) and deletes rows of voices that are gone; unchanged batches cost nothing.
Search is exact (brute force, cosine) while the table is small; an ANN index is built
once the table reaches `ann_threshold` rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from voxlake.hashing import hash_table
from voxlake.lake import Lake, atomic_write_json
from voxlake.lineage import StageResult, stored_stage_hash, write_lineage
from voxlake.schemas import EMBEDDING_DIM

ASSET = "voice_index"
TABLE = "voices"
CODE_VERSION = "index-1"
DEFAULT_ANN_THRESHOLD = 100_000


@dataclass(frozen=True)
class Hit:
    voice_id: str
    score: float  # cosine similarity
    batch: str
    speaker: str | None
    source: str | None


def _connect(lake: Lake) -> Any:
    import lancedb

    lake.index_dir.mkdir(parents=True, exist_ok=True)
    return lancedb.connect(str(lake.index_dir))


def _state_path(lake: Lake) -> Any:
    return lake.index_dir / "_state.json"


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


def _open_table(db: Any) -> Any | None:
    listing = db.list_tables()
    names = listing.tables if hasattr(listing, "tables") else listing
    return db.open_table(TABLE) if TABLE in names else None


def _quote(values: list[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def sync(lake: Lake, ann_threshold: int = DEFAULT_ANN_THRESHOLD) -> StageResult:
    """Bring the index up to date with the lake's embeddings tables (single writer)."""
    with lake.lock("global"):
        return _sync(lake, ann_threshold)


def _sync(lake: Lake, ann_threshold: int) -> StageResult:
    db = _connect(lake)
    state_file = _state_path(lake)
    seen: dict[str, str] = json.loads(state_file.read_text()) if state_file.exists() else {}
    tbl = _open_table(db)
    if tbl is None:
        seen = {}
    current = {
        b: stored_stage_hash(lake, b, "voice_embeddings") or ""
        for b in lake.table_batches("embeddings")
    }
    changed = sorted(b for b, h in current.items() if seen.get(b) != h)
    gone = sorted(set(seen) - set(current))
    fingerprints: set[str] = set()
    for batch in changed:
        rows = _index_rows(lake, batch)
        fingerprints |= set(rows["fingerprint"].to_pylist())
        if tbl is None:
            if rows.num_rows == 0:
                seen[batch] = current[batch]
                continue
            tbl = db.create_table(TABLE, rows)
        else:
            ids = rows["voice_id"].to_pylist()
            keep = f" AND voice_id NOT IN ({_quote(ids)})" if ids else ""
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
    atomic_write_json(state_file, seen)
    n = tbl.count_rows() if tbl is not None else 0
    if tbl is not None and n >= ann_threshold and not tbl.list_indices():
        tbl.create_index(metric="cosine", vector_column_name="vector", index_type="IVF_HNSW_SQ")
    content = tbl.to_arrow().select(["voice_id", "batch", "fingerprint"]) if tbl else None
    digest = hash_table(content, "voice_id") if content is not None else ""
    fp = ",".join(sorted(fingerprints)) or "-"
    write_lineage(lake, "", ASSET, digest, fp, CODE_VERSION, n)
    return StageResult(
        ASSET,
        "",
        n,
        digest,
        fp,
        CODE_VERSION,
        extra={"changed_batches": changed, "removed_batches": gone},
    )


def count(lake: Lake) -> int:
    tbl = _open_table(_connect(lake)) if lake.index_dir.exists() else None
    return int(tbl.count_rows()) if tbl is not None else 0


def vector_of(lake: Lake, voice_id: str) -> np.ndarray:
    tbl = _open_table(_connect(lake))
    if tbl is None:
        raise LookupError("the index is empty")
    rows = tbl.search().where(f"voice_id = '{voice_id}'").limit(1).to_arrow()
    if rows.num_rows == 0:
        raise LookupError(f"no voice {voice_id!r} in the index")
    return np.asarray(rows["vector"][0].as_py(), dtype=np.float32)


def index_fingerprint(lake: Lake) -> str | None:
    tbl = _open_table(_connect(lake))
    if tbl is None:
        return None
    fps = tbl.search().select(["fingerprint"]).limit(1).to_arrow()["fingerprint"].to_pylist()
    return fps[0] if fps else None


def search(
    lake: Lake,
    vector: np.ndarray,
    k: int = 5,
    where: str | None = None,
    exclude: str | None = None,
) -> list[Hit]:
    """The k nearest voices by cosine similarity (exact while no ANN index exists)."""
    v = np.asarray(vector, dtype=np.float32)
    if v.shape != (EMBEDDING_DIM,):
        raise ValueError(f"query vector must have shape ({EMBEDDING_DIM},), got {v.shape}")
    tbl = _open_table(_connect(lake))
    if tbl is None:
        return []
    q = tbl.search(v).distance_type("cosine").limit(k + (1 if exclude else 0))
    if where:
        q = q.where(where, prefilter=True)
    rows = q.to_arrow().to_pylist()
    hits = [
        Hit(r["voice_id"], 1.0 - float(r["_distance"]), r["batch"], r["speaker"], r["source"])
        for r in rows
        if r["voice_id"] != exclude
    ]
    return hits[:k]


def voice_ids(lake: Lake) -> list[str]:
    tbl = _open_table(_connect(lake))
    if tbl is None:
        return []
    return sorted(tbl.to_arrow().column("voice_id").to_pylist())


def near_duplicates(
    lake: Lake, threshold: float = 0.95, k: int = 5
) -> list[tuple[str, str, float]]:
    """Pairs of voices whose embeddings have cosine similarity >= threshold.

    Each voice asks the index for its k nearest neighbours (ANN once an index exists),
    so the cost is N searches, not N**2 comparisons. Pairs come once, (a, b) with a < b.
    """
    tbl = _open_table(_connect(lake)) if lake.index_dir.exists() else None
    if tbl is None:
        return []
    rows = tbl.to_arrow().select(["voice_id", "vector"]).to_pylist()
    pairs: dict[tuple[str, str], float] = {}
    for r in rows:
        hits = tbl.search(np.asarray(r["vector"], np.float32)).distance_type("cosine")
        for h in hits.limit(k + 1).select(["voice_id"]).to_arrow().to_pylist():
            other, score = h["voice_id"], 1.0 - float(h["_distance"])
            if other != r["voice_id"] and score >= threshold:
                key = (min(other, r["voice_id"]), max(other, r["voice_id"]))
                pairs[key] = max(score, pairs.get(key, score))
    return sorted(((a, b, s) for (a, b), s in pairs.items()), key=lambda p: (-p[2], p[0], p[1]))
