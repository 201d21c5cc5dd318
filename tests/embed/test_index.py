"""The ANN policy of the voice index, on embeddings written straight into a lake."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from voxlake import pipeline
from voxlake.embed import index_search, index_table, index_writer
from voxlake.lake.hashing import hash_array
from voxlake.lake.lineage import record_stage
from voxlake.lake.store import Lake

EMBED = pipeline.EMBED.name

DIM = 256


def _add_batch(lake: Lake, batch: str, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    rows = [
        {
            "voice_id": f"{batch}-{i:04d}",
            "batch": batch,
            "vector": v[i].tolist(),
            "content_hash": hash_array(v[i]),
            "embedder": "mel_profile",
            "fingerprint": pipeline.embedder_fingerprint("mel_profile"),
        }
        for i in range(n)
    ]
    lake.write_table("embeddings", rows, batch)
    pairs = [(r["voice_id"], r["content_hash"]) for r in rows]
    record_stage(lake, batch, EMBED, pairs, pipeline.embedder_fingerprint("mel_profile"), "test")
    return v


def _stats(lake: Lake) -> object:
    tbl = index_table.open_table(index_table.connect(lake))
    assert tbl is not None
    (idx,) = [i for i in tbl.list_indices() if "vector" in i.columns]
    return tbl.index_stats(idx.name)


def test_the_keys_are_indexed(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake").ensure()
    _add_batch(lake, "b1", 50, 1)
    index_writer.sync(lake)
    tbl = index_table.open_table(index_table.connect(lake))
    assert tbl is not None
    assert {c for i in tbl.list_indices() for c in i.columns} >= {"voice_id", "batch"}


def test_exact_below_the_threshold_then_ivf_rq_kept_current(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake").ensure()
    a = _add_batch(lake, "b1", 600, 1)
    first = index_writer.sync(lake, ann_threshold=1000)
    assert first.extra["ann"] == "none (exact search)" and index_table.ann_partitions(lake) == 0
    _add_batch(lake, "b2", 600, 2)
    built = index_writer.sync(lake, ann_threshold=1000)
    assert built.extra["ann"] == "IVF_RQ built, 35 partitions"  # round(sqrt(1200))
    assert index_table.ann_partitions(lake) == 35
    _add_batch(lake, "b3", 300, 3)
    waiting = index_writer.sync(lake, ann_threshold=1000, optimize_after=400)
    assert waiting.extra["ann"] == "IVF_RQ current, 300 new rows searched exactly"
    new = np.asarray(index_search.vector_of(lake, "b3-0007"))
    assert index_search.search(lake, new, k=1)[0].voice_id == "b3-0007"  # found unindexed
    _add_batch(lake, "b4", 200, 4)
    updated = index_writer.sync(lake, ann_threshold=1000, optimize_after=400)
    assert updated.extra["ann"] == "IVF_RQ updated (optimize)"  # no retraining
    stats = _stats(lake)
    assert stats.num_indexed_rows == 1700 and stats.num_unindexed_rows == 0  # type: ignore[attr-defined]
    assert index_table.ann_partitions(lake) == 35
    # every voice finds itself first through the ANN index (probes + re-ranking)
    for i in range(0, 600, 37):
        hit = index_search.search(lake, a[i], k=1)[0]
        assert hit.voice_id == f"b1-{i:04d}" and abs(hit.score - 1.0) < 1e-5
    assert index_writer.sync(lake, ann_threshold=1000).extra["ann"] == "IVF_RQ current"


def test_the_index_is_retrained_once_outgrown(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake").ensure()
    _add_batch(lake, "b1", 300, 1)
    assert index_writer.sync(lake, ann_threshold=300).extra["ann"] == "IVF_RQ built, 17 partitions"
    _add_batch(lake, "b2", 1200, 2)  # sqrt(1500) = 39 > 2 x 17
    assert index_writer.sync(lake, ann_threshold=300).extra["ann"] == "IVF_RQ built, 39 partitions"
    assert _stats(lake).num_unindexed_rows == 0  # type: ignore[attr-defined]


def test_the_total_check_follows_replaced_and_dropped_files(tmp_path: Path) -> None:
    """The embeddings count reads a footer only for a file it has not seen at its current
    signature, and still sees every change: a file replaced with fewer rows, a batch gone."""
    lake = Lake(tmp_path / "lake").ensure()
    _add_batch(lake, "b1", 20, 1)
    _add_batch(lake, "b2", 30, 2)
    index_writer.check_total(lake, index_writer.sync(lake).rows)
    assert index_writer.embedding_rows(lake) == 50
    _add_batch(lake, "b2", 10, 3)  # b2 replaced, the index not yet synced
    with pytest.raises(ValueError, match="holds 50 rows where the embeddings tables hold 30"):
        index_writer.check_total(lake, 50)
    lake.drop_batch("embeddings", "b1")
    assert index_writer.embedding_rows(lake) == 10
    index_writer.check_total(lake, index_writer.sync(lake).rows)
