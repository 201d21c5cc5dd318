"""The per-voice stages of a batch: denoise, mel features + partial stats, embeddings.

Each stage reads the voices that passed the stage before it, does its per-voice work (in
order, over `workers` processes), writes its table for the batch wholesale, records
per-voice content hashes and lineage, and quarantines any voice whose work failed in
`rejected` with the stage's name; the rest of the batch goes on.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from voxlake.audio import denoise as dn
from voxlake.audio import dnsmos
from voxlake.audio.decode import read_mono, resample
from voxlake.audio.stream import ForkingDenoiser
from voxlake.embed import embedders as em
from voxlake.features import dataset as dataset_stats
from voxlake.features.mel import MelConfig, log_mel
from voxlake.features.stats import MelStats, MelSums, to_decimals, voice_sums
from voxlake.lake.hashing import fingerprint as make_fingerprint
from voxlake.lake.hashing import hash_array
from voxlake.lake.lineage import StageResult, record_stage
from voxlake.lake.store import Lake
from voxlake.parallel import map_voices

Progress = Callable[[int, int], None] | None

DENOISE = "denoised_voices"
MEL = "voice_mel_stats"
EMBED = "voice_embeddings"
MEL_CODE_VERSION = "voice-mel-1"


@dataclass(frozen=True)
class VoiceJob:
    voice_id: str
    source: str  # absolute path of the stage's input audio
    target: str  # absolute path of the stage's output file ("" when none)
    config: Any


def _failure(job: VoiceJob, e: Exception) -> dict[str, Any]:
    return {"voice_id": job.voice_id, "error": f"{type(e).__name__}: {e}"[:300]}


def _quarantine(lake: Lake, batch: str, stage: str, failures: list[dict[str, Any]]) -> None:
    rows = [
        {
            "batch": batch,
            "source_path": "",
            "file_name": "",
            "voice_id": f["voice_id"],
            "stage": stage,
            "reason": "stage_error",
            "detail": f["error"],
        }
        for f in failures
    ]
    lake.write_table("rejected", rows, batch, part=stage)


def _run(
    lake: Lake,
    batch: str,
    stage: str,
    fn: Callable[[VoiceJob], dict[str, Any]],
    jobs: list[VoiceJob],
    workers: int,
    progress: Progress,
) -> list[dict[str, Any]]:
    results = map_voices(fn, sorted(jobs, key=lambda j: j.voice_id), workers, progress)
    failures = [r for r in results if "error" in r]
    _quarantine(lake, batch, stage, failures)
    return [r for r in results if "error" not in r]


# denoise ------------------------------------------------------------------------------


DNSMOS_SECONDS = 60.0  # DNSMOS scores the first minute of each voice


@dataclass(frozen=True)
class DenoiseSettings:
    config: dn.DenoiseConfig
    dnsmos: bool = False


@lru_cache(maxsize=2)
def _denoiser(config: dn.DenoiseConfig) -> ForkingDenoiser:
    return ForkingDenoiser(config)


def _dnsmos_of(path: str) -> dnsmos.Dnsmos:
    import soundfile as sf

    with sf.SoundFile(path) as f:
        x = f.read(int(DNSMOS_SECONDS * f.samplerate), dtype="float32", always_2d=True)
        sr = f.samplerate
    return dnsmos.score(resample(x.astype(np.float64).mean(axis=1), sr, dnsmos.SAMPLE_RATE))


def denoise_voice(job: VoiceJob) -> dict[str, Any]:
    """Stream the raw file through DeepFilterNet3 into a 48 kHz FLAC; metrics of in and out."""
    settings: DenoiseSettings = job.config
    try:
        row = {"voice_id": job.voice_id, **_denoiser(settings.config)(job.source, job.target)}
        if settings.dnsmos:
            before, after = _dnsmos_of(job.source), _dnsmos_of(job.target)
            row.update(
                dnsmos_sig_in=before.sig,
                dnsmos_bak_in=before.bak,
                dnsmos_ovrl_in=before.ovrl,
                dnsmos_sig_out=after.sig,
                dnsmos_bak_out=after.bak,
                dnsmos_ovrl_out=after.ovrl,
            )
        return row
    except Exception as e:
        return _failure(job, e)


def denoise_batch(
    lake: Lake,
    batch: str,
    config: dn.DenoiseConfig = dn.DenoiseConfig(),
    workers: int = 1,
    progress: Progress = None,
    dnsmos: bool = False,
) -> StageResult:
    voices = lake.read_table("voices", batch).to_pylist()
    jobs = [
        VoiceJob(
            v["voice_id"],
            str(lake.root / v["raw_path"]),
            str(lake.denoised_audio(v["voice_id"])),
            DenoiseSettings(config, dnsmos),
        )
        for v in voices
    ]
    fp = dn.fingerprint(config)
    rows = _run(lake, batch, DENOISE, denoise_voice, jobs, workers, progress)
    for r in rows:
        r.update(
            batch=batch,
            fingerprint=fp,
            denoised_path=lake.relative(lake.denoised_audio(r["voice_id"])),
        )
    lake.write_table("denoise_metrics", rows, batch)
    pairs = [(r["voice_id"], r["content_hash"]) for r in rows]
    return record_stage(
        lake,
        batch,
        DENOISE,
        pairs,
        fp,
        dn.CODE_VERSION,
        rejected=len(jobs) - len(rows),
        models={"deepfilternet3": dn.model_info()["model_sha256"]},
    )


# mel features and partial statistics ---------------------------------------------------


def mel_fingerprint(cfg: MelConfig) -> str:
    return make_fingerprint(cfg.params(), "", MEL_CODE_VERSION)


def _save_npy(path: str, arr: np.ndarray) -> None:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=".tmp-", suffix=".npy")
    with os.fdopen(fd, "wb") as f:
        np.save(f, arr)
    os.replace(tmp, p)


def mel_voice(job: VoiceJob) -> dict[str, Any]:
    try:
        cfg: MelConfig = job.config
        y, sr = read_mono(job.source)
        m = log_mel(resample(y, sr, cfg.sample_rate), cfg)
        _save_npy(job.target, m)
        sums = voice_sums(m)
        final = MelStats.from_sums(sums).finalize()
        return {
            "voice_id": job.voice_id,
            "n_frames": sums.n_frames,
            "mean": final.mean.astype(np.float32).tolist(),
            "std": final.std.astype(np.float32).tolist(),
            "sums": sums,
            "content_hash": hash_array(m),
        }
    except Exception as e:
        return _failure(job, e)


def mel_batch(
    lake: Lake,
    batch: str,
    cfg: MelConfig = MelConfig(),
    workers: int = 1,
    progress: Progress = None,
) -> StageResult:
    denoised = lake.read_table("denoise_metrics", batch).to_pylist()
    jobs = [
        VoiceJob(
            d["voice_id"],
            str(lake.root / d["denoised_path"]),
            str(lake.mel_features(d["voice_id"])),
            cfg,
        )
        for d in denoised
    ]
    fp = mel_fingerprint(cfg)
    rows = _run(lake, batch, MEL, mel_voice, jobs, workers, progress)
    partial = MelStats(cfg.n_mels, fp)
    for r in rows:
        sums: MelSums = r.pop("sums")
        partial.add(sums)
        r.update(
            batch=batch,
            fingerprint=fp,
            sum=to_decimals(sums.sum),
            sum_square=to_decimals(sums.sum_square),
        )
    lake.write_table("voice_mel_stats", rows, batch)
    pairs = [(r["voice_id"], r["content_hash"]) for r in rows]
    result = record_stage(
        lake, batch, MEL, pairs, fp, MEL_CODE_VERSION, rejected=len(jobs) - len(rows)
    )
    total = partial.sums()
    lake.write_table(
        "batch_mel_stats",
        [
            {
                "batch": batch,
                "n_voices": total.n_voices,
                "n_frames": total.n_frames,
                "sum": to_decimals(total.sum),
                "sum_square": to_decimals(total.sum_square),
                "partial_hash": result.stage_hash,
                "fingerprint": fp,
            }
        ],
        batch,
    )
    dataset_stats.mark_changed(lake, batch, result.stage_hash)
    return result


# embeddings ------------------------------------------------------------------------------


def embed_voice(job: VoiceJob) -> dict[str, Any]:
    """job.config is the embedder's name."""
    try:
        y, sr = read_mono(job.source)
        v = em.get(job.config).embed(resample(y, sr, em.SAMPLE_RATE))
        return {"voice_id": job.voice_id, "vector": v.tolist(), "content_hash": hash_array(v)}
    except Exception as e:
        return _failure(job, e)


def embed_batch(
    lake: Lake,
    batch: str,
    workers: int = 1,
    progress: Progress = None,
    embedder: str = em.DEFAULT,
) -> StageResult:
    model = em.get(embedder)
    denoised = lake.read_table("denoise_metrics", batch).to_pylist()
    jobs = [
        VoiceJob(d["voice_id"], str(lake.root / d["denoised_path"]), "", model.name)
        for d in denoised
    ]
    fp = model.fingerprint()
    rows = _run(lake, batch, EMBED, embed_voice, jobs, workers, progress)
    for r in rows:
        r.update(batch=batch, embedder=model.name, fingerprint=fp)
    lake.write_table("embeddings", rows, batch)
    pairs = [(r["voice_id"], r["content_hash"]) for r in rows]
    return record_stage(
        lake,
        batch,
        EMBED,
        pairs,
        fp,
        em.CODE_VERSION,
        rejected=len(jobs) - len(rows),
        models=model.models(),
    )
