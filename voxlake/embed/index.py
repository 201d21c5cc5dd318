"""The LanceDB voice index: one table `voices` of every embedding, kept current per batch.

`sync` upserts the batches whose embeddings changed since the index last saw them (by
stage hash) and deletes rows of voices that are gone; unchanged batches cost nothing.
Search is exact (brute force, cosine) while the table is small (LanceDB's guidance: an
index rarely pays under ~100K rows). Once the table reaches `ann_threshold` rows an
IVF_RQ index (RaBitQ, 32 bytes a vector, sqrt(N) partitions) is built; after later
upserts `optimize()` folds the new rows into it without retraining, and the index is
retrained only when the table has outgrown it (sqrt(N) over twice its partitions).
Searches probe `nprobes_fraction` of the partitions and re-rank `refine_factor` x k
candidates on the full vectors; the figures behind those defaults are in
benchmarks/index.py and the README.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from voxlake.lake.hashing import hash_table
from voxlake.lake.lineage import StageResult, stored_stage_hash, write_lineage
from voxlake.lake.schemas import EMBEDDING_DIM
from voxlake.lake.store import Lake, atomic_write_json

ASSET = "voice_index"
TABLE = "voices"
CODE_VERSION = "index-2"
DEFAULT_ANN_THRESHOLD = 100_000
DEFAULT_NPROBES_FRACTION = 0.04
DEFAULT_REFINE_FACTOR = 5
REBUILD_GROWTH = 2.0  # retrain once sqrt(rows) exceeds this many times the partitions


@dataclass(frozen=True)
class AnnPolicy:
    threshold: int = DEFAULT_ANN_THRESHOLD
    nprobes_fraction: float = DEFAULT_NPROBES_FRACTION
    refine_factor: int = DEFAULT_REFINE_FACTOR

    @staticmethod
    def partitions(rows: int) -> int:
        return max(2, round(float(np.sqrt(rows))))


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


def _columns(tbl: Any, columns: list[str]) -> pa.Table:
    """Whole columns of the table, without reading the vectors unless asked for."""
    return tbl.search().select(columns).limit(None).to_arrow()


def _quote(values: list[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


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
    others = tbl.count_rows(f"fingerprint != '{fp}' AND batch IN ({_quote(untouched)})")
    if others:
        raise ValueError(
            f"{others} indexed voice(s) of other batches were embedded by another embedder than "
            f"{fp}; re-materialise voice_embeddings for every batch (a backfill) with one embedder"
        )


def _vector_index(tbl: Any) -> Any | None:
    return next((i for i in tbl.list_indices() if "vector" in i.columns), None)


def _ann_path(lake: Lake) -> Any:
    return lake.index_dir / "_ann.json"


def ann_partitions(lake: Lake) -> int:
    """The partitions of the current ANN index (0: none, search is exact)."""
    path = _ann_path(lake)
    return int(json.loads(path.read_text())["partitions"]) if path.exists() else 0


def _maintain_ann(lake: Lake, tbl: Any, rows: int, threshold: int, changed: bool) -> dict[str, Any]:
    """Build the ANN index at the threshold; fold new rows in after upserts; retrain only
    when the table has outgrown the index's partitions."""
    from lancedb.index import IvfRq

    idx = _vector_index(tbl)
    parts, trained = AnnPolicy.partitions(rows), ann_partitions(lake)
    if idx is None and rows < threshold:
        _ann_path(lake).unlink(missing_ok=True)
        return {"ann": "none (exact search)"}
    if idx is None or not trained or parts > REBUILD_GROWTH * trained:
        tbl.create_index(
            "vector", config=IvfRq(distance_type="cosine", num_partitions=parts), replace=True
        )
        atomic_write_json(_ann_path(lake), {"partitions": parts, "rows_at_build": rows})
        return {"ann": f"IVF_RQ built, {parts} partitions"}
    if changed:
        tbl.optimize()  # index the new rows into the existing index and compact the files
        return {"ann": "IVF_RQ updated (optimize)"}
    return {"ann": "IVF_RQ current"}


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
    incoming = {b: _index_rows(lake, b) for b in changed}
    fingerprints = {fp for rows in incoming.values() for fp in rows["fingerprint"].to_pylist()}
    _one_embedder(tbl, fingerprints, [b for b in current if b not in incoming])
    for batch in changed:
        rows = incoming[batch]
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
    n = tbl.count_rows() if tbl is not None else 0
    ann = {} if tbl is None else _maintain_ann(lake, tbl, n, ann_threshold, bool(changed or gone))
    atomic_write_json(state_file, seen)
    content = None if tbl is None else _columns(tbl, ["voice_id", "batch", "fingerprint"])
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
        extra={"changed_batches": changed, "removed_batches": gone, **ann},
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


def _nearest(lake: Lake, tbl: Any, v: np.ndarray, limit: int, policy: AnnPolicy) -> Any:
    """A cosine query; with an ANN index, its probes and re-ranking per the policy."""
    q = tbl.search(v).distance_type("cosine").limit(limit)
    parts = ann_partitions(lake)
    if parts:
        nprobes = max(1, round(parts * policy.nprobes_fraction))
        q = q.nprobes(nprobes).refine_factor(policy.refine_factor)
    return q


def search(
    lake: Lake,
    vector: np.ndarray,
    k: int = 5,
    where: str | None = None,
    exclude: str | None = None,
    policy: AnnPolicy = AnnPolicy(),
) -> list[Hit]:
    """The k nearest voices by cosine similarity (exact while no ANN index exists)."""
    v = np.asarray(vector, dtype=np.float32)
    if v.shape != (EMBEDDING_DIM,):
        raise ValueError(f"query vector must have shape ({EMBEDDING_DIM},), got {v.shape}")
    tbl = _open_table(_connect(lake))
    if tbl is None:
        return []
    q = _nearest(lake, tbl, v, k + (1 if exclude else 0), policy)
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
    return sorted(_columns(tbl, ["voice_id"]).column("voice_id").to_pylist())


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
    rows = _columns(tbl, ["voice_id", "vector"]).to_pylist()
    pairs: dict[tuple[str, str], float] = {}
    for r in rows:
        hits = _nearest(lake, tbl, np.asarray(r["vector"], np.float32), k + 1, AnnPolicy())
        for h in hits.select(["voice_id", "_distance"]).to_arrow().to_pylist():
            other, score = h["voice_id"], 1.0 - float(h["_distance"])
            if other != r["voice_id"] and score >= threshold:
                key = (min(other, r["voice_id"]), max(other, r["voice_id"]))
                pairs[key] = max(score, pairs.get(key, score))
    return sorted(((a, b, s) for (a, b), s in pairs.items()), key=lambda p: (-p[2], p[0], p[1]))


def speaker_top1(lake: Lake) -> tuple[float, int]:
    """Leave-one-out top-1 speaker retrieval: for each labelled voice whose speaker has
    another voice, is its nearest other voice of the same speaker? (accuracy, queries)"""
    tbl = _open_table(_connect(lake)) if lake.index_dir.exists() else None
    if tbl is None:
        return float("nan"), 0
    rows = _columns(tbl, ["voice_id", "speaker", "vector"]).to_pylist()
    per_speaker = Counter(r["speaker"] for r in rows if r["speaker"])
    queries = [r for r in rows if r["speaker"] and per_speaker[r["speaker"]] > 1]
    right = 0
    for r in queries:  # one open table for every query, as in near_duplicates
        hits = _nearest(lake, tbl, np.asarray(r["vector"], np.float32), 2, AnnPolicy())
        found = hits.select(["voice_id", "speaker", "_distance"]).to_arrow().to_pylist()
        others = [h for h in found if h["voice_id"] != r["voice_id"]]
        right += bool(others) and others[0]["speaker"] == r["speaker"]
    return (right / len(queries) if queries else float("nan")), len(queries)
