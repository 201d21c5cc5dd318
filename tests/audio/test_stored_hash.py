"""The denoised voice's hash and output meter, taken as the FLAC is written, are what a
read of the finished file gives (`hash_flac`), byte for byte: the stage's content hash
and metrics do not depend on which way they were taken."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voxlake.audio import stream
from voxlake.audio.denoise import DeepFilterRuntime
from voxlake.lake.hashing import hash_array


def test_this_libsndfile_stores_24_bit_flac_as_the_hash_assumes(tmp_path) -> None:
    assert stream.stores_as_expected()  # else every voice is read back (slower, same hash)
    y = np.array([-1.0, -(2.0**-30), 0.0, 0.5 / 2**23, 1.5 / 2**23, 1 - 2.0**-23], np.float32)
    sf.write(tmp_path / "y.flac", y, 16_000, subtype="PCM_24", format="FLAC")
    back, _ = sf.read(tmp_path / "y.flac", dtype="float32")
    assert stream.stored_24bit(y).tobytes() == back.astype("<f4").tobytes()
    assert stream.stored_24bit(y)[1].tobytes() == np.float32(0.0).tobytes()  # not -0.0


def _voice(path: Path, rate: int, seconds: float, kind: str, channels: int = 1) -> Path:
    rng = np.random.default_rng(rate + int(10 * seconds))
    n = int(rate * seconds)
    t = np.arange(n) / rate
    x = 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 2 * t))
    if kind == "noisy":
        x = x + 0.05 * rng.standard_normal(n)
    elif kind == "loud":  # clipped input
        x = np.clip(3 * x + 0.05 * rng.standard_normal(n), -1, 1)
    elif kind == "clean":  # passed through, with stretches of near-silence
        x = np.where(t % 1 < 0.5, x, 0.0) + 1e-6 * rng.standard_normal(n)
    if channels == 2:
        x = np.stack([x, 0.5 * x], axis=1)
    sf.write(path, x, rate, subtype="PCM_16")
    return path


@pytest.mark.parametrize(
    ("rate", "seconds", "kind", "channels"),
    [
        (16_000, 2.0, "noisy", 1),
        (22_050, 1.5, "noisy", 2),
        (48_000, 1.0, "loud", 1),
        (16_000, 2.0, "clean", 1),
        (8_000, 0.05, "noisy", 1),
        (16_000, 5.0, "noisy", 1),  # more than one of hash_flac's blocks
    ],
)
@pytest.mark.parametrize("output_rate", ["source", "model"])
def test_the_hash_taken_while_writing_is_the_read_backs(
    tmp_path, rate, seconds, kind, channels, output_rate
) -> None:
    src = _voice(tmp_path / "v.wav", rate, seconds, kind, channels)
    with DeepFilterRuntime() as rt:
        row = stream.denoise_file(src, tmp_path / "d.flac", rt, 45.0, output_rate)
    h, meter = stream.hash_flac(tmp_path / "d.flac")
    assert row["content_hash"] == h
    assert {k: row[k] for k in meter.report("out")} == meter.report("out")
    y, _ = sf.read(tmp_path / "d.flac", dtype="float32")
    assert row["content_hash"] == hash_array(y)
    assert row["passthrough"] == (kind == "clean")


def test_a_source_whose_header_miscounts_its_frames_is_read_back(tmp_path, monkeypatch) -> None:
    """The hash starts with the frame count, so it is taken from the source's header; where
    the voice written has another count, the file is read back instead."""
    src = _voice(tmp_path / "v.wav", 16_000, 1.0, "noisy")
    made: list[stream._HashedFlac] = []

    class Miscounted(stream._HashedFlac):
        def __init__(self, out: sf.SoundFile, frames: int | None):
            super().__init__(out, None if frames is None else frames + 1)
            made.append(self)

    monkeypatch.setattr(stream, "_HashedFlac", Miscounted)
    with DeepFilterRuntime() as rt:
        row = stream.denoise_file(src, tmp_path / "d.flac", rt, 0.0)
    frames = made[0].frames if made else None
    assert frames is not None and made[0].count == frames - 1  # streamed, then found short
    assert row["content_hash"] == stream.hash_flac(tmp_path / "d.flac")[0]
