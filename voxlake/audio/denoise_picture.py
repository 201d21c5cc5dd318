"""One voice of a batch before and after denoising, as a spectrogram picture.

The voice is the batch's first by voice_id (the same picture on every run); at most the
first `SECONDS` are read, so a long recording costs no more than a short one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import soundfile as sf

from voxlake.audio.decode import resample, to_mono
from voxlake.audio.denoise import SAMPLE_RATE
from voxlake.features.plots import before_after_spectrogram
from voxlake.lake.store import Lake
from voxlake.lake.voice_ids import short

SECONDS = 10.0


@dataclass(frozen=True)
class DenoisePicture:
    voice_id: str
    png: bytes


def _head(path: str, seconds: float) -> tuple[np.ndarray, int]:
    with sf.SoundFile(path) as f:
        data = f.read(int(seconds * f.samplerate), dtype="float32", always_2d=True)
        return to_mono(data), int(f.samplerate)


def denoise_picture(lake: Lake, batch: str) -> DenoisePicture | None:
    """The batch's first denoised voice, raw above and denoised below (None: no voice)."""
    rows = lake.read_table("denoise_metrics", batch).to_pylist()
    raw = {v["voice_id"]: v for v in lake.read_table("voices", batch).to_pylist()}
    rows = sorted((r for r in rows if r["voice_id"] in raw), key=lambda r: r["voice_id"])
    if not rows:
        return None
    first = rows[0]
    voice = raw[first["voice_id"]]
    before, sr = _head(str(lake.root / voice["raw_path"]), SECONDS)
    after, sr_out = _head(str(lake.root / first["denoised_path"]), SECONDS)
    before = resample(before, sr, SAMPLE_RATE)
    after = resample(after, sr_out, SAMPLE_RATE)
    n = min(len(before), len(after))
    title = f"voice {short(first['voice_id'])} ({voice['file_name']}): before and after"
    png = before_after_spectrogram(before[:n], after[:n], SAMPLE_RATE, title)
    return DenoisePicture(first["voice_id"], png)
