"""Measuring the demo: SI-SDR of noisy and denoised voices against their clean references."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voxlake.audio.decode import read_mono, resample
from voxlake.audio.denoise import SAMPLE_RATE
from voxlake.demo.corpus import si_sdr
from voxlake.lake.store import Lake


@dataclass(frozen=True)
class PairScore:
    file_name: str
    noise: str
    snr_db: float
    si_sdr_in: float
    si_sdr_out: float

    @property
    def gain(self) -> float:
        return self.si_sdr_out - self.si_sdr_in


def clean_dir(lake: Lake) -> Path:
    return lake.root / "demo" / "clean"


def score_pairs(lake: Lake) -> list[PairScore]:
    """SI-SDR before and after denoising for every demo voice that reached the lake."""
    manifest = clean_dir(lake) / "corpus.json"
    if not manifest.exists():
        return []
    corpus = {v["file_name"]: v for v in json.loads(manifest.read_text())["voices"]}
    voices = lake.read_table("voices").to_pylist()
    denoised = {d["voice_id"]: d for d in lake.read_table("denoise_metrics").to_pylist()}
    scores = []
    for v in sorted(voices, key=lambda r: r["source_path"]):
        meta = corpus.get(v["source_path"])
        if meta is None or v["voice_id"] not in denoised:
            continue
        clean, sr = read_mono(meta["clean_path"])
        noisy, sr_n = read_mono(lake.root / v["raw_path"])
        out, _ = read_mono(lake.root / denoised[v["voice_id"]]["denoised_path"])
        ref = resample(clean, sr, SAMPLE_RATE)
        scores.append(
            PairScore(
                v["source_path"],
                meta["noise"],
                meta["snr_db"],
                si_sdr(ref, resample(noisy, sr_n, SAMPLE_RATE)),
                si_sdr(ref, out),
            )
        )
    return scores


def mean_gain(scores: list[PairScore]) -> float:
    return float(np.mean([s.gain for s in scores])) if scores else float("nan")


def gain_by_band(scores: list[PairScore]) -> dict[str, float]:
    """Median SI-SDR gain per input-SNR band and per noise type (bands with voices only)."""
    out: dict[str, float] = {}
    for label, lo, hi in (("0-10 dB", 0.0, 10.0), ("10-20 dB", 10.0, 20.01)):
        band = [s.gain for s in scores if lo <= s.snr_db < hi]
        if band:
            out[label] = float(np.median(band))
    for noise in sorted({s.noise for s in scores}):
        out[noise] = float(np.median([s.gain for s in scores if s.noise == noise]))
    return out
