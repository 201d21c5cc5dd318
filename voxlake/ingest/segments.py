"""Cut a segment out of a recording into a file of its own, losslessly.

A segment voice is stored as its own file, so every later stage (and an export of raw
audio) reads it as it reads any voice. Its samples are copied as the recording stores
them: integer PCM of up to 24 bits (and A-law/u-law, which decode to 16-bit integers) goes
to FLAC at that width; 32-bit integers and floats to WAV of the same type; a lossy
recording's decoded samples to 32-bit float WAV. The cut is deterministic: the same
recording and bounds give the same bytes.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import soundfile as sf

from voxlake.audio.decode import DECODE_ERRORS, RejectedAudio

# recording subtype -> (container, subtype, dtype read)
LOSSLESS = {
    "PCM_S8": ("FLAC", "PCM_S8", "int16"),
    "PCM_U8": ("FLAC", "PCM_S8", "int16"),
    "PCM_16": ("FLAC", "PCM_16", "int16"),
    "ULAW": ("FLAC", "PCM_16", "int16"),
    "ALAW": ("FLAC", "PCM_16", "int16"),
    "PCM_24": ("FLAC", "PCM_24", "int32"),
    "PCM_32": ("WAV", "PCM_32", "int32"),
    "FLOAT": ("WAV", "FLOAT", "float32"),
    "DOUBLE": ("WAV", "DOUBLE", "float64"),
}
DECODED = ("WAV", "FLOAT", "float32")


def segment_suffix(subtype: str) -> str:
    return ".flac" if LOSSLESS.get(subtype, DECODED)[0] == "FLAC" else ".wav"


def cut_segment(src: Path, start: int, end: int, dst: Path) -> None:
    """Write samples [start, end) of `src` to `dst` (its suffix from `segment_suffix`)."""
    try:
        with sf.SoundFile(str(src)) as f:
            container, subtype, dtype = LOSSLESS.get(f.subtype, DECODED)
            rate = int(f.samplerate)
            f.seek(start)
            data = f.read(end - start, dtype=dtype, always_2d=True)
    except DECODE_ERRORS as e:
        raise RejectedAudio("undecodable", str(e).strip()[:200]) from None
    if data.shape[0] != end - start:
        raise RejectedAudio(
            "segment_out_of_range",
            f"samples {start}-{end} asked, the recording holds {start + data.shape[0]}",
        )
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=".tmp-", suffix=dst.suffix)
    os.close(fd)
    try:
        sf.write(tmp, data, rate, subtype=subtype, format=container)
        os.replace(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
