"""Reproducibility: recompute batches from raw audio and compare every stage hash.

- `verify_batch`: N reruns of a batch in scratch lakes (the raw files linked, not copied)
  with the given configuration; each stage hash is compared with the one in lineage. For
  a mismatch the row names the first voice (by voice_id) whose content hash differs and the
  largest absolute difference in that voice's array.
- `verify_regroup`: the same voices grouped into different batches must give the same
  per-voice hashes and the same dataset statistics.
- the worker-count check is `verify_batch` with another `workers`, labelled as such.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pyarrow as pa

from voxlake import stages
from voxlake.audio.decode import read_mono
from voxlake.audio.denoise import DenoiseConfig
from voxlake.embed import embedders as em
from voxlake.features.dataset import read_partial
from voxlake.features.mel import MelConfig
from voxlake.features.stats import MelStats
from voxlake.ingest.raw import ASSET as RAW
from voxlake.lake.hashing import hash_arrays, hash_file, stage_hash
from voxlake.lake.lineage import StageResult, now_iso
from voxlake.lake.store import Lake

STAGE_ORDER = (RAW, stages.DENOISE, stages.MEL, stages.EMBED)
RECOMPUTED = STAGE_ORDER[1:]


@dataclass(frozen=True)
class VerifyConfig:
    denoise: DenoiseConfig = DenoiseConfig()
    mel: MelConfig = MelConfig()
    workers: int = 1
    embedder: str = em.DEFAULT  # replaced by the embedder whose fingerprint lineage holds


def _stored_embedder(stored: dict[str, tuple[str, str]], cfg: VerifyConfig) -> VerifyConfig:
    """Recompute embeddings with the embedder that made them (an unknown one stays as is
    and shows as "(configuration differs)")."""
    fp = stored.get(stages.EMBED, ("", ""))[1]
    try:
        return replace(cfg, embedder=em.by_fingerprint(fp).name)
    except LookupError:
        return cfg


def _stored(lake: Lake, batch: str) -> dict[str, tuple[str, str]]:
    t = lake.read_table("lineage", batch).to_pylist()
    return {r["asset"]: (r["stage_hash"], r["fingerprint"]) for r in t}


def voice_hashes(lake: Lake, batch: str | None, stage: str) -> dict[str, str]:
    t = lake.read_table("voice_hashes", batch).to_pylist()
    return {r["voice_id"]: r["content_hash"] for r in t if r["stage"] == stage}


def _array(lake: Lake, stage: str, voice_id: str) -> np.ndarray | None:
    try:
        if stage == stages.DENOISE:
            return read_mono(lake.denoised_audio(voice_id))[0]
        if stage == stages.MEL:
            return np.load(lake.mel_features(voice_id))
        if stage == stages.EMBED:
            rows = lake.read_table("embeddings").to_pylist()
            vec = next(r["vector"] for r in rows if r["voice_id"] == voice_id)
            return np.asarray(vec, dtype=np.float32)
    except (OSError, StopIteration, ValueError):
        return None
    return None


def first_difference(
    a: dict[str, str], b: dict[str, str], lake_a: Lake, lake_b: Lake, stage: str
) -> tuple[str, float]:
    """The first voice (by id) whose hash differs, and the largest |difference| in its array."""
    for voice_id in sorted(set(a) | set(b)):
        if a.get(voice_id) != b.get(voice_id):
            x, y = _array(lake_a, stage, voice_id), _array(lake_b, stage, voice_id)
            if x is None or y is None or x.shape != y.shape:
                return voice_id, float("nan")
            return voice_id, float(np.max(np.abs(x.astype(np.float64) - y.astype(np.float64))))
    return "", 0.0


def _raw_row(lake: Lake, batch: str, stored_hash: str) -> dict[str, Any]:
    voices = sorted(lake.read_table("voices", batch).to_pylist(), key=lambda r: r["voice_id"])
    expected = [(v["voice_id"], v["voice_id"]) for v in voices]
    actual = []
    first = ""
    for v in voices:
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


def _link_raw(lake: Lake, scratch: Lake, voices: pa.Table, batch: str) -> None:
    scratch.write_table("voices", voices, batch)
    for rel in voices["raw_path"].to_pylist():
        dst = scratch.root / rel
        if dst.exists():
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(lake.root / rel, dst)
        except OSError:
            os.symlink(lake.root / rel, dst)


def recompute(scratch: Lake, batch: str, cfg: VerifyConfig) -> dict[str, StageResult]:
    return {
        stages.DENOISE: stages.denoise_batch(scratch, batch, cfg.denoise, cfg.workers),
        stages.MEL: stages.mel_batch(scratch, batch, cfg.mel, cfg.workers),
        stages.EMBED: stages.embed_batch(scratch, batch, cfg.workers, embedder=cfg.embedder),
    }


def verify_batch(
    lake: Lake,
    batch: str,
    runs: int = 1,
    cfg: VerifyConfig = VerifyConfig(),
    on_run: Callable[[int], None] | None = None,
    check: str = "rerun",
) -> list[dict[str, Any]]:
    """Recompute a batch `runs` times; one report row per (stage, run), stored in the lake."""
    stored = _stored(lake, batch)
    missing = [s for s in STAGE_ORDER if s not in stored]
    if missing:
        raise LookupError(
            f"batch {batch} has no stored hash for {', '.join(missing)}: run it first"
        )
    cfg = _stored_embedder(stored, cfg)
    rows: list[dict[str, Any]] = []
    when = now_iso()
    base = {"batch": batch, "check": check, "checked_at": when}
    for run in range(1, runs + 1):
        rows.append({**base, "run": run, **_raw_row(lake, batch, stored[RAW][0])})
        with lake.scratch(f"verify-{batch}") as scratch:
            _link_raw(lake, scratch, lake.read_table("voices", batch), batch)
            results = recompute(scratch, batch, cfg)
            for stage in RECOMPUTED:
                res = results[stage]
                want, want_fp = stored[stage]
                ok = res.stage_hash == want
                first, diff = "", 0.0
                if not ok:
                    first, diff = first_difference(
                        voice_hashes(lake, batch, stage),
                        voice_hashes(scratch, batch, stage),
                        lake,
                        scratch,
                        stage,
                    )
                if res.fingerprint != want_fp:
                    first, diff = "(configuration differs)", float("nan")
                rows.append(
                    {
                        **base,
                        "stage": stage,
                        "run": run,
                        "stored_hash": want,
                        "recomputed_hash": res.stage_hash,
                        "match": ok,
                        "first_voice": first or None,
                        "max_abs_diff": diff,
                    }
                )
        if on_run:
            on_run(run)
    lake.write_table("reproducibility", rows, batch, part=check.replace("=", "-"))
    return rows


def verify_workers(
    lake: Lake, batch: str, cfg: VerifyConfig = VerifyConfig()
) -> list[dict[str, Any]]:
    """One rerun with the other worker count (2 if the pipeline ran with 1, else 1)."""
    other = 2 if cfg.workers <= 1 else 1
    return verify_batch(lake, batch, 1, replace(cfg, workers=other), check=f"workers={other}")


def _merged(partials: list[Any], fingerprint: str) -> str:
    st = MelStats(partials[0].n_bins, fingerprint)
    for p in partials:
        st.add(p)
    final = st.finalize()
    return hash_arrays(final.mean, final.var)


def verify_regroup(
    lake: Lake, batches: list[str], cfg: VerifyConfig = VerifyConfig(), groups: int = 2
) -> list[dict[str, Any]]:
    """Regroup the batches' voices (round robin by voice_id) and recompute every stage."""
    cfg = _stored_embedder(_stored(lake, batches[0]), cfg)
    voices = pa.concat_tables([lake.read_table("voices", b) for b in batches])
    voices = voices.sort_by("voice_id")
    n_groups = max(1, min(groups, voices.num_rows))
    names = [f"regroup-{g}" for g in range(n_groups)]
    when = now_iso()
    rows: list[dict[str, Any]] = []
    with lake.scratch("regroup") as scratch:
        for g, name in enumerate(names):
            idx = list(range(g, voices.num_rows, n_groups))
            part = voices.take(idx)
            part = part.set_column(
                part.schema.get_field_index("batch"),
                "batch",
                pa.array([name] * len(idx), pa.string()),
            )
            _link_raw(lake, scratch, part, name)
            recompute(scratch, name, cfg)
        for stage in RECOMPUTED:
            want = {k: v for b in batches for k, v in voice_hashes(lake, b, stage).items()}
            got = {k: v for n in names for k, v in voice_hashes(scratch, n, stage).items()}
            first, diff = first_difference(want, got, lake, scratch, stage)
            rows.append(
                {
                    "batch": ",".join(batches),
                    "check": "regroup",
                    "stage": stage,
                    "run": 1,
                    "stored_hash": stage_hash(want.items()),
                    "recomputed_hash": stage_hash(got.items()),
                    "match": want == got,
                    "first_voice": first or None,
                    "max_abs_diff": diff,
                    "checked_at": when,
                }
            )
        fp = stages.mel_fingerprint(cfg.mel)
        original = _merged(
            [read_partial(lake.table_file("batch_mel_stats", b))[0] for b in batches], fp
        )
        regrouped = _merged(
            [read_partial(scratch.table_file("batch_mel_stats", n))[0] for n in names], fp
        )
        rows.append(
            {
                "batch": ",".join(batches),
                "check": "regroup",
                "stage": "mel_stats",
                "run": 1,
                "stored_hash": original,
                "recomputed_hash": regrouped,
                "match": original == regrouped,
                "first_voice": None,
                "max_abs_diff": 0.0 if original == regrouped else float("nan"),
                "checked_at": when,
            }
        )
    lake.write_table("reproducibility", rows, None, part="regroup")
    return rows
