"""Denoise a file in bounded memory.

`denoise_file` streams: decode blocks -> mono (mean of channels) -> soxr stream to 48 kHz
-> DeepFilterNet3 frame by frame -> 24-bit FLAC. The output is as long as the resampled
input and aligned with it (the runtime's delay is dropped and flushed with zeros). The
content hash is that of the samples a read of the FLAC gives (what later stages read),
taken as they are written: libsndfile's 24-bit rounding is replicated exactly (checked
once a process, and tested); where the frame count is not known before the first sample
(a voice stored at another rate than its source's: the model's, by config), the file is
read back instead. Memory stays bounded whatever the length: a one-hour file costs what a
minute does.

`denoise_file` runs the runtime it is given from its current state: the pipeline hands it
a pristine one for every voice (`voxlake.audio.fork_server`), so a voice's output never
depends on the voices before it.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import blake3
import numpy as np
import soundfile as sf
import soxr

from voxlake.audio.denoise import SAMPLE_RATE, DeepFilterRuntime

BLOCK = 1 << 16  # input frames per decode block
CLIP = 0.999
FLOOR_FRAME_S = 0.02
DIGITAL_SILENCE_DB = -100.0  # frames this quiet are padding, not a noise floor


def floor_depth_db(src: str | Path) -> float:
    """How far the noise floor lies below the loud frames: the 95th minus the 10th
    percentile of 20 ms frame levels (mono, native rate), digital silence left out.
    About the SNR + 5 dB for stationary noise. One streamed pass; 0.0 when unmeasurable."""
    levels: list[np.ndarray] = []
    with sf.SoundFile(str(src)) as f:
        n = max(1, int(FLOOR_FRAME_S * f.samplerate))
        carry = np.zeros(0, np.float64)
        for block in f.blocks(blocksize=BLOCK, dtype="float32", always_2d=True):
            x = np.concatenate([carry, block.astype(np.float64).mean(axis=1)])
            m = len(x) // n
            power = np.mean(x[: m * n].reshape(m, n) ** 2, axis=1)
            levels.append(10 * np.log10(power + 1e-30))
            carry = x[m * n :]
    lv = np.concatenate(levels) if levels else np.zeros(0)
    lv = lv[np.isfinite(lv) & (lv > DIGITAL_SILENCE_DB)]
    if len(lv) < 10:
        return 0.0
    return float(np.percentile(lv, 95) - np.percentile(lv, 10))


@dataclass
class SignalMeter:
    """Running RMS, peak, clipping and DC of a signal seen block by block."""

    n: int = 0
    sum: float = 0.0
    sum_sq: float = 0.0
    peak: float = 0.0
    clipped: int = 0

    def update(self, x: np.ndarray) -> None:
        x64 = np.asarray(x, dtype=np.float64)
        self.n += len(x64)
        self.sum += float(x64.sum())
        self.sum_sq += float(np.dot(x64, x64))
        if len(x64):
            self.peak = max(self.peak, float(np.max(np.abs(x64))))
        self.clipped += int(np.count_nonzero(np.abs(x64) >= CLIP))

    def report(self, prefix: str) -> dict[str, float]:
        rms = np.sqrt(self.sum_sq / self.n) if self.n else 0.0
        return {
            f"{prefix}_rms_dbfs": float(20 * np.log10(max(rms, 1e-12))),
            f"{prefix}_peak_dbfs": float(20 * np.log10(max(self.peak, 1e-12))),
            f"{prefix}_clip_fraction": self.clipped / self.n if self.n else 0.0,
            f"{prefix}_dc_offset": self.sum / self.n if self.n else 0.0,
        }


@dataclass
class _FrameFeeder:
    """Feeds a stream into the runtime in whole frames; drops the delay; counts output."""

    runtime: DeepFilterRuntime
    sink: Any  # a SoundFile, or _NullSink when the input itself is written
    to_drop: int
    pending: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    written: int = 0
    snr_sum: float = 0.0
    frames: int = 0

    def feed(self, x: np.ndarray, limit: int | None = None) -> None:
        buf = np.concatenate([self.pending, np.asarray(x, dtype=np.float32)])
        n = self.runtime.frame_length
        whole = len(buf) - len(buf) % n
        if whole:
            out, snrs = self.runtime.process_frames(buf[:whole])
            self.snr_sum += float(np.sum(snrs))
            self.frames += len(snrs)
            drop = min(self.to_drop, len(out))
            self.to_drop -= drop
            out = out[drop:]
            if limit is not None:
                out = out[: max(0, limit - self.written)]
            if len(out):
                self.sink.write(np.clip(out, -1.0, 1.0 - 2.0**-23))
                self.written += len(out)
        self.pending = buf[whole:].copy()


def hash_flac(path: Path) -> tuple[str, SignalMeter]:
    """hash_array of the decoded samples, computed block by block, and their meter."""
    meter = SignalMeter()
    with sf.SoundFile(str(path)) as f:
        h = blake3.blake3()
        h.update(f"f4|{f.frames}|".encode())
        for block in f.blocks(blocksize=BLOCK, dtype="float32", always_2d=True):
            mono = block[:, 0]
            meter.update(mono)
            h.update(np.ascontiguousarray(mono, dtype="<f4").tobytes())
    return h.hexdigest(), meter


FULL_SCALE_24 = float(1 << 23)


def stored_24bit(y: np.ndarray) -> np.ndarray:
    """The float32 samples a read of a 24-bit FLAC gives back for samples `y` written to it:
    libsndfile stores q = round-half-even(y * 2^23), clipped to 24 bits, and reads q / 2^23,
    both exact in float32. `stores_as_expected` checks this libsndfile does."""
    q = np.clip(
        np.rint(np.asarray(y, np.float64) * FULL_SCALE_24), -FULL_SCALE_24, FULL_SCALE_24 - 1
    )
    return (q / FULL_SCALE_24 + 0.0).astype("<f4")  # + 0.0: a read gives 0.0, never -0.0


@lru_cache(maxsize=1)
def stores_as_expected() -> bool:
    """Whether this process's libsndfile writes and reads 24-bit FLAC as `stored_24bit`
    says (checked once, on the values where a rounding or scale differs: halves, the full
    scale's ends, random values); if not, the denoised voice's hash is read back."""
    rng = np.random.default_rng(0)
    y = np.concatenate(
        [
            (np.arange(-64, 64) + 0.5) / FULL_SCALE_24,
            [-1.0, 1.0 - 2.0**-23, 1.0 - 2.0**-24, -1.0 + 2.0**-24, 0.0, -0.0, 2.0**-24],
            [-(2.0**-25), -(2.0**-30)],  # rounded to zero from below
            rng.uniform(-1.0, 1.0 - 2.0**-23, 4096),
        ]
    ).astype(np.float32)
    with tempfile.TemporaryDirectory(prefix="voxlake-flac-") as tmp:
        path = Path(tmp) / "probe.flac"
        sf.write(str(path), y, 16_000, subtype="PCM_24", format="FLAC")
        back, _ = sf.read(str(path), dtype="float32")
    return back.astype("<f4").tobytes() == stored_24bit(y).tobytes()  # as the hash sees it


class _HashedFlac:
    """The output FLAC, hashed and metered as it is written: what `hash_flac` of the
    finished file gives, without reading it back (the read-back decoded each voice once
    more). The hash starts with the frame count, so it needs the count before the first
    sample: `frames` (the source's, which the output matches at the source's rate), else
    None and `result` reads the file back, as it also does where fewer or more frames
    came than said. The meter takes the samples in `hash_flac`'s blocks (its sums depend
    on them)."""

    def __init__(self, out: sf.SoundFile, frames: int | None):
        self.out = out
        self.frames = frames if frames is not None and stores_as_expected() else None
        self.hash = blake3.blake3(f"f4|{self.frames}|".encode())
        self.meter = SignalMeter()
        self.pending: list[np.ndarray] = []
        self.held = 0
        self.count = 0

    def write(self, y: np.ndarray) -> None:
        self.out.write(y)
        if self.frames is None:
            return
        stored = stored_24bit(y)
        self.hash.update(stored.tobytes())
        self.count += len(stored)
        self.pending.append(stored)
        self.held += len(stored)
        while self.held >= BLOCK:
            block = np.concatenate(self.pending)
            self.meter.update(block[:BLOCK])
            self.pending, self.held = [block[BLOCK:]], self.held - BLOCK

    def result(self, path: Path) -> tuple[str, SignalMeter]:
        if self.frames is None or self.count != self.frames:
            return hash_flac(path)
        if self.held:
            self.meter.update(np.concatenate(self.pending))
        return self.hash.hexdigest(), self.meter


class _NullSink:
    """Where the runtime's output goes when the input itself is written."""

    def write(self, _: np.ndarray) -> None:
        pass


class _RateSink:
    """The model's 48 kHz output, resampled as a stream to the stored rate and cut (or
    padded) to exactly the source's frame count: the last few samples are held back until
    that count is known."""

    HELD = 64

    def __init__(self, out: _HashedFlac, rate: int):
        self.out = out
        self.stream = soxr.ResampleStream(SAMPLE_RATE, rate, 1, dtype="float32", quality="HQ")
        self.held = np.zeros(0, np.float32)
        self.written = 0

    def _put(self, y: np.ndarray) -> None:
        if len(y):
            self.written += _write(self.out, y)

    def write(self, y: np.ndarray) -> None:
        buf = np.concatenate([self.held, self.stream.resample_chunk(y)])
        cut = max(0, len(buf) - self.HELD)
        self._put(buf[:cut])
        self.held = buf[cut:]

    def finish(self, frames: int) -> None:
        buf = np.concatenate(
            [self.held, self.stream.resample_chunk(np.zeros(0, np.float32), last=True)]
        )
        buf = buf[: max(0, frames - self.written)]
        self._put(np.concatenate([buf, np.zeros(frames - self.written - len(buf), np.float32)]))


def _write(sink: _HashedFlac, y: np.ndarray) -> int:
    sink.write(np.clip(y, -1.0, 1.0 - 2.0**-23))
    return len(y)


def denoise_file(
    src: str | Path,
    dst: str | Path,
    runtime: DeepFilterRuntime,
    passthrough_depth_db: float = 0.0,
    output_rate: str = "source",
) -> dict[str, Any]:
    """Stream one file through the runtime (at 48 kHz) into a 24-bit mono FLAC at the
    source's rate (or, with `output_rate="model"`, at 48 kHz); metrics + hash. At the
    source's rate the output has exactly the source's frame count.

    With `passthrough_depth_db` > 0, a voice whose `floor_depth_db` reaches it is already
    clean: its mono input is written instead of the runtime's output (the runtime still
    runs, so its local-SNR estimate is there for every voice)."""
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".tmp-{os.getpid()}-{dst.name}")
    meter_in = SignalMeter()
    depth = floor_depth_db(src)
    passthrough = 0 < passthrough_depth_db <= depth
    try:
        with sf.SoundFile(str(src)) as f:
            rate = int(f.samplerate)
            out_rate = rate if output_rate == "source" else SAMPLE_RATE
            with sf.SoundFile(str(tmp), "w", out_rate, 1, subtype="PCM_24", format="FLAC") as f_out:
                # at the source's rate, as many frames as the source (checked below)
                out = _HashedFlac(f_out, f.frames if out_rate == rate else None)
                down = _RateSink(out, out_rate) if out_rate != SAMPLE_RATE else None
                stream = soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")
                feeder = _FrameFeeder(
                    runtime, _NullSink() if passthrough else down or out, runtime.delay
                )
                total = copied = frames_in = 0
                for block in f.blocks(blocksize=BLOCK, dtype="float32", always_2d=True):
                    mono = block.astype(np.float64).mean(axis=1).astype(np.float32)
                    frames_in += len(mono)
                    y = stream.resample_chunk(mono) if rate != SAMPLE_RATE else mono
                    meter_in.update(y)
                    total += len(y)
                    feeder.feed(y)
                    if passthrough:  # the input as it came (mono), or resampled to 48 kHz
                        copied += _write(out, mono if out_rate == rate else y)
                if rate != SAMPLE_RATE:
                    tail = stream.resample_chunk(np.zeros(0, np.float32), last=True)
                    meter_in.update(tail)
                    total += len(tail)
                    feeder.feed(tail)
                    copied += _write(out, tail) if passthrough and out_rate != rate else 0
                flush = runtime.delay + runtime.frame_length
                feeder.feed(np.zeros(flush, np.float32), limit=total)
                frames = frames_in if out_rate == rate else total
                if not passthrough and feeder.written != total:
                    raise RuntimeError(f"wrote {feeder.written} samples, expected {total}")
                if not passthrough and down is not None:
                    down.finish(frames)
                    copied = down.written
                elif not passthrough:
                    copied = feeder.written
                if copied != frames:
                    raise RuntimeError(f"wrote {copied} samples, expected {frames}")
        os.replace(tmp, dst)
    finally:
        if tmp.exists():
            tmp.unlink()
    content_hash, meter_out = out.result(dst)
    return {
        "sample_rate": out_rate,
        "frames": frames,
        **meter_in.report("in"),
        **meter_out.report("out"),
        "local_snr_db": feeder.snr_sum / feeder.frames if feeder.frames else 0.0,
        "floor_depth_db": depth,
        "passthrough": passthrough,
        "content_hash": content_hash,
    }


def peak_rss_mb() -> float:
    """This process's own peak resident set (VmHWM; unlike ru_maxrss it resets on exec)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")
