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
        out, sr_out = read_mono(lake.root / denoised[v["voice_id"]]["denoised_path"])
        ref = resample(clean, sr, SAMPLE_RATE)
        scores.append(
            PairScore(
                v["source_path"],
                meta["noise"],
                meta["snr_db"],
                si_sdr(ref, resample(noisy, sr_n, SAMPLE_RATE)),
                si_sdr(ref, resample(out, sr_out, SAMPLE_RATE)),
            )
        )
    return scores


def mean_gain(scores: list[PairScore]) -> float:
    return float(np.mean([s.gain for s in scores])) if scores else float("nan")


BANDS = (("0-10 dB", 0.0, 10.0), ("10-20 dB", 10.0, 20.01))


@dataclass(frozen=True)
class BandGain:
    noise: str  # a noise type, or "all"
    band: str  # an input-SNR band, or "all"
    n: int
    mean_gain: float


def gain_table(scores: list[PairScore]) -> list[BandGain]:
    """Mean SI-SDR gain per noise type and input-SNR band (cells with voices only)."""
    out = []
    for noise in [*sorted({s.noise for s in scores}), "all"]:
        for band, lo, hi in [*BANDS, ("all", -np.inf, np.inf)]:
            cell = [
                s.gain
                for s in scores
                if (noise == "all" or s.noise == noise) and lo <= s.snr_db < hi
            ]
            if cell:
                out.append(BandGain(noise, band, len(cell), float(np.mean(cell))))
    return out


def gain_report(scores: list[PairScore]) -> list[str]:
    """The gain table as text, and a plain line naming where the denoiser loses."""
    table = gain_table(scores)
    bands = [b for b, _, _ in BANDS] + ["all"]
    cells = {(g.noise, g.band): g for g in table}
    lines = ["  mean gain   " + "".join(f"{b + ' input':>18}" for b in bands)]
    for noise in dict.fromkeys(g.noise for g in table):
        row = "".join(
            f"{f'{g.mean_gain:+.1f} dB (n={g.n})':>18}"
            if (g := cells.get((noise, b)))
            else " " * 18
            for b in bands
        )
        lines.append(f"  {noise:<12}{row}")
    losses = [g for g in table if g.mean_gain < 0 and "all" not in (g.noise, g.band)]
    if losses:
        where = ", ".join(f"{g.noise} at {g.band} ({g.mean_gain:+.1f} dB)" for g in losses)
        lines.append(f"  the denoiser makes these worse: {where}")
        if any(g.noise == "babble" for g in losses):
            lines.append("  (babble is other people talking: DeepFilterNet3 keeps it as speech)")
    return lines
