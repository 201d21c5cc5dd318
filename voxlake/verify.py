"""Reproducibility: recompute a batch from its raw audio and compare every stage hash.

Each run rebuilds the batch's stages in a scratch lake (the raw files linked, not
copied) with the given configuration and compares the stage hashes with those stored in
lineage. For a mismatch it names the first voice (by voice_id) whose content hash
differs and the largest absolute difference in that voice's array.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from voxlake import stages
from voxlake.audio import read_mono
from voxlake.denoise import DenoiseConfig
from voxlake.hashing import hash_file, stage_hash
from voxlake.ingest import ASSET as RAW
from voxlake.lake import Lake
from voxlake.lineage import StageResult, now_iso
from voxlake.mel import MelConfig

STAGE_ORDER = (RAW, stages.DENOISE, stages.MEL, stages.EMBED)


@dataclass(frozen=True)
class VerifyConfig:
    denoise: DenoiseConfig = DenoiseConfig()
    mel: MelConfig = MelConfig()
    workers: int = 1


def _stored(lake: Lake, batch: str) -> dict[str, tuple[str, str]]:
    t = lake.read_table("lineage", batch).to_pylist()
    return {r["asset"]: (r["stage_hash"], r["fingerprint"]) for r in t}


def _voice_hashes(lake: Lake, batch: str, stage: str) -> dict[str, str]:
    t = lake.read_table("voice_hashes", batch).to_pylist()
    return {r["voice_id"]: r["content_hash"] for r in t if r["stage"] == stage}


def _array(lake: Lake, batch: str, stage: str, voice_id: str) -> np.ndarray | None:
    try:
        if stage == stages.DENOISE:
            return read_mono(lake.denoised_audio(voice_id))[0]
        if stage == stages.MEL:
            return np.load(lake.mel_features(voice_id))
        if stage == stages.EMBED:
            rows = lake.read_table("embeddings", batch).to_pylist()
            vec = next(r["vector"] for r in rows if r["voice_id"] == voice_id)
            return np.asarray(vec, dtype=np.float32)
    except (OSError, StopIteration, ValueError):
        return None
    return None


def _first_difference(lake: Lake, scratch: Lake, batch: str, stage: str) -> tuple[str, float]:
    a, b = _voice_hashes(lake, batch, stage), _voice_hashes(scratch, batch, stage)
    for voice_id in sorted(set(a) | set(b)):
        if a.get(voice_id) != b.get(voice_id):
            x, y = _array(lake, batch, stage, voice_id), _array(scratch, batch, stage, voice_id)
            if x is None or y is None or x.shape != y.shape:
                return voice_id, float("nan")
            return voice_id, float(np.max(np.abs(x.astype(np.float64) - y.astype(np.float64))))
    return "", 0.0


def _raw_row(lake: Lake, batch: str, stored_hash: str) -> dict[str, Any]:
    voices = lake.read_table("voices", batch).to_pylist()
    expected = [(v["voice_id"], v["voice_id"]) for v in voices]
    actual = []
    first = ""
    for v in sorted(voices, key=lambda r: r["voice_id"]):
        path = lake.root / v["raw_path"]
        h = hash_file(path) if path.exists() else "missing"
        actual.append((v["voice_id"], h))
        if h != v["voice_id"] and not first:
            first = v["voice_id"]
    ok = stage_hash(actual) == stage_hash(expected)
    return {
        "stage": RAW,
        "stored_hash": stored_hash,
        "recomputed_hash": stored_hash if ok else stage_hash(actual),
        "match": ok,
        "first_voice": first or None,
        "max_abs_diff": 0.0 if ok else float("nan"),
    }


def _link_raw(lake: Lake, scratch: Lake, batch: str) -> None:
    voices = lake.read_table("voices", batch)
    scratch.write_table("voices", voices, batch)
    for rel in voices["raw_path"].to_pylist():
        dst = scratch.root / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(lake.root / rel, dst)
        except OSError:
            os.symlink(lake.root / rel, dst)


def recompute(scratch: Lake, batch: str, cfg: VerifyConfig) -> dict[str, StageResult]:
    return {
        stages.DENOISE: stages.denoise_batch(scratch, batch, cfg.denoise, cfg.workers),
        stages.MEL: stages.mel_batch(scratch, batch, cfg.mel, cfg.workers),
        stages.EMBED: stages.embed_batch(scratch, batch, cfg.workers),
    }


def verify_batch(
    lake: Lake,
    batch: str,
    runs: int = 1,
    cfg: VerifyConfig = VerifyConfig(),
    on_run: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    """Recompute a batch `runs` times; one report row per (stage, run). Stored in the lake."""
    stored = _stored(lake, batch)
    missing = [s for s in STAGE_ORDER if s not in stored]
    if missing:
        raise LookupError(
            f"batch {batch} has no stored hash for {', '.join(missing)}: run it first"
        )
    rows: list[dict[str, Any]] = []
    when = now_iso()
    for run in range(1, runs + 1):
        rows.append(
            {
                "batch": batch,
                "run": run,
                "checked_at": when,
                **_raw_row(lake, batch, stored[RAW][0]),
            }
        )
        with lake.scratch(f"verify-{batch}") as scratch:
            _link_raw(lake, scratch, batch)
            results = recompute(scratch, batch, cfg)
            for stage in STAGE_ORDER[1:]:
                res = results[stage]
                want, want_fp = stored[stage]
                ok = res.stage_hash == want
                first, diff = ("", 0.0) if ok else _first_difference(lake, scratch, batch, stage)
                if res.fingerprint != want_fp:
                    first, diff = "(configuration differs)", float("nan")
                rows.append(
                    {
                        "batch": batch,
                        "stage": stage,
                        "run": run,
                        "stored_hash": want,
                        "recomputed_hash": res.stage_hash,
                        "match": ok,
                        "first_voice": first or None,
                        "max_abs_diff": diff,
                        "checked_at": when,
                    }
                )
        if on_run:
            on_run(run)
    lake.write_table("reproducibility", rows, batch)
    return rows
