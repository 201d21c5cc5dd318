"""The model-free embedder: a voice's mel profile (per-bin mean and std of its log-mel).

128 natural-log mel bins at 16 kHz (25/10 ms) over the voice's active frames (within
`ACTIVE_DB` of its loudest frames, so pauses do not dilute the profile). The vector is
the per-bin mean, centred across bins (a gain change moves every bin alike and drops
out), followed by the per-bin standard deviation: 2 x 128 = 256 values, L2-normalised.
It needs no weights, costs about as much as the mel stage, and is deterministic
(float64 reductions in a fixed order).
"""

from __future__ import annotations

import numpy as np

from voxlake.features.mel import MelConfig, mel_power

SAMPLE_RATE = 16_000
FRONTEND = MelConfig(sample_rate=SAMPLE_RATE, n_mels=128)
DIM = 2 * FRONTEND.n_mels
ACTIVE_DB = 40.0  # frames more than this far below the 95th-percentile frame are pauses
MIN_FRAMES = 10
PARAMS: dict[str, object] = {
    "embedder": "mel_profile",
    "frontend": FRONTEND.params(),
    "active_db": ACTIVE_DB,
}


def embed(x16k: np.ndarray) -> np.ndarray:
    """L2-normalised 256-d mel-profile vector (float32) of a mono 16 kHz signal."""
    power = mel_power(np.asarray(x16k, dtype=np.float32), FRONTEND)
    feats = np.log(np.maximum(power, FRONTEND.floor))
    level = 10.0 * np.log10(power.sum(axis=1) + FRONTEND.floor)  # frame level, dB
    active = feats[level >= np.percentile(level, 95) - ACTIVE_DB]
    if len(active) < MIN_FRAMES:
        raise ValueError(f"too few active frames for a mel profile ({len(active)})")
    mean = active.mean(axis=0)
    vec = np.concatenate([mean - mean.mean(), active.std(axis=0)])
    norm = float(np.linalg.norm(vec))
    if not np.isfinite(norm) or norm < 1e-6:  # real voices: norms of 1 to 100 (log units)
        raise ValueError("the mel profile is flat (no signal)")
    return (vec / norm).astype(np.float32)
