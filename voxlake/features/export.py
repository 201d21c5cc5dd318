"""Export dataset mel statistics: ESPnet-style npz (count, sum, sum_square) or JSON.

Per-bin mode reads the dataset accumulator. Fixed-window mode (`window=N`) makes one pass
over the stored mel features, adding each voice's first N frames as one sample; voices
shorter than N frames are counted and left out.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from voxlake.features import dataset as dataset_stats
from voxlake.features.stats import FRAC_BITS, MelStats, MelSums, window
from voxlake.lake.store import Lake


@dataclass(frozen=True)
class Exported:
    sums: MelSums
    shape: tuple[int, ...]
    fingerprint: str
    skipped: int = 0


def collect(lake: Lake, window_frames: int | None = None) -> Exported:
    if window_frames is None:
        st = dataset_stats.load(lake)
        if st is None or st.n_frames == 0:
            raise LookupError("no dataset mel statistics yet: run the pipeline first")
        return Exported(st.sums(), st.shape, st.fingerprint)
    rows = sorted(lake.read_table("voice_mel_stats").to_pylist(), key=lambda r: r["voice_id"])
    if not rows:
        raise LookupError("no mel features yet: run the pipeline first")
    n_mels = len(rows[0]["mean"])
    acc = MelStats((window_frames, n_mels), rows[0]["fingerprint"])
    skipped = 0
    for r in rows:
        frames = np.load(lake.mel_features(r["voice_id"]))
        if len(frames) < window_frames:
            skipped += 1
            continue
        acc.add_frames(window(frames, window_frames))
    if acc.n_frames == 0:
        raise LookupError(f"no voice has {window_frames} frames")
    return Exported(acc.sums(), acc.shape, acc.fingerprint, skipped)


def to_npz(e: Exported) -> bytes:
    """count (samples), sum and sum_square in feature units, float64, as ESPnet keeps them."""
    scale = float(1 << FRAC_BITS)
    s1 = np.array([float(v) for v in e.sums.sum]).reshape(e.shape) / scale
    s2 = np.array([float(v) for v in e.sums.sum_square]).reshape(e.shape) / scale / scale
    buf = io.BytesIO()
    np.savez(buf, count=np.array(e.sums.n_frames), sum=s1, sum_square=s2)
    return buf.getvalue()


def to_json(e: Exported) -> dict[str, Any]:
    final = e.sums.finalize()
    return {
        "fingerprint": e.fingerprint,
        "shape": list(e.shape),
        "n_samples": e.sums.n_frames,
        "n_voices": e.sums.n_voices,
        "skipped_short_voices": e.skipped,
        "mean": final.mean.reshape(e.shape).tolist(),
        "std": final.std.reshape(e.shape).tolist(),
    }


def export(lake: Lake, fmt: str, window_frames: int | None = None) -> bytes:
    e = collect(lake, window_frames)
    if fmt == "npz":
        return to_npz(e)
    if fmt == "json":
        return (json.dumps(to_json(e), indent=1) + "\n").encode()
    raise ValueError(f"unknown format {fmt!r}")
