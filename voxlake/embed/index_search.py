"""Searching the LanceDB voice index: nearest voices, near-duplicates, speaker retrieval.

Search is exact (brute force, cosine) until the writer has built an ANN index; then each
query probes `nprobes_fraction` of its partitions and re-ranks `refine_factor` x k
candidates on the full vectors (the figures behind those defaults: benchmarks/index.py).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from voxlake.embed.index_table import (
    AnnPolicy,
    ann_partitions,
    columns,
    connect,
    open_table,
    present,
    quote,
)
from voxlake.lake.schemas import EMBEDDING_DIM
from voxlake.lake.store import Lake


@dataclass(frozen=True)
class Hit:
    voice_id: str
    score: float  # cosine similarity
    batch: str
    speaker: str | None
    source: str | None


def vector_of(lake: Lake, voice_id: str) -> np.ndarray:
    tbl = open_table(connect(lake))
    if tbl is None:
        raise LookupError("the index is empty")
    rows = tbl.search().where(f"voice_id = '{voice_id}'").limit(1).to_arrow()
    if rows.num_rows == 0:
        raise LookupError(f"no voice {voice_id!r} in the index")
    return np.asarray(rows["vector"][0].as_py(), dtype=np.float32)


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
    tbl = open_table(connect(lake))
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


def voice_ids(lake: Lake, batches: list[str] | None = None) -> list[str]:
    """The index's voice ids (of `batches` only, if given), sorted."""
    tbl = open_table(connect(lake))
    if tbl is None or batches == []:
        return []
    if batches is None:
        return sorted(columns(tbl, ["voice_id"]).column("voice_id").to_pylist())
    q = tbl.search().where(f"batch IN ({quote(batches)})").select(["voice_id"]).limit(None)
    return sorted(q.to_arrow().column("voice_id").to_pylist())


def near_duplicates(
    lake: Lake, threshold: float = 0.95, k: int = 5
) -> list[tuple[str, str, float]]:
    """Pairs of voices whose embeddings have cosine similarity >= threshold.

    Each voice asks the index for its k nearest neighbours (ANN once an index exists),
    so the cost is N searches, not N**2 comparisons. Pairs come once, (a, b) with a < b.
    """
    tbl = open_table(connect(lake)) if present(lake) else None
    if tbl is None:
        return []
    rows = columns(tbl, ["voice_id", "vector"]).to_pylist()
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
    tbl = open_table(connect(lake)) if present(lake) else None
    if tbl is None:
        return float("nan"), 0
    rows = columns(tbl, ["voice_id", "speaker", "vector"]).to_pylist()
    per_speaker = Counter(r["speaker"] for r in rows if r["speaker"])
    queries = [r for r in rows if r["speaker"] and per_speaker[r["speaker"]] > 1]
    right = 0
    for r in queries:  # one open table for every query, as in near_duplicates
        hits = _nearest(lake, tbl, np.asarray(r["vector"], np.float32), 2, AnnPolicy())
        found = hits.select(["voice_id", "speaker", "_distance"]).to_arrow().to_pylist()
        others = [h for h in found if h["voice_id"] != r["voice_id"]]
        right += bool(others) and others[0]["speaker"] == r["speaker"]
    return (right / len(queries) if queries else float("nan")), len(queries)
