"""The model-free embedder: a voice's mel profile (per-bin mean and std of its log-mel).

128 natural-log mel bins at 16 kHz (25/10 ms) over the voice's active frames (within
`ACTIVE_DB` of its loudest frames, so pauses do not dilute the profile). The vector is
the per-bin mean, centred across bins (a gain change moves every bin alike and drops
out), followed by the per-bin standard deviation: 2 x 128 = 256 values, L2-normalised.
It needs no weights, costs about as much as the mel stage, and is deterministic
(float64 reductions in a fixed order).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from voxlake.features.mel import MelConfig, MelFramer, mel_power

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
    return _profile(active.mean(axis=0), active.std(axis=0))


def _profile(mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    vec = np.concatenate([mean - mean.mean(), std])
    norm = float(np.linalg.norm(vec))
    if not np.isfinite(norm) or norm < 1e-6:  # real voices: norms of 1 to 100 (log units)
        raise ValueError("the mel profile is flat (no signal)")
    return (vec / norm).astype(np.float32)


def _powers(blocks: Callable[[], Iterator[np.ndarray]]) -> Iterator[np.ndarray]:
    framer = MelFramer(FRONTEND)
    for b in blocks():
        yield framer.feed(np.asarray(b, dtype=np.float32))
    yield framer.finish()


def embed_stream(blocks: Callable[[], Iterator[np.ndarray]]) -> np.ndarray:
    """`embed` of a long signal given as blocks (read twice) in bounded memory: a pass for
    the frame levels (the pause threshold), then one summing the active frames. The same
    voice gives the same bytes every time; the sums run frame block by frame block, so the
    vector may differ from `embed` of the whole array in its last bits."""
    levels = np.concatenate(
        [10.0 * np.log10(p.sum(axis=1) + FRONTEND.floor) for p in _powers(blocks)]
    )
    threshold = np.percentile(levels, 95) - ACTIVE_DB
    n, total, squares = 0, np.zeros(FRONTEND.n_mels), np.zeros(FRONTEND.n_mels)
    for power in _powers(blocks):
        feats = np.log(np.maximum(power, FRONTEND.floor))
        level = 10.0 * np.log10(power.sum(axis=1) + FRONTEND.floor)
        active = feats[level >= threshold]
        n += len(active)
        total += active.sum(axis=0)
        squares += (active * active).sum(axis=0)
    if n < MIN_FRAMES:
        raise ValueError(f"too few active frames for a mel profile ({n})")
    mean = total / n
    return _profile(mean, np.sqrt(np.maximum(squares / n - mean * mean, 0.0)))
