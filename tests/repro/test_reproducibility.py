"""Reproducibility: reruns, worker counts, regrouping, merge orders, manifests, and a
deliberately non-deterministic build that verify must catch and name."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from voxlake import pipeline
from voxlake.features import dataset as dataset_stats
from voxlake.features.mel import MelConfig
from voxlake.ingest.inbox import list_batches
from voxlake.lake.store import Lake
from voxlake.pipeline import PipelineConfig
from voxlake.repro import manifest
from voxlake.repro.checks import read_checks
from voxlake.repro.merge_orders import verify_merge_orders
from voxlake.repro.recompute import recompute_config, verify_batch, verify_regroup, verify_workers


@pytest.fixture
def lake(processed_lake: Lake, tmp_path: Path) -> Lake:
    copy = Lake(tmp_path / "copy")
    shutil.copytree(processed_lake.root, copy.root)
    dataset_stats.update(copy, pipeline.mel_fingerprint(), 128)
    return copy


def test_an_unseeded_dither_is_caught_and_the_stage_named(
    lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    from voxlake.features import mel_file

    real = mel_file.to_log

    def dithered(power: np.ndarray, cfg: MelConfig) -> np.ndarray:
        noise = np.random.default_rng().normal(0, 1e-4, power.shape)  # no seed: every run differs
        return real(power + np.abs(noise), cfg)

    monkeypatch.setattr(mel_file, "to_log", dithered)
    (batch,) = list_batches(lake)
    rows = verify_batch(lake, batch, runs=1)
    verdict = {r.stage: r.match for r in rows}
    assert verdict == {
        "raw_voices": True,
        "denoised_voices": True,
        "voice_mel_stats": False,
        "voice_embeddings": True,
    }
    bad = next(r for r in rows if not r.match)
    ids = sorted(lake.read_table("voices", batch)["voice_id"].to_pylist())
    assert bad.first_voice == ids[0]  # the first voice by id: every voice differs
    assert np.isfinite(bad.max_abs_diff) and bad.max_abs_diff > 0
    stored = read_checks(lake, batch)
    assert any(not r.match and r.stage == "voice_mel_stats" for r in stored)


def test_regrouped_voices_give_the_same_hashes_and_stats(lake: Lake) -> None:
    (batch,) = list_batches(lake)
    rows = verify_regroup(lake, batch)
    assert {r.stage for r in rows} == {
        "denoised_voices",
        "voice_mel_stats",
        "voice_embeddings",
        "mel_stats",
    }
    assert all(r.match for r in rows)


def test_dataset_stats_do_not_depend_on_merge_order(lake: Lake) -> None:
    rows = verify_merge_orders(lake, permutations=4)
    assert len(rows) == 4 and all(r.match for r in rows)


@pytest.mark.slow
def test_two_workers_give_the_bytes_of_one(lake: Lake) -> None:
    (batch,) = list_batches(lake)
    rows = verify_workers(lake, batch)
    assert {r.check for r in rows} == {"workers=2"}
    assert all(r.match for r in rows)


def test_manifest_comparison_explains_mismatches_by_environment(lake: Lake, tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    manifest.write(lake, path)
    same, _ = manifest.compare(lake, json.loads(path.read_text()))
    assert same and all(r["match"] for r in same)
    other = json.loads(path.read_text())
    other["environment"]["packages"]["torch"] = "0.0-elsewhere"
    (batch,) = other["batches"]
    emb = other["batches"][batch]["voice_embeddings"]
    victim = sorted(emb["voices"])[0]
    emb["voices"][victim] = "0" * 64
    emb["stage_hash"] = "1" * 64
    rows, diffs = manifest.compare(lake, other)
    assert diffs == {"packages.torch": (diffs["packages.torch"][0], "0.0-elsewhere")}
    bad = [r for r in rows if not r["match"]]
    assert [(r["stage"], r["first_voice"]) for r in bad] == [("voice_embeddings", victim)]
    assert "packages.torch" in bad[0]["explained_by"]
    with pytest.raises(ValueError, match="not a voxlake hash manifest"):
        manifest.compare(lake, {"format": "x"})


def test_recomputing_skips_dnsmos_and_keeps_the_lakes_embedder(lake: Lake) -> None:
    (batch,) = list_batches(lake)
    cfg = recompute_config(lake, batch, PipelineConfig(dnsmos="exact", embedder="mel_profile"))
    assert cfg.dnsmos == "off" and cfg.embedder == "ge2e"


def test_a_deleted_raw_file_is_named_not_a_traceback(lake: Lake) -> None:
    (batch,) = list_batches(lake)
    victim = sorted(lake.read_table("voices", batch).to_pylist(), key=lambda v: v["voice_id"])[0]
    (lake.root / victim["raw_path"]).unlink()
    checks = {c.stage: c for c in verify_batch(lake, batch, runs=1)}
    assert not checks["raw_voices"].match
    assert checks["raw_voices"].first_voice == victim["voice_id"]
    assert checks["denoised_voices"].first_voice == victim["voice_id"]
