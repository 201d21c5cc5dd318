"""The validation ladder, for real: N voices (1-3 s each) through the real pipeline, on this
machine, in batches of 500, the way a user runs it (`voxlake ingest`, then `voxlake run`).

    python benchmarks/ladder_real.py [--voices 10000] [--workers 2] [--lake build/ladder]

The corpus is natural speech where `flite` is installed (its four voices saying Harvard
sentences, cut to 1-3 s), else the demo's synthesizer, mixed with white, pink or hum noise
at 0-20 dB, at 16, 22.05, 44.1 or 48 kHz; every voice is distinct. The run is resumable:
run the script again on the same lake and `voxlake run` picks up the batches not done.

It reports wall time and voices/s, the Dagster overhead of each batch run (the run's wall
time less the time inside its steps, and each step's time outside the stage's own work is
in the stage times), lake size on disk (and per hour of audio, beside the raw input's),
the models' own floor on a sample of the same voices (`--floor-sample`, default 300: each
model alone, warm, over the same number of workers, scaled to the whole corpus by audio
seconds; the pristine denoiser state each voice needs is not counted in it, so this floor
is stricter than the steady state's in `pipeline.py`) and the run against it
(`floor_ratio`), and the latency of `voxlake sql` for
`batch_summary` and `mel_stats_slices.sql` and of `voxlake search`, each as a user would
run it (a fresh process) and in-process. The last line is the JSON, also written to
benchmarks/results/ladder_real.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from voxlake.audio.decode import resample
from voxlake.demo import flite
from voxlake.demo.corpus import make_noise, mix_at_snr, pink_noise
from voxlake.demo.synth import BASE_RATE, Speaker, synthesize
from voxlake.lake.hashing import derive_seed

RESULTS = Path(__file__).parent / "results"
ROOT = Path(__file__).parent.parent
RATES = (16_000, 22_050, 44_100, 48_000)
NOISES = ("white", "pink", "hum")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def generate(src: Path, n: int, seconds: tuple[float, float] = (1.0, 3.0), tag: str = "") -> str:
    """n distinct noisy voices (lengths uniform in `seconds`) with speaker sidecars, in
    folders of 1000; returns the speech source. `tag` seeds a different corpus."""
    natural = flite.available()
    src.mkdir(parents=True, exist_ok=True)
    done = src / ".complete"
    if done.exists() and done.read_text() == f"{n} {seconds} {tag}":
        return "flite" if natural else "synthetic"
    srng = np.random.default_rng(derive_seed("ladder-speakers"))
    speakers = [Speaker.random(f"spk{i:02d}", srng) for i in range(8)]
    pools: dict[str, np.ndarray] = {}
    if natural:
        for v in flite.VOICES:  # each voice's 12 target sentences, one long clean stream
            pools[v] = np.concatenate([flite.utterance(v, t) for t in flite.TARGET_SENTENCES])
    for i in range(n):
        rng = np.random.default_rng(derive_seed(f"ladder-voice{tag}", i))
        sr = RATES[i % len(RATES)]
        length_s = float(rng.uniform(*seconds))
        if natural:
            speaker = flite.VOICES[i % len(flite.VOICES)]
            pool = pools[speaker]
            k = min(int(length_s * flite.RATE), len(pool) - 1)
            start = int(rng.integers(0, len(pool) - k))
            clean = resample(pool[start : start + k].astype(np.float32), flite.RATE, sr)
        else:
            spk = speakers[i % len(speakers)]
            speaker = spk.name
            clean = resample(synthesize(spk, length_s, rng), BASE_RATE, sr)
        clean = clean.astype(np.float64)
        clean = mix_at_snr(clean, pink_noise(len(clean), rng), 50.0)
        noise = make_noise(NOISES[i % len(NOISES)], len(clean), sr, rng, speakers)
        noisy = mix_at_snr(clean, noise, float(rng.uniform(0, 20)))
        noisy *= 0.7 / max(float(np.max(np.abs(noisy))), 1e-9)
        sub = src / f"{i // 1000:03d}"
        sub.mkdir(exist_ok=True)
        sf.write(sub / f"{speaker}_{i:06d}.wav", noisy, sr, subtype="PCM_16")
        (sub / f"{speaker}_{i:06d}.json").write_text(json.dumps({"speaker": speaker}))
        if (i + 1) % 1000 == 0:
            log(f"generated {i + 1}/{n}")
    done.write_text(f"{n} {seconds} {tag}")
    return "flite" if natural else "synthetic"


def voxlake(*args: str, lake: Path, capture: bool = False) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "voxlake.cli", *args, "--lake", str(lake)]
    env = {**os.environ, "VOXLAKE_PROGRESS": "lines"}
    if capture:
        return subprocess.run(cmd, check=True, text=True, capture_output=True, env=env)
    return subprocess.run(cmd, check=True, text=True, env=env)


def timed_run(lake: Path, workers: int) -> dict[str, float]:
    """`voxlake run` under /usr/bin/time -v: wall seconds and peak RSS."""
    cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "voxlake.cli", "run"]
    cmd += ["--lake", str(lake), "--workers", str(workers)]
    t0 = time.perf_counter()
    proc = subprocess.run(
        cmd,
        text=True,
        stderr=subprocess.PIPE,
        env={**os.environ, "VOXLAKE_PROGRESS": "lines"},
    )
    wall = time.perf_counter() - t0
    sys.stderr.write("\n".join(x for x in proc.stderr.splitlines() if "\t" not in x) + "\n")
    rss = [x for x in proc.stderr.splitlines() if "Maximum resident set size" in x]
    if proc.returncode != 0:
        raise SystemExit(f"voxlake run exited {proc.returncode}")
    return {"wall_s": wall, "peak_rss_mb": int(rss[0].split()[-1]) / 1024 if rss else -1.0}


def run_overheads(lake: Path) -> dict[str, object]:
    """Per batch run: wall, time inside steps, and the rest (Dagster's own)."""
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(lake / "dagster"))
    runs = instance.get_runs(filters=dg.RunsFilter(job_name="ingest_batch"))
    walls, inside, steps_by = [], [], {}  # type: ignore[var-annotated]
    for run in runs:
        if run.status != dg.DagsterRunStatus.SUCCESS:
            continue
        stats = instance.get_run_stats(run.run_id)
        if not (stats.start_time and stats.end_time):
            continue
        steps = instance.get_run_step_stats(run.run_id)
        step_s = {s.step_key: (s.end_time or 0) - (s.start_time or 0) for s in steps}
        walls.append(stats.end_time - stats.start_time)
        inside.append(sum(step_s.values()))
        for k, v in step_s.items():
            steps_by.setdefault(k, []).append(v)
    gaps = [w - s for w, s in zip(walls, inside, strict=True)]
    return {
        "batch_runs": len(walls),
        "run_wall_median_s": statistics.median(walls) if walls else None,
        "steps_median_s": {k: round(statistics.median(v), 2) for k, v in sorted(steps_by.items())},
        "dagster_overhead_per_run_median_s": statistics.median(gaps) if gaps else None,
        "dagster_overhead_per_run_max_s": max(gaps) if gaps else None,
    }


def du(path: Path) -> int:
    out = subprocess.run(["du", "-sb", str(path)], text=True, capture_output=True, check=True)
    return int(out.stdout.split()[0])


def query_latency(lake: Path) -> dict[str, float]:
    from voxlake.lake import catalog
    from voxlake.lake.store import Lake

    queries = {
        "batch_summary": "select * from batch_summary",
        "mel_stats_slices": str(ROOT / "sql/queries/mel_stats_slices.sql"),
    }
    out: dict[str, float] = {}
    for name, q in queries.items():
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            voxlake("sql", q, "--format", "csv", lake=lake, capture=True)
            times.append(time.perf_counter() - t0)
        out[f"sql_{name}_cli_s"] = statistics.median(times)
        sql = Path(q).read_text() if q.endswith(".sql") else q
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            catalog.query(Lake(lake), sql)
            times.append(time.perf_counter() - t0)
        out[f"sql_{name}_inprocess_s"] = statistics.median(times)
    voice = catalog.query(Lake(lake), "select voice_id from voices order by voice_id limit 1")[1]
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        voxlake("search", "--voice", str(voice[0][0])[:12], "-k", "10", lake=lake, capture=True)
        times.append(time.perf_counter() - t0)
    out["search_cli_s"] = statistics.median(times)
    return out


def floor_on_sample(lake: Path, sample: int, workers: int) -> dict[str, float]:
    """The models alone on `sample` voices of the lake (every k-th by voice_id), warm, over
    `workers` processes; scaled to every voice of the lake by audio seconds."""
    from pipeline import load_inputs, models_alone

    inputs = load_inputs(lake, sample)
    alone = models_alone(inputs, workers, dnsmos_too=False)
    sample_s = sum(len(x) for x in inputs["raw48k"]) / 48_000
    floor = alone["deepfilternet3"] + alone["ge2e"] + alone["mel"]
    return {
        "floor_sample_voices": len(inputs["raw48k"]),
        "floor_sample_s": floor,
        "floor_sample_audio_s": sample_s,
        **{f"floor_{k}_s": v for k, v in alone.items()},
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--floor-sample", type=int, default=300)
    ap.add_argument("--voices", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--lake", type=Path, default=ROOT / "build/ladder/lake")
    ap.add_argument("--src", type=Path, default=None)
    args = ap.parse_args()
    args.lake = args.lake.resolve()
    src = args.src or args.lake.parent / "voices"
    t0 = time.perf_counter()
    speech = generate(src, args.voices)
    gen_s = time.perf_counter() - t0
    audio_s = sum(sf.info(p).duration for p in sorted(src.rglob("*.wav")))
    log(f"corpus: {args.voices} voices, {audio_s / 3600:.2f} h of {speech} speech")
    t0 = time.perf_counter()
    resumed = (args.lake / "batches").exists()
    if not resumed:
        voxlake("ingest", str(src), lake=args.lake)
    ingest_s = time.perf_counter() - t0
    log(f"ingest by reference: {ingest_s:.1f} s")
    run = timed_run(args.lake, args.workers)
    log(f"voxlake run: {run['wall_s']:.1f} s, peak RSS {run['peak_rss_mb']:.0f} MB")
    from voxlake.lake import catalog
    from voxlake.lake.store import Lake

    n_voices = catalog.query(Lake(args.lake), "select count(*) from voices")[1][0][0]
    lake_audio_s = catalog.query(Lake(args.lake), "select sum(duration_s) from voices")[1][0][0]
    floor = floor_on_sample(args.lake, args.floor_sample, args.workers)
    floor_s = floor["floor_sample_s"] * lake_audio_s / floor["floor_sample_audio_s"]
    log(f"models' floor on {floor['floor_sample_voices']} voices: {floor_s:.1f} s for the corpus")
    lake_bytes = du(args.lake)
    raw_bytes = sum(p.stat().st_size for p in src.rglob("*.wav"))
    result = {
        "voices": args.voices,
        "resumed": resumed,  # a resumed run's wall time covers only what was left
        "voices_in_lake": n_voices,
        "audio_h": round(audio_s / 3600, 3),
        "speech": speech,
        "workers": args.workers,
        "batch_size": 500,
        "generate_s": round(gen_s, 1),
        "ingest_s": round(ingest_s, 1),
        "run_wall_s": round(run["wall_s"], 1),
        "voices_per_s": round(args.voices / (run["wall_s"] + ingest_s), 2),
        "x_realtime": round(audio_s / (run["wall_s"] + ingest_s), 2),
        "model_floor_s": round(floor_s, 1),
        "floor_ratio": round((run["wall_s"] + ingest_s) / floor_s, 3),
        "floor": {k: round(v, 2) for k, v in floor.items()},
        "peak_rss_mb": round(run["peak_rss_mb"]),
        **run_overheads(args.lake),
        "lake_bytes": lake_bytes,
        "lake_bytes_per_voice": round(lake_bytes / max(n_voices, 1)),
        "raw_bytes": raw_bytes,
        "lake_bytes_per_audio_hour": round(lake_bytes / (audio_s / 3600)),
        "raw_bytes_per_audio_hour": round(raw_bytes / (audio_s / 3600)),
        "lake_over_raw": round(lake_bytes / raw_bytes, 3),
        "lake_bytes_by_folder": {p.name: du(p) for p in sorted(args.lake.iterdir()) if p.is_dir()},
        **{k: round(v, 3) for k, v in query_latency(args.lake).items()},
        "cores": os.cpu_count(),
    }
    RESULTS.mkdir(exist_ok=True)
    name = "ladder_real.json" if args.voices >= 10_000 else "ladder_real_quick.json"
    (RESULTS / name).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
