"""Decode, validate, downmix and resample audio (soundfile + soxr)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

EPS = 1e-12
# the shortest voice the models can analyse: one DeepFilterNet3 FFT window (960 samples at
# 48 kHz). A shorter one is too_short whatever `min_duration_s` allows: its output would
# be the models' padding, not the voice.
MODEL_WINDOW_S = 0.02


@dataclass(frozen=True)
class AudioLimits:
    """What a raw voice must satisfy to enter the lake."""

    min_duration_s: float = 0.5
    max_duration_s: float = 1200.0
    silence_dbfs: float = -70.0  # a file whose RMS is below this is rejected as silent
    max_rms_dbfs: float = 0.0  # above full scale (a float file out of range): too loud


class RejectedAudio(Exception):
    """A file that cannot enter the lake; `reason` is a short machine-readable code."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class AudioInfo:
    format: str
    subtype: str
    sample_rate: int
    channels: int
    frames: int

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def dbfs(x: np.ndarray) -> tuple[float, float]:
    """(RMS dBFS, peak dBFS) of a signal; -inf-safe (floored at -240 dB)."""
    x64 = np.asarray(x, dtype=np.float64)
    if x64.size == 0:
        return -240.0, -240.0
    rms = float(np.sqrt(np.mean(x64 * x64)))
    peak = float(np.max(np.abs(x64)))
    return _db(rms, peak)


def _db(rms: float, peak: float) -> tuple[float, float]:
    return 20 * np.log10(max(rms, EPS)), 20 * np.log10(max(peak, EPS))


DECODE_ERRORS = (sf.LibsndfileError, RuntimeError, ValueError)


@contextmanager
def _opened(path: str | Path) -> Iterator[tuple[sf.SoundFile, AudioInfo]]:
    """The open file and what its header says; RejectedAudio if it cannot be opened."""
    p = Path(path)
    if not p.exists():
        raise RejectedAudio("missing", f"{p.name} vanished before it was read")
    if p.stat().st_size == 0:
        raise RejectedAudio("empty", "0 bytes")
    try:
        f = sf.SoundFile(str(p))
    except DECODE_ERRORS as e:
        raise RejectedAudio("undecodable", str(e).strip()[:200]) from None
    with f:
        yield f, AudioInfo(f.format, f.subtype, int(f.samplerate), int(f.channels), f.frames)


def _with_frames(info: AudioInfo, frames: int) -> AudioInfo:
    """A header that promises more than the file holds is corrected by what was read."""
    if frames == info.frames:
        return info
    return AudioInfo(info.format, info.subtype, info.sample_rate, info.channels, frames)


def read_audio(path: str | Path) -> tuple[np.ndarray, AudioInfo]:
    """Decode a file to float32 [frames, channels]; raise RejectedAudio if it cannot be."""
    with _opened(path) as (f, info):
        try:
            data = f.read(dtype="float32", always_2d=True)
        except DECODE_ERRORS as e:
            raise RejectedAudio("undecodable", str(e).strip()[:200]) from None
    return data, _with_frames(info, data.shape[0])


def validate(data: np.ndarray, info: AudioInfo, limits: AudioLimits) -> None:
    """Raise RejectedAudio with the first reason the decoded audio fails the limits."""
    _check_levels(info, bool(np.all(np.isfinite(data))), *dbfs(data), limits)


LONG_FRAMES = 1 << 22  # longer files are measured block by block (about 87 s at 48 kHz)


def measure_audio(path: str | Path, limits: AudioLimits) -> tuple[AudioInfo, float, float]:
    """Decode, validate and measure a file: (info, RMS dBFS, peak dBFS), or RejectedAudio.

    Up to LONG_FRAMES the file is decoded whole; a longer one block by block, so memory
    stays bounded whatever its length (its RMS is then summed block by block)."""
    with _opened(path) as (_, info):
        pass
    if info.frames <= LONG_FRAMES:
        data, info = read_audio(path)
        validate(data, info, limits)
        return (info, *dbfs(data))
    n, sum_squares, peak, finite = 0, 0.0, 0.0, True
    with _opened(path) as (f, info):
        try:
            for block in f.blocks(blocksize=1 << 16, dtype="float32", always_2d=True):
                b = block.astype(np.float64).ravel()
                finite = finite and bool(np.all(np.isfinite(b)))
                n += len(b)
                sum_squares += float(np.dot(b, b))
                peak = max(peak, float(np.max(np.abs(b))) if len(b) else 0.0)
        except DECODE_ERRORS as e:
            raise RejectedAudio("undecodable", str(e).strip()[:200]) from None
    info = _with_frames(info, n // max(info.channels, 1))
    rms_db, peak_db = _db(float(np.sqrt(sum_squares / n)) if n else 0.0, peak)
    _check_levels(info, finite, rms_db, peak_db, limits)
    return info, rms_db, peak_db


def _check_levels(
    info: AudioInfo, finite: bool, rms_db: float, peak_db: float, limits: AudioLimits
) -> None:
    if info.frames == 0:
        raise RejectedAudio("empty", "no audio frames")
    if not finite:
        raise RejectedAudio("non_finite", "NaN or Inf samples")
    if info.duration_s < MODEL_WINDOW_S:
        raise RejectedAudio(
            "too_short",
            f"{info.duration_s:.4f} s < {MODEL_WINDOW_S} s, the denoiser's analysis window",
        )
    if info.duration_s < limits.min_duration_s:
        raise RejectedAudio("too_short", f"{info.duration_s:.3f} s < {limits.min_duration_s} s")
    if info.duration_s > limits.max_duration_s:
        raise RejectedAudio("too_long", f"{info.duration_s:.1f} s > {limits.max_duration_s} s")
    if rms_db < limits.silence_dbfs:
        raise RejectedAudio("silent", f"RMS {rms_db:.1f} dBFS < {limits.silence_dbfs} dBFS")
    if rms_db > limits.max_rms_dbfs:
        raise RejectedAudio(
            "too_loud",
            f"RMS {rms_db:+.1f} dBFS > {limits.max_rms_dbfs:+.1f} dBFS (peak {peak_db:+.1f} dBFS): "
            "samples beyond full scale; rescale the file to [-1, 1]",
        )


def to_mono(data: np.ndarray) -> np.ndarray:
    """Mono policy: the mean of all channels (float64 accumulation), float32 out."""
    if data.ndim == 1:
        return data.astype(np.float32, copy=False)
    return data.astype(np.float64).mean(axis=1).astype(np.float32)


def resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """soxr high-quality resampling; identity when the rates match."""
    if sr_in == sr_out:
        return np.ascontiguousarray(x, dtype=np.float32)
    y = soxr.resample(np.ascontiguousarray(x, dtype=np.float32), sr_in, sr_out, quality="HQ")
    return np.asarray(y, dtype=np.float32)


def mono_blocks(path: str | Path, sr_out: int, block_frames: int = 1 << 16) -> Iterator[np.ndarray]:
    """A file as mono float32 blocks at `sr_out`, decoded and resampled as a stream: memory
    is bounded by the block, whatever the file's length. The concatenated blocks equal
    `resample(read_mono(path)[0], sr, sr_out)` bit for bit (soxr streams exactly)."""
    with sf.SoundFile(str(path)) as f:
        sr_in = int(f.samplerate)
        stream = None
        if sr_in != sr_out:
            stream = soxr.ResampleStream(sr_in, sr_out, 1, dtype="float32", quality="HQ")
        for block in f.blocks(blocksize=block_frames, dtype="float32", always_2d=True):
            mono = to_mono(block)
            yield np.ascontiguousarray(mono) if stream is None else stream.resample_chunk(mono)
        if stream is not None:
            yield stream.resample_chunk(np.zeros(0, np.float32), last=True)


def read_mono(path: str | Path) -> tuple[np.ndarray, int]:
    data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    return to_mono(data), int(sr)
