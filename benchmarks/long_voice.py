"""Bounded memory on a long recording: one voice of `--minutes` (default 20) through
`voxlake ingest` and `voxlake run`, under /usr/bin/time -v.

    python benchmarks/long_voice.py [--minutes 20] [--workers 2]

The voice is natural speech where `flite` is installed (its sentences, repeated), else the
demo's synthesizer, with pink noise at 10 dB, 16 kHz, written in pieces. The peak RSS is
the largest of any one process of the run (the CLI, a pool worker, a denoise server or
its fork), as the kernel reports it to /usr/bin/time. The last line is the JSON, also
written to benchmarks/results/long_voice.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from voxlake.audio.decode import resample
from voxlake.demo import flite
from voxlake.demo.corpus import mix_at_snr, pink_noise
from voxlake.demo.synth import BASE_RATE, Speaker, synthesize

RESULTS = Path(__file__).parent / "results"
RATE = 16_000


def write_voice(path: Path, minutes: float) -> str:
    rng = np.random.default_rng(20)
    if flite.available():
        clean = np.concatenate([flite.utterance("slt", t) for t in flite.TARGET_SENTENCES])
        piece, speech = resample(clean.astype(np.float32), flite.RATE, RATE), "flite"
    else:
        piece = resample(synthesize(Speaker.random("l", rng), 30.0, rng), BASE_RATE, RATE)
        speech = "synthetic"
    need = int(minutes * 60 * RATE)
    with sf.SoundFile(str(path), "w", RATE, 1, subtype="PCM_16") as f:
        done = 0
        while done < need:
            x = piece[: need - done].astype(np.float64)
            noisy = mix_at_snr(x, pink_noise(len(x), rng), 10.0)
            f.write((0.5 * noisy / max(float(np.max(np.abs(noisy))), 1e-9)).astype(np.float32))
            done += len(x)
    return speech


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="voxlake-long-voice-"))
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env["VOXLAKE_PROGRESS"] = "off"
    cli = [sys.executable, "-m", "voxlake.cli"]
    try:
        (tmp / "in").mkdir()
        speech = write_voice(tmp / "in" / "long.wav", args.minutes)
        lake = tmp / "lake"
        subprocess.run([*cli, "ingest", str(tmp / "in"), "--lake", str(lake)], check=True, env=env)
        cmd = ["/usr/bin/time", "-v", *cli, "run", "--lake", str(lake)]
        t0 = time.perf_counter()
        proc = subprocess.run(
            [*cmd, "--workers", str(args.workers)], env=env, capture_output=True, text=True
        )
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(f"voxlake run failed:\n{proc.stdout}\n{proc.stderr}")
        rss = [x for x in proc.stderr.splitlines() if "Maximum resident set size" in x]
        from voxlake.lake import catalog
        from voxlake.lake.store import Lake

        _, rows = catalog.query(Lake(lake), "select count(*), max(frames) from denoise_metrics")
        result = {
            "minutes": args.minutes,
            "speech": speech,
            "workers": args.workers,
            "run_s": round(wall, 1),
            "denoised_voices": rows[0][0],
            "denoised_frames": rows[0][1],
            "peak_rss_mb": round(int(rss[0].split()[-1]) / 1024),
            "cores": os.cpu_count(),
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "long_voice.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
