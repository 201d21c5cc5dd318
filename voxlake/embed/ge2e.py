"""The GE2E speaker embedder (the resemblyzer encoder and its bundled weights).

The encoder's own front end (librosa's mel spectrogram, 40 bins, 25/10 ms, power, not
log) is recomputed here with voxlake.features.mel, which gives the same filterbank and framing
without librosa's just-in-time compilation. Audio is normalised to -30 dBFS (only ever
raised, as resemblyzer does), cut into 1.6 s partials at 1.3 per second, and the mean of
the partial embeddings is L2-normalised. torch runs single-threaded: the same voice gives
the same bytes every time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from voxlake.features.mel import MelConfig, MelFramer, mel_power
from voxlake.lake.hashing import sha256_file

SAMPLE_RATE = 16_000
DIM = 256
GE2E_FRONTEND = MelConfig(
    sample_rate=SAMPLE_RATE,
    n_fft=400,
    win_length=400,
    hop_length=160,
    n_mels=40,
    fmin=0.0,
    fmax=8000.0,
    power=2.0,
    log="none",
)
TARGET_DBFS = -30.0
PARTIAL_RATE = 1.3
MIN_COVERAGE = 0.75
BATCH = 64  # partials per encoder call on the streamed path
PARAMS: dict[str, object] = {
    "embedder": "ge2e",
    "frontend": GE2E_FRONTEND.params(),
    "target_dbfs": TARGET_DBFS,
    "partial_rate": PARTIAL_RATE,
    "min_coverage": MIN_COVERAGE,
}


def _weights_path() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or spec.origin is None:
        raise RuntimeError("resemblyzer is not installed")
    return Path(spec.origin).parent / "pretrained.pt"


@lru_cache(maxsize=1)
def _encoder() -> Any:
    import warnings

    import torch

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from resemblyzer import VoiceEncoder

        enc = VoiceEncoder("cpu", verbose=False)
    enc.eval()
    return enc


@lru_cache(maxsize=1)
def model_sha256() -> str:
    return sha256_file(_weights_path())


def _normalize_volume(x: np.ndarray) -> np.ndarray:
    rms = float(np.sqrt(np.mean(np.asarray(x, dtype=np.float64) ** 2)))
    if rms <= 0:
        return x
    gain_db = TARGET_DBFS - 20 * np.log10(rms)
    if gain_db <= 0:
        return x
    return (x * np.float32(10 ** (gain_db / 20))).astype(np.float32)


def embed(x16k: np.ndarray) -> np.ndarray:
    """L2-normalised 256-d GE2E embedding (float32) of a mono 16 kHz signal."""
    import torch

    enc = _encoder()
    wav = _normalize_volume(np.asarray(x16k, dtype=np.float32))
    wav_slices, mel_slices = enc.compute_partial_slices(len(wav), PARTIAL_RATE, MIN_COVERAGE)
    if wav_slices[-1].stop >= len(wav):
        wav = np.pad(wav, (0, wav_slices[-1].stop - len(wav)))
    mel = mel_power(wav, GE2E_FRONTEND).astype(np.float32)
    mels = np.stack([mel[s] for s in mel_slices])
    with torch.no_grad():
        partials = enc(torch.from_numpy(mels)).numpy().astype(np.float64)
    raw = partials.mean(axis=0)
    return (raw / np.linalg.norm(raw)).astype(np.float32)


def _gain(n: int, sum_squares: float) -> np.float32 | None:
    """`_normalize_volume`'s factor from streamed sums (None: left as it is)."""
    rms = float(np.sqrt(sum_squares / n)) if n else 0.0
    if rms <= 0:
        return None
    gain_db = TARGET_DBFS - 20 * np.log10(rms)
    return np.float32(10 ** (gain_db / 20)) if gain_db > 0 else None


def embed_stream(blocks: Callable[[], Iterator[np.ndarray]]) -> np.ndarray:
    """`embed` of a long signal given as blocks (mono 16 kHz, read twice), in memory that
    does not hold the signal: a pass for its length and level, then one that frames it and
    runs the partials through the encoder BATCH at a time. The same voice gives the same
    bytes every time; the level is summed block by block, so the vector may differ from
    `embed` of the whole array in its last bits."""
    import torch

    n, sum_squares = 0, 0.0
    for b in blocks():
        b64 = np.asarray(b, dtype=np.float64)
        n += len(b64)
        sum_squares += float(np.dot(b64, b64))
    gain = _gain(n, sum_squares)
    enc = _encoder()
    wav_slices, mel_slices = enc.compute_partial_slices(n, PARTIAL_RATE, MIN_COVERAGE)
    framer = MelFramer(GE2E_FRONTEND)
    rows = []
    for b in blocks():
        x = np.asarray(b, dtype=np.float32)
        rows.append(framer.feed(x if gain is None else (x * gain).astype(np.float32)))
    if wav_slices[-1].stop >= n:
        rows.append(framer.feed(np.zeros(wav_slices[-1].stop - n, np.float32)))
    rows.append(framer.finish())
    mel = np.concatenate([r.astype(np.float32) for r in rows])
    del rows
    partials = []
    with torch.no_grad():
        for i in range(0, len(mel_slices), BATCH):
            mels = np.stack([mel[s] for s in mel_slices[i : i + BATCH]])
            partials.append(enc(torch.from_numpy(mels)).numpy().astype(np.float64))
    raw = np.concatenate(partials).mean(axis=0)
    return (raw / np.linalg.norm(raw)).astype(np.float32)
