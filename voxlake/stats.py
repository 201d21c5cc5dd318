"""Mergeable mel statistics with exact fixed-point integer sums.

Every value v is quantised once to q = round(v * 2**32) (Q31.32). Sums of q and of q**2 are
kept as Python integers, so adding, merging and removing are exact integer operations:
the result is bit-identical for any order, worker count or merge tree, and removing a voice
gives exactly the statistics that never saw it. Variance comes from exact integers
(n * S2 - S1**2) / n**2, so there is no cancellation, and finalize rounds once to float64.

Per voice the sums are computed in int64 numpy limbs: q = a * 2**20 + b with 0 <= b < 2**20,
so q**2 = a*a * 2**40 + 2*a*b * 2**20 + b*b, each limb summed over at most 2**20 frames
without overflow (|v| < 2**7 is enforced).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

import numpy as np

FRAC_BITS = 32
MAX_ABS = 2.0**7  # log-mel values are far inside this; larger values are rejected
_CHUNK = 1 << 20


@dataclass(frozen=True)
class MelSums:
    """Exact sufficient statistics of a set of frames, per bin."""

    n_frames: int
    n_voices: int
    sum: tuple[int, ...]
    sum_square: tuple[int, ...]

    @property
    def n_bins(self) -> int:
        return len(self.sum)


@dataclass(frozen=True)
class FinalStats:
    n_frames: int
    n_voices: int
    mean: np.ndarray
    var: np.ndarray

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(self.var)


def quantize(values: np.ndarray) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(v)):
        raise ValueError("non-finite values cannot enter mel statistics")
    if v.size and np.max(np.abs(v)) >= MAX_ABS:
        raise ValueError(f"values must lie within +-{MAX_ABS}; got {np.max(np.abs(v))}")
    return np.rint(v * 2.0**FRAC_BITS).astype(np.int64)


def voice_sums(frames: np.ndarray) -> MelSums:
    """Exact sums of one voice's frames [n_frames, n_bins]."""
    f = np.asarray(frames)
    if f.ndim != 2:
        raise ValueError(f"frames must be [n_frames, n_bins], got shape {f.shape}")
    n_bins = f.shape[1]
    s1 = [0] * n_bins
    s2 = [0] * n_bins
    for start in range(0, max(len(f), 1), _CHUNK):
        q = quantize(f[start : start + _CHUNK])
        a = q >> 20
        b = q & ((1 << 20) - 1)
        c1 = q.sum(axis=0)
        aa = (a * a).sum(axis=0)
        ab = (a * b).sum(axis=0)
        bb = (b * b).sum(axis=0)
        for i in range(n_bins):
            s1[i] += int(c1[i])
            s2[i] += (int(aa[i]) << 40) + (int(ab[i]) << 21) + int(bb[i])
    return MelSums(len(f), 1, tuple(s1), tuple(s2))


class MelStats:
    """A mergeable accumulator: add, remove, merge, finalize."""

    def __init__(self, n_bins: int, fingerprint: str = ""):
        self.n_bins = n_bins
        self.fingerprint = fingerprint
        self.n_frames = 0
        self.n_voices = 0
        self._s1 = [0] * n_bins
        self._s2 = [0] * n_bins

    @classmethod
    def from_sums(cls, sums: MelSums, fingerprint: str = "") -> MelStats:
        st = cls(sums.n_bins, fingerprint)
        st.add(sums)
        return st

    def _check(self, sums: MelSums) -> None:
        if sums.n_bins != self.n_bins:
            raise ValueError(f"bin count mismatch: {sums.n_bins} != {self.n_bins}")

    def add(self, sums: MelSums) -> MelStats:
        self._check(sums)
        self.n_frames += sums.n_frames
        self.n_voices += sums.n_voices
        for i in range(self.n_bins):
            self._s1[i] += sums.sum[i]
            self._s2[i] += sums.sum_square[i]
        return self

    def remove(self, sums: MelSums) -> MelStats:
        self._check(sums)
        if sums.n_frames > self.n_frames or sums.n_voices > self.n_voices:
            raise ValueError("cannot remove more than was added")
        self.n_frames -= sums.n_frames
        self.n_voices -= sums.n_voices
        for i in range(self.n_bins):
            self._s1[i] -= sums.sum[i]
            self._s2[i] -= sums.sum_square[i]
        return self

    def merge(self, other: MelStats) -> MelStats:
        if other.fingerprint != self.fingerprint:
            raise ValueError(
                f"cannot merge stats of different extractors: {other.fingerprint} != "
                f"{self.fingerprint}"
            )
        return self.add(other.sums())

    def sums(self) -> MelSums:
        return MelSums(self.n_frames, self.n_voices, tuple(self._s1), tuple(self._s2))

    def finalize(self) -> FinalStats:
        n = self.n_frames
        if n == 0:
            raise ValueError("no frames: statistics are undefined")
        scale = 1 << FRAC_BITS
        mean = np.array([float(Fraction(s, n * scale)) for s in self._s1])
        var = np.array(
            [
                float(Fraction(n * s2 - s1 * s1, n * n * scale * scale))
                for s1, s2 in zip(self._s1, self._s2, strict=True)
            ]
        )
        return FinalStats(n, self.n_voices, mean, var)


def to_decimals(values: tuple[int, ...]) -> list[Decimal]:
    return [Decimal(v) for v in values]


def from_decimals(values: list[Decimal] | list[int]) -> tuple[int, ...]:
    return tuple(int(v) for v in values)
