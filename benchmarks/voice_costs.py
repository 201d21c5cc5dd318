"""What one voice costs a worker beyond its models, and throughput against voice length.

    python benchmarks/voice_costs.py [--lengths 0.5 1 2 4 8 16 32] [--audio-s 48]

One process set up as a pipeline worker (one thread, torch and the GE2E encoder loaded,
the denoise server started) takes voices of each length (natural speech where `flite` is
installed, with noise, at 16-48 kHz; at least `--min-voices` of each length) through every
stage's per-voice work, exactly as the stages do it:
- raw: the file's BLAKE3, its decode and measurement, its copy into the lake;
- denoise: `pipeline.denoise_voice` (a fork of the denoise server, the streamed file);
- mel and embeddings: `pipeline.mel_voice`, `pipeline.embed_voice`.
Right after each voice, the same process times its models' own calls on the same
samples, decoded and resampled beforehand: DeepFilterNet3 on a warm runtime (48 kHz),
GE2E and the log-mel extractor (the denoised voice at 16 kHz).

`pristine_state_ms` is what a pristine DeepFilterNet3 state costs a voice: the mean,
over the 1 s voices, of how much longer the voice's denoising takes through the worker's
denoise server (one of a fork's never-run runtimes) than the same code (`denoise_file`) on
this process's warm runtime. A mean, not a median: a fork serves `VOICES_PER_FORK` voices,
and its start and exit fall on one of them. Its parts:
- `pristine_fork_ms`: the round trip of a fork of the server that only answers, which
  `VOICES_PER_FORK` voices share;
- `pristine_first_run_ms`: the rest, per voice: the model's first run on the fork's
  copy-on-write pages (the runtime's state, copied as the fork writes it) and the round
  trips of the voice's frames to the fork and back.

`per_voice_overhead_ms` is the median, over the 1 s voices, of the voice's wall time in
all four stages less its models' calls and `pristine_state_ms`. Per length: voices per
second (of one worker) and the floor ratio (all stages over the models). What a batch
pays once (tables, lineage, checks, Dagster) is not here: `benchmarks/pipeline.py`
measures it. The last line is the JSON, also written to benchmarks/results/voice_costs.json
(the manual's benchmarks page plots it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ladder_real import generate

RESULTS = Path(__file__).parent / "results"
LENGTHS = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)


def _timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


class Worker:
    """The per-voice work of every stage, and each model alone, in this one process."""

    def __init__(self, root: Path):
        import torch

        from voxlake import pipeline
        from voxlake.audio.denoise import DeepFilterRuntime, DenoiseConfig
        from voxlake.embed import ge2e

        torch.set_num_threads(1)
        self.root = root
        self.settings = pipeline.DenoiseSettings(DenoiseConfig())
        self.denoiser = pipeline._denoiser(DenoiseConfig())  # the worker's own server
        self.denoiser.ping()
        self.runtime = DeepFilterRuntime()
        ge2e.embed(np.zeros(16_000, np.float32))  # the encoder loaded, as in a warm worker
        self.runtime.process(np.zeros(48_000, np.float32))

    def stages(self, src: Path, name: str) -> dict[str, float]:
        from voxlake import pipeline
        from voxlake.audio.decode import AudioLimits, measure_audio
        from voxlake.embed.embedders import DEFAULT
        from voxlake.features.mel import MelConfig
        from voxlake.ingest.raw import _copy_into_lake
        from voxlake.lake.hashing import hash_file
        from voxlake.stage import VoiceJob, VoiceOutput

        raw = self.root / "raw" / f"{name}{src.suffix}"
        den, npy = self.root / "den" / f"{name}.flac", self.root / "mel" / f"{name}.npy"
        for d in (raw, den, npy):
            d.parent.mkdir(parents=True, exist_ok=True)

        def raw_stage() -> None:
            hash_file(src)
            measure_audio(src, AudioLimits())
            _copy_into_lake(src, raw)

        def run(fn: Callable[[Any], Any], job: Any) -> Callable[[], None]:
            def call() -> None:
                if not isinstance(fn(job), VoiceOutput):
                    raise SystemExit(f"{fn.__name__} failed on {src}")

            return call

        return {
            "raw": _timed(raw_stage),
            "denoise": _timed(
                run(pipeline.denoise_voice, VoiceJob(name, str(raw), str(den), self.settings))
            ),
            "mel": _timed(run(pipeline.mel_voice, VoiceJob(name, str(den), str(npy), MelConfig()))),
            "embed": _timed(run(pipeline.embed_voice, VoiceJob(name, str(den), "", DEFAULT))),
        }

    def models(self, src: Path, name: str) -> dict[str, float]:
        import soundfile as sf

        from voxlake.audio.decode import read_mono, resample
        from voxlake.embed import ge2e
        from voxlake.features.mel import MelConfig, log_mel

        x, sr = read_mono(src)
        x48 = resample(x, sr, 48_000)
        y, ysr = sf.read(self.root / "den" / f"{name}.flac", dtype="float32")
        y16 = resample(y, ysr, 16_000)
        return {
            "deepfilternet3": _timed(lambda: self.runtime.process(x48)),
            "ge2e": _timed(lambda: ge2e.embed(y16)),
            "mel": _timed(lambda: log_mel(y16, MelConfig())),
        }

    def pristine_penalty(self, src: Path) -> float:
        """Seconds a voice's denoising takes longer through the worker's denoise server (a
        fork: a pristine state) than the same code on this process's warm runtime."""
        from voxlake.audio.fork_server import denoise_with

        out = self.root / "pristine"
        out.mkdir(exist_ok=True)
        src.read_bytes()  # in the page cache for both
        served = _timed(lambda: self.denoiser(src, out / "served.flac"))
        warm = _timed(
            lambda: denoise_with(self.runtime, self.settings.config, src, out / "warm.flac")
        )
        return served - warm


def _stage(r: dict[str, float]) -> float:
    return sum(v for k, v in r.items() if k.startswith("stage_"))


def _model(r: dict[str, float]) -> float:
    return sum(v for k, v in r.items() if not k.startswith("stage_"))


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def pristine_state(worker: Worker, files: list[Path]) -> tuple[float, float]:
    """(fork ms, first-run ms): the server's fork round trip (median of 50), and the rest of
    what the server's path adds to a voice (mean over `files`) beyond its share of that
    round trip."""
    pings = 1000 * statistics.median(worker.denoiser.ping() for _ in range(50))
    penalty = 1000 * statistics.mean(worker.pristine_penalty(f) for f in files)
    return pings, penalty - pings / worker.denoiser.voices_per_fork


def measure(tmp: Path, lengths: list[float], audio_s: float, min_voices: int) -> dict[str, Any]:
    worker = Worker(tmp / "work")
    by_length: dict[float, list[dict[str, float]]] = {}
    speech = ""
    for length in lengths:
        n = max(min_voices, round(audio_s / length))
        src = tmp / f"len{length:g}"
        speech = generate(src, n, (length, length), tag=f"-len{length:g}")
        rows = by_length[length] = []
        for i, f in enumerate(sorted(src.rglob("*.wav"))):
            stages = worker.stages(f, f"{length:g}-{i}")
            models = worker.models(f, f"{length:g}-{i}")
            rows.append({**{f"stage_{k}": v for k, v in stages.items()}, **models})
        _log(f"{length:g} s voices ({speech}): {n}")
    ones = sorted((tmp / "len1").rglob("*.wav")) or sorted(
        (tmp / f"len{lengths[0]:g}").rglob("*.wav")
    )
    fork_ms, first_ms = pristine_state(worker, ones)
    pristine = fork_ms / worker.denoiser.voices_per_fork + first_ms
    per_length = {}
    for length, rows in by_length.items():
        stage_s, model_s = sum(map(_stage, rows)), sum(map(_model, rows))
        per_length[f"{length:g}"] = {
            "voices": len(rows),
            "voices_per_s": round(len(rows) / stage_s, 3),
            "x_realtime": round(len(rows) * length / stage_s, 2),
            # the floor: the models' own calls and a pristine state per voice
            "floor_ratio": round(stage_s / (model_s + len(rows) * pristine / 1000), 3),
            "stage_ms_median": round(1000 * statistics.median(map(_stage, rows)), 1),
            "model_ms_median": round(1000 * statistics.median(map(_model, rows)), 1),
        }
    result: dict[str, Any] = {
        "per_length": per_length,
        "speech": speech,
        "workers": 1,
        "cores": os.cpu_count(),
        "pristine_fork_ms": round(fork_ms, 2),
        "pristine_first_run_ms": round(first_ms, 2),
        "pristine_state_ms": round(pristine, 2),
    }
    one_second = by_length.get(1.0)
    if one_second:
        extra = {  # each stage's time beyond its model (and, for denoise, the pristine state)
            "raw": [r["stage_raw"] for r in one_second],
            "denoise": [
                r["stage_denoise"] - r["deepfilternet3"] - pristine / 1000 for r in one_second
            ],
            "mel": [r["stage_mel"] - r["mel"] for r in one_second],
            "embed": [r["stage_embed"] - r["ge2e"] for r in one_second],
        }
        over = [1000 * (_stage(r) - _model(r)) - pristine for r in one_second]
        result.update(
            voices_1s=len(one_second),
            per_voice_overhead_ms=round(statistics.median(over), 1),
            per_voice_overhead_by_stage_ms={
                k: round(1000 * statistics.median(v), 1) for k, v in extra.items()
            },
        )
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lengths", type=float, nargs="+", default=list(LENGTHS))
    ap.add_argument("--audio-s", type=float, default=48.0, help="audio per length")
    ap.add_argument("--min-voices", type=int, default=3)
    ap.add_argument("--out", type=Path, default=RESULTS / "voice_costs.json")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="voxlake-voice-costs-"))
    try:
        result = measure(tmp, args.lengths, args.audio_s, args.min_voices)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
