"""The GE2E speaker embedder (the resemblyzer encoder and its bundled weights).

The encoder's own front end (librosa's mel spectrogram, 40 bins, 25/10 ms, power, not
log) is recomputed here with voxlake.features.mel, which gives the same filterbank and framing
without librosa's just-in-time compilation. Audio is normalised to -30 dBFS (only ever
raised, as resemblyzer does), cut into 1.6 s partials at 1.3 per second, and the mean of
the partial embeddings is L2-normalised. torch runs single-threaded: the same voice gives
the same bytes every time.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from voxlake.features.mel import MelConfig, mel_power
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
