"""A hostile-input corpus: every kind of file people upload, and what voxlake must make of it."""

from __future__ import annotations

import io
import os
import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf

from voxlake.audio.decode import resample
from voxlake.demo.synth import BASE_RATE, Speaker, synthesize


def speech(sr: int, seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = resample(synthesize(Speaker.random("h", rng), seconds, rng), BASE_RATE, sr)
    return x + 0.003 * rng.standard_normal(len(x)).astype(np.float32)


def _huge_header(x: np.ndarray) -> Callable[[Path], object]:
    """A WAV whose RIFF and data sizes claim about 4 GB (as a crashed recorder leaves it)."""

    def write(p: Path) -> None:
        buf = io.BytesIO()
        sf.write(buf, x, 16000, subtype="PCM_16", format="WAV")
        data = bytearray(buf.getvalue())
        at = data.find(b"data")
        data[4:8] = struct.pack("<I", 0xFFFFFFF8)
        data[at + 4 : at + 8] = struct.pack("<I", 0xFFFFFFF0)
        p.write_bytes(bytes(data))

    return write


def build(inbox: Path, outside: Path) -> dict[str, tuple[str, str]]:
    """Write the corpus; returns inbox path -> (kind, expected outcome).

    Outcomes: "voice", "duplicate", or a rejection reason. `max_duration_s` must be 10.
    """
    inbox.mkdir(parents=True, exist_ok=True)
    expected: dict[str, tuple[str, str]] = {}

    def add(name: str, kind: str, outcome: str, write: Callable[[Path], object]) -> None:
        path = inbox / name
        path.parent.mkdir(parents=True, exist_ok=True)
        write(path)
        expected[name] = (kind, outcome)

    def wav(x: np.ndarray, sr: int, **kw: object) -> Callable[[Path], object]:
        return lambda p: sf.write(p, x, sr, **kw)

    good = speech(16000, 2.0, 1)
    add("zero_bytes.wav", "zero bytes", "empty", lambda p: p.write_bytes(b""))
    sf.write(inbox / ".full.wav", good, 16000)
    add(
        "truncated_header.wav",
        "truncated header",
        "undecodable",
        lambda p: p.write_bytes((inbox / ".full.wav").read_bytes()[:20]),
    )
    (inbox / ".full.wav").unlink()
    add(
        "random_bytes.wav",
        "random bytes named .wav",
        "undecodable",
        lambda p: p.write_bytes(np.random.default_rng(2).bytes(4096)),
    )
    add("notes.txt", "a text file", "undecodable", lambda p: p.write_text("not a voice\n"))
    add(
        "nan_samples.wav",
        "float WAV of NaN",
        "non_finite",
        wav(np.full(16000, np.nan, np.float32), 16000, subtype="FLOAT"),
    )
    add("one_sample.wav", "1 sample", "too_short", wav(np.array([0.5]), 16000))
    add("long.wav", "12 s (max 10 s)", "too_long", wav(speech(8000, 12.0, 3), 8000))
    add("silent.wav", "all-silent", "silent", wav(np.zeros(32000), 16000))
    loud = speech(16000, 2.0, 15) * 50 / np.max(np.abs(speech(16000, 2.0, 15)))
    add("peak_50.wav", "float WAV, peak 50", "too_loud", wav(loud, 16000, subtype="FLOAT"))
    add("u8.wav", "8-bit", "voice", wav(good, 16000, subtype="PCM_U8"))
    add("rate_8k.wav", "8 kHz", "voice", wav(speech(8000, 2.0, 4), 8000))
    add("rate_192k.wav", "192 kHz", "voice", wav(speech(192000, 1.0, 5), 192000))
    six = np.stack([speech(16000, 2.0, 6 + c) for c in range(6)], axis=1)
    add("six_channels.wav", "6 channels", "voice", wav(six, 16000))
    add(
        "clipped.wav",
        "full-scale clipping + DC",
        "voice",
        wav(np.clip(speech(16000, 2.0, 12) * 40 + 0.2, -1, 1), 16000),
    )
    add("voice.flac", "FLAC", "voice", wav(speech(22050, 2.0, 7), 22050, format="FLAC"))
    add(
        "voice.ogg",
        "OGG Vorbis",
        "voice",
        wav(speech(16000, 2.0, 8), 16000, format="OGG", subtype="VORBIS"),
    )
    add("voice.mp3", "MP3", "voice", wav(speech(16000, 2.0, 9), 16000, format="MP3"))
    add("voix d'été ünïcode.wav", "unicode and spaces", "voice", wav(speech(16000, 2.0, 10), 16000))
    add(
        "sub dir/x;$(rm -rf ~)`&|.wav",
        "shell metacharacters",
        "voice",
        wav(speech(16000, 2.0, 11), 16000),
    )
    add("same_a.wav", "same content, first name", "voice", wav(speech(16000, 2.0, 13), 16000))
    add(
        "same_b.wav",
        "same content, second name",
        "duplicate",
        lambda p: shutil.copyfile(inbox / "same_a.wav", p),
    )
    add("rate_11025.wav", "11,025 Hz", "voice", wav(speech(11025, 2.0, 15), 11025))
    add("rate_22050.wav", "22,050 Hz WAV", "voice", wav(speech(22050, 2.0, 16), 22050))
    add("new\nline.wav", "a newline in the name", "voice", wav(speech(16000, 2.0, 17), 16000))
    add("a/take.wav", "same name, first folder", "voice", wav(speech(16000, 2.0, 18), 16000))
    add("b/take.wav", "same name, second folder", "voice", wav(speech(16000, 2.0, 19), 16000))
    add("text.wav", "text named .wav", "undecodable", lambda p: p.write_text("hello\n"))
    add(
        "huge_header.wav",
        "header claims 4 GB of data",
        "voice",
        _huge_header(speech(16000, 2.0, 20)),
    )
    add("loop.wav", "symlink loop", "unreadable", lambda p: os.symlink(p.name, p))
    outside.parent.mkdir(parents=True, exist_ok=True)
    sf.write(outside, good, 16000)
    add(
        "outside.wav", "symlink out of the inbox", "outside_inbox", lambda p: os.symlink(outside, p)
    )
    add("pipe.wav", "a FIFO", "not_regular", lambda p: os.mkfifo(p))
    locked = "voice" if os.geteuid() == 0 else "unreadable"  # root reads a mode-000 file

    def locked_file(p: Path) -> None:
        sf.write(p, speech(16000, 2.0, 14), 16000)
        p.chmod(0)

    add("locked.wav", "unreadable (mode 000)", locked, locked_file)
    add("vanishing.wav", "gone between scan and run", "missing", wav(good[:16000], 16000))
    return expected
