"""Recompute a batch from its raw audio in a scratch lake and compare every stage hash.

- `rerun`: N reruns with the pipeline's configuration; each stage hash is compared with
  the one in lineage. For a mismatch the check names the first voice (by voice_id) whose
  content hash differs and the largest absolute difference in that voice's array.
- `workers`: one rerun with the other worker count (2 if the pipeline ran with 1, else 1).
- `regroup`: the batch's voices split into other batches must give the same per-voice
  hashes and the same merged statistics.
The raw files are linked into the scratch lake, not copied.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from functools import partial

import numpy as np
import pyarrow as pa

from voxlake import pipeline
from voxlake.audio.decode import read_mono
from voxlake.features.dataset import batch_partial, partial_sums
from voxlake.features.stats import MelStats, MelSums
from voxlake.ingest.raw import ASSET as RAW
from voxlake.lake.hashing import hash_arrays, hash_file, stage_hash
from voxlake.lake.lineage import now_iso
from voxlake.lake.store import Lake
from voxlake.pipeline import PipelineConfig
from voxlake.progress import stage_progress
from voxlake.repro.checks import REGROUP, RERUN, Check, part_of, workers_check, write_checks

RECOMPUTED = pipeline.STAGE_ORDER[1:]
CheckOf = Callable[..., Check]  # a Check with batch, check, run and time filled in


def _stored(lake: Lake, batch: str) -> dict[str, tuple[str, str]]:
    t = lake.read_table("lineage", batch).to_pylist()
    return {r["asset"]: (r["stage_hash"], r["fingerprint"]) for r in t}


def recompute_config(lake: Lake, batch: str, cfg: PipelineConfig) -> PipelineConfig:
    """The configuration to recompute with: embeddings with the embedder that made them
    (an unknown one stays as is and shows as "(configuration differs)"), and no DNSMOS,
    a metric outside every content hash."""
    cfg = replace(cfg, dnsmos="off")
    fp = _stored(lake, batch).get(pipeline.EMBED.name, ("", ""))[1]
    try:
        return replace(cfg, embedder=pipeline.embedder_by_fingerprint(fp).name)
    except LookupError:
        return cfg


def voice_hashes(lake: Lake, batch: str | None, stage: str) -> dict[str, str]:
    t = lake.read_table("voice_hashes", batch).to_pylist()
    return {r["voice_id"]: r["content_hash"] for r in t if r["stage"] == stage}


def _array(lake: Lake, stage: str, voice_id: str) -> np.ndarray | None:
    try:
        if stage == pipeline.DENOISE.name:
            return read_mono(lake.denoised_audio(voice_id))[0]
        if stage == pipeline.MEL.name:
            return np.load(lake.mel_features(voice_id))
        if stage == pipeline.EMBED.name:
            rows = lake.read_table("embeddings").to_pylist()
            vec = next(r["vector"] for r in rows if r["voice_id"] == voice_id)
            return np.asarray(vec, dtype=np.float32)
    except (OSError, RuntimeError, StopIteration, ValueError):  # missing or unreadable
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


def _raw_check(lake: Lake, batch: str, stored_hash: str, base: CheckOf) -> Check:
    """The raw files the lake serves, hashed again: their names are their hashes (a file
    voice's is its voice_id; a segment's, cut into a file of its own, that file's)."""
    voices = sorted(lake.read_table("voices", batch).to_pylist(), key=lambda r: r["voice_id"])
    actual = []
    first = None
    for v in voices:
        path = lake.root / v["raw_path"]
        found = hash_file(path) if path.exists() else "missing"
        actual.append((v["voice_id"], found))
        if found != path.stem and first is None:
            first = v["voice_id"]
    ok = first is None
    return base(
        stage=RAW,
        stored_hash=stored_hash,
        recomputed_hash=stored_hash if ok else stage_hash(actual),
        match=ok,
        first_voice=first,
        max_abs_diff=0.0 if ok else float("nan"),
    )


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


def recompute(scratch: Lake, batch: str, cfg: PipelineConfig) -> dict[str, tuple[str, str]]:
    """Every per-voice stage of the batch again: stage name -> (stage hash, fingerprint)."""
    out = {}
    for name in RECOMPUTED:
        with stage_progress(f"verify {name} {batch}") as progress:
            result = pipeline.run(scratch, batch, pipeline.STAGES[name], cfg, progress)
        out[name] = (result.stage_hash, result.fingerprint)
    return out


def verify_batch(
    lake: Lake,
    batch: str,
    runs: int = 1,
    cfg: PipelineConfig = PipelineConfig(),
    on_run: Callable[[int], None] | None = None,
    check: str = RERUN,
) -> list[Check]:
    """Recompute a batch `runs` times; one check per (stage, run), stored in the lake."""
    stored = _stored(lake, batch)
    missing = [s for s in pipeline.STAGE_ORDER if s not in stored]
    if missing:
        raise LookupError(
            f"batch {batch} has no stored hash for {', '.join(missing)}: run it first"
        )
    cfg = recompute_config(lake, batch, cfg)
    checks: list[Check] = []
    for run in range(1, runs + 1):
        base = partial(Check, batch=batch, check=check, run=run, checked_at=now_iso())
        checks.append(_raw_check(lake, batch, stored[RAW][0], base))
        with lake.scratch(f"verify-{batch}") as scratch:
            _link_raw(lake, scratch, lake.read_table("voices", batch), batch)
            for stage, (got, got_fp) in recompute(scratch, batch, cfg).items():
                want, want_fp = stored[stage]
                first, diff = "", 0.0
                if got != want:
                    first, diff = first_difference(
                        voice_hashes(lake, batch, stage),
                        voice_hashes(scratch, batch, stage),
                        lake,
                        scratch,
                        stage,
                    )
                if got_fp != want_fp:
                    first, diff = "(configuration differs)", float("nan")
                checks.append(
                    base(
                        stage=stage,
                        stored_hash=want,
                        recomputed_hash=got,
                        match=got == want,
                        first_voice=first or None,
                        max_abs_diff=diff,
                    )
                )
        if on_run:
            on_run(run)
    write_checks(lake, checks, batch, part_of(check))
    return checks


def verify_workers(lake: Lake, batch: str, cfg: PipelineConfig = PipelineConfig()) -> list[Check]:
    """One rerun with the other worker count (2 if the pipeline ran with 1, else 1)."""
    other = 2 if cfg.workers <= 1 else 1
    return verify_batch(lake, batch, 1, replace(cfg, workers=other), check=workers_check(other))


def merged_hash(partials: list[MelSums], fingerprint: str) -> str:
    st = MelStats(partials[0].n_bins, fingerprint)
    for p in partials:
        st.add(p)
    final = st.finalize()
    return hash_arrays(final.mean, final.var)


def verify_regroup(
    lake: Lake, batch: str, cfg: PipelineConfig = PipelineConfig(), groups: int = 2
) -> list[Check]:
    """Regroup the batch's voices (round robin by voice_id) and recompute every stage."""
    cfg = recompute_config(lake, batch, cfg)
    voices = lake.read_table("voices", batch).sort_by("voice_id")
    n_groups = max(1, min(groups, voices.num_rows))
    names = [f"regroup-{g}" for g in range(n_groups)]
    base = partial(Check, batch=batch, check=REGROUP, run=1, checked_at=now_iso())
    checks: list[Check] = []
    with lake.scratch("regroup") as scratch:
        for g, name in enumerate(names):
            part = voices.take(list(range(g, voices.num_rows, n_groups)))
            column = pa.array([name] * part.num_rows, pa.string())
            part = part.set_column(part.schema.get_field_index("batch"), "batch", column)
            _link_raw(lake, scratch, part, name)
            recompute(scratch, name, cfg)
        for stage in RECOMPUTED:
            want = voice_hashes(lake, batch, stage)
            got = {k: v for n in names for k, v in voice_hashes(scratch, n, stage).items()}
            first, diff = first_difference(want, got, lake, scratch, stage)
            checks.append(
                base(
                    stage=stage,
                    stored_hash=stage_hash(want.items()),
                    recomputed_hash=stage_hash(got.items()),
                    match=want == got,
                    first_voice=first or None,
                    max_abs_diff=diff,
                )
            )
        fp = pipeline.mel_fingerprint(cfg.mel)
        original = merged_hash([partial_sums(batch_partial(lake, batch))], fp)
        regrouped = merged_hash([partial_sums(batch_partial(scratch, n)) for n in names], fp)
        ok = original == regrouped
        checks.append(
            base(
                stage="mel_stats",
                stored_hash=original,
                recomputed_hash=regrouped,
                match=ok,
                first_voice=None,
                max_abs_diff=0.0 if ok else float("nan"),
            )
        )
    write_checks(lake, checks, batch, part_of(REGROUP))
    return checks
