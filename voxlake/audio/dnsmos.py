"""DNSMOS P.835 (SIG, BAK, OVRL) with the ONNX model shipped in the `speechmos` wheel.

Only the P.835 model is used (it reads raw 16 kHz audio), so no librosa is needed. It
follows speechmos' procedure: a clip shorter than 9.01 s is repeated until it is that
long, scored in 9.01 s windows with a 1 s hop, and the polynomial mapping of the
non-personalised model gives the scores. onnxruntime runs on one thread.
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


def score(x16k: np.ndarray) -> Dnsmos:
    """DNSMOS P.835 of a mono 16 kHz signal in [-1, 1]."""
    audio = np.clip(np.asarray(x16k, dtype=np.float32), -1.0, 1.0)
    if len(audio) == 0:
        raise ValueError("empty audio has no DNSMOS")
    need = int(WINDOW_S * SAMPLE_RATE)
    while len(audio) < need:
        audio = np.concatenate([audio, audio])
    hops = int(np.floor(len(audio) / SAMPLE_RATE) - WINDOW_S) + 1
    sess = _session()
    sig, bak, ovrl = [], [], []
    for i in range(hops):
        seg = audio[i * SAMPLE_RATE : i * SAMPLE_RATE + need]
        if len(seg) < need:
            continue
        raw = sess.run(None, {"input_1": seg[np.newaxis, :]})[0][0]
        sig.append(_SIG(raw[0]))
        bak.append(_BAK(raw[1]))
        ovrl.append(_OVRL(raw[2]))
    return Dnsmos(float(np.mean(sig)), float(np.mean(bak)), float(np.mean(ovrl)))
