"""The two embedders behind one interface, and speaker retrieval on a demo corpus."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from voxlake import pipeline
from voxlake.audio.decode import read_mono, resample
from voxlake.demo.synth import BASE_RATE, Speaker, synthesize
from voxlake.embed import embedders as embed
from voxlake.embed import index_search, index_table, index_writer, mel_profile
from voxlake.ingest.inbox import scan_inbox
from voxlake.ingest.raw import ingest_batch
from voxlake.lake.store import Lake
from voxlake.pipeline import PipelineConfig
from voxlake.testing import make_lake


def _voice(seed: int, seconds: float = 2.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = resample(synthesize(Speaker.random(f"s{seed}", rng), seconds, rng), BASE_RATE, 16_000)
    return x + rng.normal(0, 1e-3, len(x)).astype(np.float32)  # a recording's noise floor


def test_mel_profile_is_a_gain_invariant_unit_vector() -> None:
    x = _voice(1)
    v = mel_profile.embed(x)
    assert v.shape == (embed.DIM,) and v.dtype == np.float32
    assert abs(float(np.linalg.norm(v)) - 1.0) < 1e-6
    assert mel_profile.embed(x).tobytes() == v.tobytes()  # deterministic
    assert float(v @ mel_profile.embed(0.25 * x)) > 0.999  # -12 dB changes nothing
    assert float(v @ mel_profile.embed(_voice(2))) < float(v @ mel_profile.embed(0.25 * x))
    with pytest.raises(ValueError, match="too few active frames"):
        mel_profile.embed(x[:400])
    with pytest.raises(ValueError, match="flat"):
        mel_profile.embed(np.zeros(16_000, np.float32))


def test_embedders_are_chosen_by_name_and_found_by_fingerprint() -> None:
    assert set(embed.EMBEDDERS) == {"ge2e", "mel_profile"}
    for name, e in embed.EMBEDDERS.items():
        assert pipeline.embedder_by_fingerprint(pipeline.embedder_fingerprint(name)) is e
    assert pipeline.embedder_fingerprint("ge2e") != pipeline.embedder_fingerprint("mel_profile")
    with pytest.raises(ValueError, match="unknown embedder"):
        embed.get("wav2vec")
    with pytest.raises(LookupError, match="does not have"):
        pipeline.embedder_by_fingerprint("0" * 16)


def test_the_index_refuses_to_mix_embedders(processed_lake: Lake, tmp_path: Path) -> None:
    lake = Lake(tmp_path / "copy")
    shutil.copytree(processed_lake.root, lake.root)
    index_writer.sync(lake)
    (batch,) = lake.table_batches("embeddings")
    result = pipeline.run(lake, batch, pipeline.EMBED, PipelineConfig(embedder="mel_profile"))
    assert result.fingerprint == pipeline.embedder_fingerprint("mel_profile")
    assert set(lake.read_table("embeddings", batch)["embedder"].to_pylist()) == {"mel_profile"}
    index_writer.sync(lake)  # every batch re-embedded: the index follows, one embedder throughout
    assert index_table.index_fingerprint(lake) == pipeline.embedder_fingerprint("mel_profile")
    assert index_table.count(lake) == 6
    # a second batch embedded by the other embedder is refused, and the index is untouched
    other = make_lake(tmp_path / "other", voices=2, speakers=1, seed=7, bad_files=False)
    for path in sorted(other.inbox.rglob("*.wav")):
        dst = lake.inbox / ("late-" + path.name)
        shutil.copy2(path, dst)
    (late,) = [m.batch for m in scan_inbox(lake).new_batches]
    ingest_batch(lake, late)
    pipeline.run(lake, late, pipeline.DENOISE)
    pipeline.run(lake, late, pipeline.EMBED, PipelineConfig(embedder="ge2e"))
    with pytest.raises(ValueError, match="another embedder"):
        index_writer.sync(lake)
    assert index_table.count(lake) == 6


def _top1(vectors: np.ndarray, speakers: list[str]) -> float:
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -np.inf)
    return float(np.mean([speakers[i] == speakers[int(j)] for i, j in enumerate(sims.argmax(1))]))


@pytest.mark.slow
def test_same_speaker_ranks_first_on_the_demo_corpus(tmp_path: Path) -> None:
    """24 voices of 6 synthetic speakers (4 each, each in another noise): top-1 speaker
    retrieval through the pipeline's index, and on the clean references. Chance is 3/23."""
    lake = make_lake(tmp_path / "lake", voices=24, speakers=6, bad_files=False)
    (batch,) = [m.batch for m in scan_inbox(lake).new_batches]
    ingest_batch(lake, batch)
    pipeline.run(lake, batch, pipeline.DENOISE)
    clean = sorted((lake.root / "demo" / "clean").glob("*.wav"))
    speakers = [p.name.split("_")[0] for p in clean]
    voices = sorted(lake.read_table("voices", batch).to_pylist(), key=lambda v: v["file_name"])
    raw = [lake.root / v["raw_path"] for v in voices]
    assert [v["file_name"].split(".")[0] for v in voices] == [p.stem for p in clean]
    indexed, references, noisy = {}, {}, {}
    for name in ("ge2e", "mel_profile"):
        pipeline.run(lake, batch, pipeline.EMBED, PipelineConfig(embedder=name))
        index_writer.sync(lake)
        indexed[name], n = index_search.speaker_top1(lake)
        assert n == 24
        model = embed.get(name)
        vectors = np.stack([model.embed(resample(*read_mono(p), 16_000)) for p in clean])
        references[name] = _top1(vectors, speakers)
        vectors = np.stack([model.embed(resample(*read_mono(p), 16_000)) for p in raw])
        noisy[name] = _top1(vectors, speakers)
    print(f"top-1 speaker retrieval, denoised voices in the index: {indexed}")
    print(f"top-1 speaker retrieval, clean references: {references}")
    print(f"top-1 speaker retrieval, noisy inputs (not denoised): {noisy}")
    assert indexed["ge2e"] >= 0.4 and indexed["mel_profile"] >= 0.2, indexed
    assert min(references.values()) >= 0.6, references
    assert all(indexed[k] > noisy[k] for k in indexed), (indexed, noisy)  # denoising helps
