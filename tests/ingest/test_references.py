"""Ingest by reference: recorded where they are, copied once into the lake by the raw stage."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf

from voxlake.ingest import raw
from voxlake.ingest.forget import forget
from voxlake.ingest.inbox import scan_inbox, walk_inbox
from voxlake.ingest.references import reference_files
from voxlake.lake.store import Lake


def _wav(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    x = np.random.default_rng(seed).normal(0, 0.1, 16000).astype(np.float32)
    sf.write(path, x, 16000, subtype="PCM_16")


def _corpus(root: Path) -> Path:
    for i in range(3):
        _wav(root / "spk" / f"v{i}.wav", i)
    (root / "labels.csv").write_text("path,speaker,text\nspk/v0.wav,ann,hello there\n")
    return root


def test_referenced_files_are_ingested_without_an_inbox_copy(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake").ensure()
    corpus = _corpus(tmp_path / "corpus")
    assert reference_files(lake, [corpus]).new == 3
    assert reference_files(lake, [corpus]).known == 3  # referencing again adds nothing
    assert list(walk_inbox(lake.inbox)) == []  # nothing was copied into the inbox
    (batch,) = [m.batch for m in scan_inbox(lake).new_batches]
    assert scan_inbox(lake).new_batches == []
    raw.ingest_batch(lake, batch)
    voices = {r["source_path"]: r for r in lake.read_table("voices", batch).to_pylist()}
    v0 = (corpus / "spk" / "v0.wav").as_posix()
    assert sorted(voices) == sorted((corpus / "spk" / f"v{i}.wav").as_posix() for i in range(3))
    assert voices[v0]["speaker"] == "ann"  # the labels.csv beside the referenced folder
    assert '"hello there"' in voices[v0]["labels"]
    assert (lake.root / voices[v0]["raw_path"]).read_bytes() == (corpus / "spk/v0.wav").read_bytes()


def test_a_reference_that_changes_or_vanishes_before_the_run_is_rejected(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake").ensure()
    corpus = _corpus(tmp_path / "corpus")
    reference_files(lake, [corpus])
    (batch,) = [m.batch for m in scan_inbox(lake).new_batches]
    _wav(corpus / "spk" / "v1.wav", 99)
    os.unlink(corpus / "spk" / "v2.wav")
    raw.ingest_batch(lake, batch)
    reasons = {
        Path(r["source_path"]).name: r["reason"]
        for r in lake.read_table("rejected", batch).to_pylist()
    }
    assert reasons == {"v1.wav": "changed", "v2.wav": "missing"}
    assert lake.read_table("voices", batch).num_rows == 1


def test_forgetting_a_referenced_voice_keeps_the_users_file_and_drops_the_reference(
    tmp_path: Path,
) -> None:
    lake = Lake(tmp_path / "lake").ensure()
    corpus = _corpus(tmp_path / "corpus")
    reference_files(lake, [corpus / "spk" / "v0.wav"])
    (batch,) = [m.batch for m in scan_inbox(lake).new_batches]
    raw.ingest_batch(lake, batch)
    (victim,) = lake.read_table("voices")["voice_id"].to_pylist()
    assert victim in forget(lake, [victim], "test").forgotten
    assert (corpus / "spk" / "v0.wav").exists()
    assert scan_inbox(lake).new_batches == []  # the reference does not come back
    assert reference_files(lake, [corpus / "spk" / "v0.wav"]).new == 1  # unless given again


def test_content_another_batch_holds_is_a_duplicate_of_that_batch(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake").ensure()
    _wav(lake.inbox / "first.wav", 1)
    (first,) = [m.batch for m in scan_inbox(lake).new_batches]
    raw.ingest_batch(lake, first)
    (lake.inbox / "again.wav").write_bytes((lake.inbox / "first.wav").read_bytes())
    _wav(lake.inbox / "new.wav", 2)  # with a new file, the scan makes a batch of both
    (second,) = [m.batch for m in scan_inbox(lake).new_batches]
    raw.ingest_batch(lake, second)
    (dup,) = lake.read_table("duplicates", second).to_pylist()
    assert (dup["source_path"], dup["first_batch"]) == ("again.wav", first)
    assert lake.read_table("voices", second)["source_path"].to_pylist() == ["new.wav"]
    assert raw.voices_elsewhere(lake, second, [dup["voice_id"], "f" * 64]) == {
        dup["voice_id"]: first
    }
