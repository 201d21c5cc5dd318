"""Memory bounded by design: the raw, mel and embedding stages read a long recording as a
stream, so a 20-minute file costs about what a 1-minute one does (the denoiser streams
too: tests/audio/test_denoise.py). Each stage runs in a fresh process and its peak RSS is
read from the kernel: its own (VmHWM), not ru_maxrss, which a process started from pytest
inherits across exec at the pytest process's own peak."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

STAGES = """
import sys
from voxlake.audio.decode import AudioLimits, measure_audio
from voxlake.audio.stream import peak_rss_mb
from voxlake.embed.embedders import embed_path
from voxlake.features.mel import MelConfig
from voxlake.features.mel_file import write_log_mel
path, out = sys.argv[1], sys.argv[2]
measure_audio(path, AudioLimits(max_duration_s=7200))
write_log_mel(path, out, MelConfig())
embed_path("ge2e", path)
print(int(peak_rss_mb()))
"""


def _peak_mb(path: Path, tmp: Path) -> int:
    done = subprocess.run(
        [sys.executable, "-c", STAGES, str(path), str(tmp / f"{path.stem}.npy")],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout.strip().splitlines()[-1])


def _voice(path: Path, seconds: int) -> None:
    """Speech-like noise bursts at 48 kHz (the denoised files' rate), written in pieces."""
    rng = np.random.default_rng(seconds)
    with sf.SoundFile(str(path), "w", 48000, 1, subtype="PCM_16", format="FLAC") as f:
        for _ in range(seconds // 10):
            burst = rng.standard_normal(480000) * np.repeat(rng.uniform(0, 0.3, 100), 4800)
            f.write(burst.astype(np.float32))


@pytest.mark.slow
def test_a_20_minute_file_costs_about_what_a_1_minute_one_does(tmp_path: Path) -> None:
    short, long = tmp_path / "one_minute.flac", tmp_path / "twenty_minutes.flac"
    _voice(short, 60)
    _voice(long, 1200)
    short_mb, long_mb = _peak_mb(short, tmp_path), _peak_mb(long, tmp_path)
    print(f"\npeak RSS: 1 min {short_mb} MB, 20 min {long_mb} MB")
    assert long_mb < short_mb + 200  # was +1.3 GB before the stages streamed
    assert long_mb < 1024
