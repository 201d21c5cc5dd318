"""DNSMOS P.835 (SIG, BAK, OVRL) with the ONNX model shipped in the `speechmos` wheel.

Only the P.835 model is used (it reads raw 16 kHz audio), so no librosa is needed. A clip
shorter than 9.01 s is repeated (doubled) until it is that long, its windows are scored,
and the polynomial mapping of the non-personalised model gives the scores.
onnxruntime runs on one thread. Modes:

- `exact`: speechmos' procedure, 9.01 s windows with a 1 s hop (a 3 s clip, doubled to
  12 s, is three overlapping windows);
- `fast`: the fewest 9.01 s windows that cover the clip once (one for a clip up to 9.01 s,
  the last window aligned to the end);
- `sample`: `exact`, for the voices whose id falls in a fixed fraction of the hash space,
  so the same voices are scored on every run and in any batch (`sampled`);
- `off`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

SAMPLE_RATE = 16_000
WINDOW_S = 9.01
_SIG = np.poly1d([-0.08397278, 1.22083953, 0.0052439])
_BAK = np.poly1d([-0.13166888, 1.60915514, -0.39604546])
_OVRL = np.poly1d([-0.06766283, 1.11546468, 0.04602535])


@dataclass(frozen=True)
class Dnsmos:
    sig: float
    bak: float
    ovrl: float


@lru_cache(maxsize=1)
def _session() -> Any:
    import importlib.util

    import onnxruntime as ort

    spec = importlib.util.find_spec("speechmos")
    if spec is None or spec.origin is None:
        raise RuntimeError("speechmos is not installed")
    model = Path(spec.origin).parent / "dnsmos_models" / "sig_bak_ovr.onnx"
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])


MODES = ("off", "exact", "fast", "sample")
DEFAULT_MODE = "fast"  # what `--dnsmos` alone means: see the README's DNSMOS figures
NEED = int(WINDOW_S * SAMPLE_RATE)


def sampled(voice_id: str, fraction: float) -> bool:
    """Whether `sample` mode scores this voice: its id's first 32 bits below the fraction."""
    return int(voice_id[:8], 16) < fraction * 2**32


def window_starts(n: int, mode: str) -> list[int]:
    """Where the windows of a (repeated) clip of n samples start, per mode."""
    if mode == "fast":
        starts = list(range(0, n - NEED, NEED)) + [n - NEED]
        return sorted(set(starts))
    hops = int(np.floor(n / SAMPLE_RATE) - WINDOW_S) + 1
    return [i * SAMPLE_RATE for i in range(hops) if i * SAMPLE_RATE + NEED <= n]


def score(x16k: np.ndarray, mode: str = "exact") -> Dnsmos:
    """DNSMOS P.835 of a mono 16 kHz signal in [-1, 1] (mode `exact` or `fast`)."""
    audio = np.clip(np.asarray(x16k, dtype=np.float32), -1.0, 1.0)
    if len(audio) == 0:
        raise ValueError("empty audio has no DNSMOS")
    if mode == "fast" and len(audio) < NEED:
        audio = np.resize(audio, NEED)  # repeated to one window: exact's doubling, cut there
    while len(audio) < NEED:
        audio = np.concatenate([audio, audio])
    sess = _session()
    sig, bak, ovrl = [], [], []
    for start in window_starts(len(audio), mode):
        seg = audio[start : start + NEED]
        raw = sess.run(None, {"input_1": seg[np.newaxis, :]})[0][0]
        sig.append(_SIG(raw[0]))
        bak.append(_BAK(raw[1]))
        ovrl.append(_OVRL(raw[2]))
    return Dnsmos(float(np.mean(sig)), float(np.mean(bak)), float(np.mean(ovrl)))
