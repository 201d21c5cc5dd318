"""A source-filter speech synthesizer: speech-like voices from seeded speaker parameters.

A glottal pulse train (with jitter, shimmer and a falling-then-accented f0 contour) and
noise bursts for consonants pass through a cascade of formant resonators whose targets
move from syllable to syllable. Speakers differ in f0, vocal-tract length (formant
scale), spectral tilt, breathiness and rate, which is enough for a speaker encoder to
tell them apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

BASE_RATE = 24_000
# (F1, F2, F3) in Hz of a few vowels for an average adult vocal tract.
VOWELS = np.array(
    [
        [730, 1090, 2440],
        [270, 2290, 3010],
        [300, 870, 2240],
        [530, 1840, 2480],
        [570, 840, 2410],
        [660, 1720, 2410],
        [440, 1020, 2240],
        [490, 1350, 1690],
    ],
    dtype=np.float64,
)
BANDWIDTHS = np.array([80.0, 100.0, 140.0])


@dataclass(frozen=True)
class Speaker:
    name: str
    f0: float  # mean fundamental frequency, Hz
    formant_scale: float  # >1: shorter vocal tract
    tilt: float  # glottal spectral tilt (one-pole coefficient)
    breath: float  # aspiration noise level relative to the pulses
    rate: float  # syllables per second
    jitter: float

    @staticmethod
    def random(name: str, rng: np.random.Generator) -> Speaker:
        female = rng.random() < 0.5
        return Speaker(
            name=name,
            f0=float(rng.uniform(185, 250) if female else rng.uniform(85, 140)),
            formant_scale=float(rng.uniform(1.08, 1.22) if female else rng.uniform(0.86, 1.0)),
            tilt=float(rng.uniform(0.92, 0.97)),
            breath=float(rng.uniform(0.0, 0.02)),
            rate=float(rng.uniform(3.0, 5.5)),
            jitter=float(rng.uniform(0.002, 0.006)),
        )


def _resonator(freq: float, bw: float, sr: int) -> tuple[np.ndarray, np.ndarray]:
    r = np.exp(-np.pi * bw / sr)
    theta = 2 * np.pi * freq / sr
    a = np.array([1.0, -2 * r * np.cos(theta), r * r])
    return np.array([a.sum()]), a  # unity gain at DC


def synthesize(speaker: Speaker, duration_s: float, rng: np.random.Generator) -> np.ndarray:
    """A mono float32 utterance at BASE_RATE, peak-normalised to 0.5."""
    sr = BASE_RATE
    n = int(duration_s * sr)
    t = np.arange(n) / sr
    # f0 contour: declination, a few accents, slow wander.
    f0 = speaker.f0 * (1.1 - 0.2 * t / max(duration_s, 1e-3))
    for _ in range(max(1, int(duration_s / 1.5))):
        c, w = rng.uniform(0, duration_s), rng.uniform(0.15, 0.4)
        f0 *= 1 + rng.uniform(0.05, 0.2) * np.exp(-0.5 * ((t - c) / w) ** 2)
    # glottal pulses with jitter and shimmer
    src = np.zeros(n)
    pos = 0.0
    while pos < n:
        i = int(pos)
        src[i] = 1.0 + rng.normal(0, 0.05)
        pos += sr / f0[min(i, n - 1)] * (1 + rng.normal(0, speaker.jitter))
    src = lfilter([1.0], [1.0, -speaker.tilt], src)
    src = lfilter([1.0], [1.0, -speaker.tilt], src)
    src += speaker.breath * rng.standard_normal(n) * np.std(src)
    # syllables: consonant burst + vowel with formant targets; pauses between phrases
    out = np.zeros(n)
    syl = int(sr / speaker.rate)
    zi = [np.zeros(2) for _ in range(3)]
    start = int(0.1 * sr)
    while start < n - syl // 2:
        vowel = VOWELS[rng.integers(len(VOWELS))] * speaker.formant_scale
        seg = slice(start, min(start + syl, n))
        length = seg.stop - seg.start
        env = np.sin(np.pi * np.linspace(0, 1, length)) ** 0.6
        cons = int(length * rng.uniform(0.15, 0.3))
        excitation = src[seg] * env
        # consonant onset: a nasal-like murmur (low-passed, quieter voicing)
        excitation[:cons] = lfilter([0.15], [1.0, -0.9], src[seg][:cons]) * rng.uniform(0.2, 0.6)
        y = excitation
        for k in range(3):
            b, a = _resonator(vowel[k] * rng.uniform(0.95, 1.05), BANDWIDTHS[k], sr)
            y, zi[k] = lfilter(b, a, y, zi=zi[k])
        out[seg] = y
        start += length
        if rng.random() < 0.15:
            start += int(rng.uniform(0.1, 0.35) * sr)
    out = lfilter([1.0, -0.95], [1.0], out)  # radiation
    peak = np.max(np.abs(out)) or 1.0
    return (0.5 * out / peak).astype(np.float32)
