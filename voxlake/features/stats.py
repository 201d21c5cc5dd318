"""Mergeable feature statistics: exact fixed-point sums (default) and a float64 Welford reference.

Both accumulate "samples" of a fixed feature shape: per-bin mode adds every frame of a voice
(shape (n_mels,)); fixed-window mode adds each voice's first n_frames frames as one sample
(shape (n_frames, n_mels)). Operations: add a voice, merge, remove a voice, finalize.

Exact: every value v is quantised once to q = round(v * 2**32) (Q31.32; |v| < 2**9). The
accumulator keeps sum(q) and sum(q**2) as multi-limb int64 numpy arrays, so adding a voice
is a handful of vectorised operations whatever the number of voices already added, and
addition is associative: the result is bit-identical for any order, worker count or merge
tree, and removing a voice gives exactly the statistics that never saw it. A limb pair
(hi, lo) holds hi * 2**62 + lo with 0 <= lo < 2**62. q**2 is split as
q = a * 2**20 + b (0 <= b < 2**20), so q**2 = a*a * 2**40 + 2*a*b * 2**20 + b*b; each part
is summed exactly (see add_frames).
Variance is (n * S2 - S1**2) / n**2 from exact integers: no cancellation; finalize rounds
once to float64.

Welford: float64 per-voice mean and M2 combined with Chan's formula; merged in the order
given (callers sort by key). It is the reference the exact mode is compared against.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np

FRAC_BITS = 32
MAX_ABS = 2.0**9  # |value| bound of the exact mode (log-mel values are far inside it)
_ROWS = 512  # samples per float64 chunk (checked: every chunk sum an exact integer < 2**53)
_SCALE = float(1 << FRAC_BITS)
_SPLIT = float(1 << 20)
_INV_SPLIT = 1.0 / _SPLIT
_AA_BOUND = 2.0**52  # chunk sum of a*a: below it every chunk sum is an exact integer
_LIMB = 62
_LOW = (1 << _LIMB) - 1
# quantities kept in limbs: S1, and S2 as AA * 2**40 + AB * 2**21 + BB
_S1, _AA, _AB, _BB = range(4)
_WEIGHT = (0, 40, 21, 0)


@dataclass(frozen=True)
class MelSums:
    """Exact sufficient statistics (flattened feature order): what is stored and merged."""

    n_frames: int  # samples added (frames in per-bin mode, voices in fixed-window mode)
    n_voices: int
    sum: tuple[int, ...]
    sum_square: tuple[int, ...]

    @property
    def n_bins(self) -> int:
        return len(self.sum)

    def finalize(self, shape: tuple[int, ...] | None = None) -> FinalStats:
        """Mean and variance, each rounded once to float64 from the exact integers.

        Python's int / int is correctly rounded, so this is float(Fraction(p, q)) without
        building the fractions (a voice's 80 bins: about 0.1 ms instead of 1.5 ms).
        """
        n = self.n_frames
        if n == 0:
            raise ValueError("no frames: statistics are undefined")
        scale = 1 << FRAC_BITS
        den_mean, den_var = n * scale, n * n * scale * scale
        mean = np.array([v / den_mean for v in self.sum])
        var = np.array(
            [(n * s2 - s1 * s1) / den_var for s1, s2 in zip(self.sum, self.sum_square, strict=True)]
        )
        shape = shape or (self.n_bins,)
        return FinalStats(n, self.n_voices, mean.reshape(shape), var.reshape(shape))


@dataclass(frozen=True)
class FinalStats:
    n_frames: int
    n_voices: int
    mean: np.ndarray
    var: np.ndarray

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(self.var)


def window(frames: np.ndarray, n_frames: int) -> np.ndarray:
    """Fixed-window mode: a voice's first n_frames frames as one sample [1, n_frames, n_mels]."""
    f = np.asarray(frames)
    if len(f) < n_frames:
        raise ValueError(f"voice has {len(f)} frames, the window needs {n_frames}")
    return f[None, :n_frames]


class MelStats:
    """Exact accumulator over samples of `shape` (an int for per-bin mode's bin count)."""

    def __init__(self, shape: int | tuple[int, ...], fingerprint: str = ""):
        self.shape: tuple[int, ...] = (shape,) if isinstance(shape, int) else tuple(shape)
        self.fingerprint = fingerprint
        self.n_frames = 0
        self.n_voices = 0
        self._limbs = np.zeros((4, 2, *self.shape), dtype=np.int64)  # [quantity, hi/lo, ...]
        self._buf: np.ndarray | None = None
        self._sums = np.empty(0)

    @property
    def n_bins(self) -> int:
        return int(np.prod(self.shape))

    @classmethod
    def from_sums(cls, sums: MelSums, fingerprint: str = "") -> MelStats:
        return cls(sums.n_bins, fingerprint).add(sums)

    def _scratch(self, width: int) -> tuple[np.ndarray, np.ndarray]:
        """Work buffers kept between adds: fresh large arrays cost page faults every time."""
        if self._buf is None or self._buf.shape[2] != width:
            self._buf = np.empty((3, _ROWS, width))
            self._sums = np.empty((4, width))
        return self._buf, self._sums

    def _carry(self) -> None:
        lo = self._limbs[:, 1]
        c = lo >> _LIMB
        lo -= c << _LIMB
        self._limbs[:, 0] += c

    def add_frames(self, samples: np.ndarray, voices: int = 1) -> MelStats:
        """Add one voice's samples [n, *shape] (vectorised; the hot path).

        Works in float64 on chunks of _ROWS samples, where every quantity is an integer
        below 2**53 and so exact: x = round(v * 2**32), a = floor(x / 2**20),
        b = x - a * 2**20, and the chunk sums of x, a*a, a*b and b*b. The chunk sums then
        go into the int64 limbs. A non-finite or too large value shows in the chunk sums
        (NaN, or a sum of a*a past its bound) and is refused.
        """
        s = np.asarray(samples, dtype=np.float64)
        if s.shape[1:] != self.shape:
            raise ValueError(f"samples of shape {s.shape[1:]} do not fit stats of {self.shape}")
        flat = s.reshape(len(s), -1)
        limbs = self._limbs.reshape(4, 2, -1)
        buf, sums = self._scratch(flat.shape[1])
        for start in range(0, len(flat), _ROWS):
            chunk = flat[start : start + _ROWS]
            x, a, b = buf[0, : len(chunk)], buf[1, : len(chunk)], buf[2, : len(chunk)]
            np.multiply(chunk, _SCALE, out=x)
            np.rint(x, out=x)
            np.multiply(x, _INV_SPLIT, out=a)
            np.floor(a, out=a)
            np.multiply(a, _SPLIT, out=b)
            np.subtract(x, b, out=b)
            x.sum(axis=0, out=sums[0])
            np.einsum("ij,ij->j", a, a, out=sums[1])
            np.einsum("ij,ij->j", a, b, out=sums[2])
            np.einsum("ij,ij->j", b, b, out=sums[3])
            if not (np.all(np.isfinite(sums)) and np.max(sums[1]) < _AA_BOUND):
                raise ValueError(
                    f"values must be finite and within +-{MAX_ABS} to enter feature statistics"
                )
            limbs[:, 1] += sums.astype(np.int64)
            self._carry()
        self.n_frames += len(s)
        self.n_voices += voices
        return self

    def _add_exact(self, sums: MelSums, sign: int) -> None:
        if sums.n_bins != self.n_bins:
            raise ValueError(f"bin count mismatch: {sums.n_bins} != {self.n_bins}")
        hi = np.empty((2, self.n_bins), dtype=np.int64)
        lo = np.empty((2, self.n_bins), dtype=np.int64)
        for k, values in enumerate((sums.sum, sums.sum_square)):
            for i, v in enumerate(values):
                v *= sign
                hi[k, i], lo[k, i] = v >> _LIMB, v & _LOW
        for k, quantity in enumerate((_S1, _BB)):
            self._limbs[quantity, 0] += hi[k].reshape(self.shape)
            self._limbs[quantity, 1] += lo[k].reshape(self.shape)
        self._carry()
        self.n_frames += sign * sums.n_frames
        self.n_voices += sign * sums.n_voices

    def add(self, sums: MelSums) -> MelStats:
        self._add_exact(sums, 1)
        return self

    def remove(self, sums: MelSums) -> MelStats:
        if sums.n_frames > self.n_frames or sums.n_voices > self.n_voices:
            raise ValueError("cannot remove more than was added")
        self._add_exact(sums, -1)
        return self

    def merge(self, other: MelStats) -> MelStats:
        if other.fingerprint != self.fingerprint:
            raise ValueError(
                f"cannot merge stats of different extractors: {other.fingerprint} != "
                f"{self.fingerprint}"
            )
        if other.shape != self.shape:
            raise ValueError(f"shape mismatch: {other.shape} != {self.shape}")
        self._limbs += other._limbs
        self._carry()
        self.n_frames += other.n_frames
        self.n_voices += other.n_voices
        return self

    def _exact(self, quantity: int) -> list[int]:
        hi = self._limbs[quantity, 0].ravel().tolist()
        lo = self._limbs[quantity, 1].ravel().tolist()
        return [(h << _LIMB) + low for h, low in zip(hi, lo, strict=True)]

    def sums(self) -> MelSums:
        s1 = self._exact(_S1)
        parts = [self._exact(q) for q in (_AA, _AB, _BB)]
        s2 = [
            (aa << _WEIGHT[_AA]) + (ab << _WEIGHT[_AB]) + bb
            for aa, ab, bb in zip(*parts, strict=True)
        ]
        return MelSums(self.n_frames, self.n_voices, tuple(s1), tuple(s2))

    def finalize(self) -> FinalStats:
        return self.sums().finalize(self.shape)


class WelfordStats:
    """float64 Welford/Chan accumulator with the same interface: the reference."""

    def __init__(self, shape: int | tuple[int, ...], fingerprint: str = ""):
        self.shape: tuple[int, ...] = (shape,) if isinstance(shape, int) else tuple(shape)
        self.fingerprint = fingerprint
        self.n_frames = 0
        self.n_voices = 0
        self.mean = np.zeros(self.shape)
        self.m2 = np.zeros(self.shape)

    def _combine(self, n: int, mean: np.ndarray, m2: np.ndarray, voices: int) -> None:
        total = self.n_frames + n
        if total == 0:
            self.mean, self.m2 = np.zeros(self.shape), np.zeros(self.shape)
        else:
            delta = mean - self.mean
            self.mean = self.mean + delta * (n / total)
            self.m2 = self.m2 + m2 + delta * delta * (self.n_frames * n / total)
        self.n_frames = total
        self.n_voices += voices

    @staticmethod
    def _moments(samples: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
        s = np.asarray(samples, dtype=np.float64)
        mean = s.mean(axis=0)
        return len(s), mean, ((s - mean) ** 2).sum(axis=0)

    def add_frames(self, samples: np.ndarray, voices: int = 1) -> WelfordStats:
        n, mean, m2 = self._moments(samples)
        self._combine(n, mean, m2, voices)
        return self

    def remove_frames(self, samples: np.ndarray, voices: int = 1) -> WelfordStats:
        """Reverse Chan update: not exact (float rounding does not undo)."""
        n, mean, m2 = self._moments(samples)
        rest = self.n_frames - n
        if rest < 0:
            raise ValueError("cannot remove more than was added")
        if rest == 0:
            self.__init__(self.shape, self.fingerprint)  # type: ignore[misc]
            return self
        rest_mean = (self.mean * self.n_frames - mean * n) / rest
        delta = mean - rest_mean
        self.m2 = self.m2 - m2 - delta * delta * (rest * n / self.n_frames)
        self.mean, self.n_frames, self.n_voices = rest_mean, rest, self.n_voices - voices
        return self

    def merge(self, other: WelfordStats) -> WelfordStats:
        if other.fingerprint != self.fingerprint:
            raise ValueError("cannot merge stats of different extractors")
        self._combine(other.n_frames, other.mean, other.m2, other.n_voices)
        return self

    def finalize(self) -> FinalStats:
        if self.n_frames == 0:
            raise ValueError("no frames: statistics are undefined")
        return FinalStats(self.n_frames, self.n_voices, self.mean.copy(), self.m2 / self.n_frames)


def voice_sums(frames: np.ndarray) -> MelSums:
    """Exact sums of one voice's frames [n_frames, n_bins]."""
    f = np.asarray(frames)
    if f.ndim != 2:
        raise ValueError(f"frames must be [n_frames, n_bins], got shape {f.shape}")
    return MelStats(f.shape[1]).add_frames(f).sums()


def to_decimals(values: tuple[int, ...]) -> list[Decimal]:
    return [Decimal(v) for v in values]


def from_decimals(values: list[Decimal] | list[int]) -> tuple[int, ...]:
    return tuple(int(v) for v in values)
