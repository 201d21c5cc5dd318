"""Log-mel features: a typed config and a numpy extractor.

The filterbank is the Slaney-style one (librosa's default: Slaney mel scale, area
normalisation); frames are centred with zero padding and a periodic Hann window.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np


@dataclass(frozen=True)
class MelConfig:
    sample_rate: int = 16_000
    n_fft: int = 400  # 25 ms
    win_length: int = 400
    hop_length: int = 160  # 10 ms
    n_mels: int = 128
    fmin: float = 0.0
    fmax: float = 8_000.0
    power: float = 2.0
    log: str = "ln"  # "ln", "log10", "db" or "none"
    floor: float = 1e-10

    def params(self) -> dict[str, object]:
        return asdict(self)


def _hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    f = np.asarray(f, dtype=np.float64)
    f_sp = 200.0 / 3
    mel = f / f_sp
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    return np.where(
        f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, mel
    )


def _mel_to_hz(m: np.ndarray | float) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    f_sp = 200.0 / 3
    f = f_sp * m
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f)


@lru_cache(maxsize=16)
def mel_filterbank(
    sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float
) -> np.ndarray:
    """[n_mels, n_fft // 2 + 1] Slaney-normalised triangular filters (float64)."""
    fft_freqs = np.linspace(0, sample_rate / 2, 1 + n_fft // 2)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fft_freqs)
    weights = np.zeros((n_mels, len(fft_freqs)))
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels]))[:, None]
    weights.setflags(write=False)
    return weights


@lru_cache(maxsize=4)
def _window(win_length: int, n_fft: int) -> np.ndarray:
    w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win_length) / win_length)  # periodic Hann
    pad = (n_fft - win_length) // 2
    w = np.pad(w, (pad, n_fft - win_length - pad))
    w.setflags(write=False)
    return w


def frames_mel_power(x: np.ndarray, n_frames: int, cfg: MelConfig) -> np.ndarray:
    """Mel power [n_frames, n_mels] of the frames starting every hop in x (padded float64).

    Each frame is computed on its own, so a signal framed in pieces gives the same bytes
    as the whole signal framed at once (what streaming relies on).
    """
    if n_frames <= 0:
        return np.zeros((0, cfg.n_mels))
    frames = np.lib.stride_tricks.as_strided(
        x, shape=(n_frames, cfg.n_fft), strides=(x.strides[0] * cfg.hop_length, x.strides[0])
    )
    spec = np.abs(np.fft.rfft(frames * _window(cfg.win_length, cfg.n_fft), axis=1))
    if cfg.power != 1.0:
        spec = spec**cfg.power
    fb = mel_filterbank(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.fmin, cfg.fmax)
    return spec @ fb.T


def mel_power(x: np.ndarray, cfg: MelConfig) -> np.ndarray:
    """Mel power spectrogram [frames, n_mels] (float64) of a mono signal at cfg.sample_rate."""
    x = np.asarray(x, dtype=np.float64)
    pad = cfg.n_fft // 2
    x = np.pad(x, (pad, pad))
    if len(x) < cfg.n_fft:
        x = np.pad(x, (0, cfg.n_fft - len(x)))
    return frames_mel_power(x, 1 + (len(x) - cfg.n_fft) // cfg.hop_length, cfg)


class MelFramer:
    """mel_power of a signal fed block by block: the same frames, bit for bit, in memory
    bounded by the block instead of the signal.

    BLAS takes another path for small products (OpenBLAS's small-matrix kernels, and gemv
    for one row), whose last bits differ. So frames are computed HOLD rows or more at a
    time: a block's frames wait until HOLD more are ready, and a signal of fewer than
    2 * HOLD frames is computed in one piece at the end, exactly as mel_power does.
    """

    HOLD = 256

    def __init__(self, cfg: MelConfig):
        self.cfg = cfg
        self.pad = cfg.n_fft // 2
        self.buf = np.zeros(self.pad)  # the centre padding on the left
        self.seen = 0  # padded samples taken so far

    def _take(self, keep: int) -> np.ndarray:
        """The ready frames but the last `keep` (fewer than 2 * keep ready: none)."""
        cfg = self.cfg
        n = 1 + (len(self.buf) - cfg.n_fft) // cfg.hop_length if len(self.buf) >= cfg.n_fft else 0
        n = n - keep if n >= 2 * keep else (n if keep == 0 else 0)
        out = frames_mel_power(self.buf, n, cfg)
        self.buf = self.buf[n * cfg.hop_length :]
        return out

    def feed(self, block: np.ndarray) -> np.ndarray:
        """The mel power rows of the frames that `block` completes."""
        x = np.asarray(block, dtype=np.float64)
        self.seen += len(x)
        self.buf = np.concatenate([self.buf, x])
        return self._take(self.HOLD)

    def finish(self) -> np.ndarray:
        """The last rows: the centre padding on the right (and to one frame, if short)."""
        self.buf = np.concatenate([self.buf, np.zeros(self.pad)])
        if self.seen + 2 * self.pad < self.cfg.n_fft:  # shorter than one frame, as mel_power
            self.buf = np.pad(self.buf, (0, self.cfg.n_fft - self.seen - 2 * self.pad))
        return self._take(0)


def to_log(m: np.ndarray, cfg: MelConfig) -> np.ndarray:
    """Log-mel (per cfg.log) of mel power rows, as float32."""
    m = np.maximum(m, cfg.floor)
    if cfg.log == "ln":
        m = np.log(m)
    elif cfg.log == "log10":
        m = np.log10(m)
    elif cfg.log == "db":
        m = 10.0 * np.log10(m)
    elif cfg.log != "none":
        raise ValueError(f"unknown log flavour {cfg.log!r}")
    return m.astype(np.float32)


def log_mel(x: np.ndarray, cfg: MelConfig = MelConfig()) -> np.ndarray:
    """Log-mel features [frames, n_mels] as float32."""
    return to_log(mel_power(x, cfg), cfg)
