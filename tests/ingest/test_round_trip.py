"""Exports of raw audio round-trip: a lake ingested from a corpus manifest, processed,
exported as NeMo, Lhotse or Hugging Face (files and shards), and ingested again gives the
same voice ids, speakers, text and labels back. Runs the real pipeline: slow."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from voxlake.cli import main
from voxlake.export.shards import ShardRequest, export_shards
from voxlake.export.writers import export
from voxlake.ingest import inbox, raw
from voxlake.ingest.from_source import ingest_source
from voxlake.lake.store import Lake
from voxlake.testing import corpora, process_all

pytestmark = pytest.mark.slow


def _voices(lake: Lake) -> dict[str, tuple[Any, ...]]:
    texts = {t["voice_id"]: t["text"] for t in lake.read_table("transcripts").to_pylist()}
    return {
        v["voice_id"]: (v["speaker"], texts.get(v["voice_id"]), json.loads(v["labels"] or "{}"))
        for v in lake.read_table("voices").to_pylist()
    }


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    root = tmp_path_factory.mktemp("roundtrip")
    corpus = corpora.librispeech(root / "corpus")
    lake = Lake(root / "lake").ensure()
    assert (
        main(["ingest", "--lake", str(lake.root), "--from", "librispeech", str(corpus.path)]) == 0
    )
    process_all(lake)
    return lake


@pytest.mark.parametrize(
    ("fmt", "source", "read"),
    [
        ("nemo", "nemo", "manifest.jsonl"),
        ("lhotse", "lhotse", "."),
        ("hf", "hf", "."),
        ("hf-parquet", "hf", "."),
        ("lhotse-shar", "lhotse", "train"),
    ],
)
def test_an_export_of_raw_audio_ingests_back_to_the_same_voices(
    lake: Lake, tmp_path: Path, fmt: str, source: str, read: str
) -> None:
    out = tmp_path / "export"
    if fmt in ("hf-parquet", "lhotse-shar"):
        export_shards(lake, ShardRequest(fmt, out, kind="raw"))
    else:
        export(lake, fmt, out, audio="raw")
    again = Lake(tmp_path / "again").ensure()
    ingest_source(again, source, out / read)
    for batch in inbox.scan_inbox(again).new_batches:
        raw.ingest_batch(again, batch.batch)
    original = _voices(lake)
    assert len(original) == 4
    assert _voices(again) == original


def test_a_segmented_corpus_runs_every_stage_and_verifies_bit_identical(tmp_path: Path) -> None:
    from voxlake.lake import catalog
    from voxlake.repro.doctor import doctor
    from voxlake.repro.recompute import verify_batch

    corpus = corpora.kaldi(tmp_path / "corpus")
    lake = Lake(tmp_path / "lake").ensure()
    ingest_source(lake, "kaldi", corpus.path)
    batches = process_all(lake)
    assert [f for f in doctor(lake) if f.what != "coverage"] == []  # dataset steps not run
    for batch in batches:
        assert all(c.match for c in verify_batch(lake, batch))
    _, found = catalog.query(lake, "select text, mel_frames from voice_overview where text > ''")
    rows = dict(found)
    assert set(rows) == {"HELLO THERE", "GENERAL KENOBI", "THE WHOLE OF IT"}
    assert all(frames and frames > 0 for frames in rows.values())
