"""The pipeline against its models' own floor: `voxlake run` end to end, and each model
alone on the same audio with the same number of workers.

    python benchmarks/pipeline.py [--voices 300] [--workers 2] [--quick] [--floor-only]
    python benchmarks/pipeline.py --steady-only [--batches 3] [--batch-audio-s 1000]

One corpus (natural speech where `flite` is installed, else the synthesizer; 2-8 s voices
at 16-48 kHz with white, pink or hum noise) goes through `voxlake run` three times, each
on a fresh lake: DNSMOS off, `exact` and `fast`. Then each model alone, the way its
library runs fastest here (one reused, warm instance per worker; inputs decoded and
resampled beforehand, outside the timing), over `--workers` processes:
- DeepFilterNet3's runtime on the 48 kHz raw signal;
- the GE2E encoder (voxlake's front end and resemblyzer's network) on the denoised 16 kHz
  signal;
- the log-mel extractor on the denoised 16 kHz signal;
- DNSMOS's ONNX model on exactly the windows `exact` scores (before and after).

Keys: `x_realtime`; `model_floor_s` (DeepFilterNet3 + GE2E + mel) and `floor_ratio`
(`voxlake run` with DNSMOS off over it); `stage_floor_ratio` (the four batch stages'
time inside Dagster over it, leaving out the process start, imports and the dataset
step); `limit_fraction` (DeepFilterNet3 alone over the run); `dnsmos_overhead`,
`dnsmos_floor_ratio` (the extra time over the ONNX model's own), `dnsmos_fast_overhead`,
`dnsmos_fast_ovrl_mae`, `dnsmos_fast_ovrl_max_diff`; per-stage times; per-voice overhead
for 0.6 s voices (a second corpus); peak RSS.

The steady state (`steady_figures`, also in every run of this script): two corpora, 1-3 s
and 2-8 s voices, each cut into `--batches` batches (at least 3) of about
`--batch-audio-s` of audio (1,000 s: the default batch of 500 voices of 2 s), go through
one `voxlake run` each. Its wall time splits into the batch runs (Dagster's own
start and end of each) and `fixed_cost_s`, what the run pays once: the process start and
imports up to the first batch's run, the gaps between runs, the dataset run (mel
statistics and the voice index) and the exit. `floor_ratio_short` and
`floor_ratio_steady` are batch runs 2..N over their floor: each model alone, warm, on
exactly those batches' voices, over the same workers, and `pristine_state_ms` per voice.
The models alone are timed twice, just before the run and just after it, and the floor is
their mean: this shared machine's speed drifts by 10 % over minutes, and a floor timed
on one side of a 2-minute run carried that drift into the ratio (the same code gave
1.08-1.28 on the 2-8 s corpus). Before the run the denoised voices do not exist yet, so
GE2E and the mel extractor are timed on the raw voices at 16 kHz, of the same length (the
denoised voice is stored at the raw voice's rate; the models' cost depends on the length
alone). `floor_ratio_before` and `floor_ratio_after` show the spread.
`per_voice_overhead_ms` and `pristine_state_ms` come from `voice_costs.py` on 1 s voices
(`--cost-voices`). `floor_ratio_short_pristine_measured` and
`floor_ratio_steady_pristine_measured` count the pristine states otherwise: on the steady
batches' own voices, at the same workers, side by side with the models (DeepFilterNet3
from a fork of a denoise server, less DeepFilterNet3 warm), for a pristine state costs
more on a longer voice and with every core busy than `pristine_state_ms` does alone.
The last line is the JSON, also written to benchmarks/results/pipeline[_quick].json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ladder_real import generate

from voxlake.audio import dnsmos
from voxlake.audio.decode import resample
from voxlake.audio.denoise import SAMPLE_RATE as DF_RATE
from voxlake.audio.denoise import DeepFilterRuntime
from voxlake.audio.fork_server import ForkingDenoiser, PristineRuntime
from voxlake.embed import ge2e
from voxlake.features.mel import MelConfig, log_mel

RESULTS = Path(__file__).parent / "results"
STAGES = ("raw_voices", "denoised_voices", "voice_mel_stats", "voice_embeddings")


def cli_env() -> dict[str, str]:
    """The environment a benchmark runs the `voxlake` CLI in: each lake its own Dagster
    instance (no DAGSTER_HOME), no progress lines."""
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env["VOXLAKE_PROGRESS"] = "off"
    return env


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run_pipeline(src: Path, lake: Path, workers: int, dnsmos_mode: str) -> dict[str, Any]:
    """`voxlake ingest` + `voxlake run` on a fresh lake: wall, peak RSS, step times."""
    shutil.rmtree(lake, ignore_errors=True)
    env = cli_env()
    cli = [sys.executable, "-m", "voxlake.cli"]
    subprocess.run(
        [*cli, "ingest", str(src), "--lake", str(lake)], check=True, env=env, capture_output=True
    )
    cmd = ["/usr/bin/time", "-v", *cli, "run", "--lake", str(lake), "--workers", str(workers)]
    if dnsmos_mode != "off":
        cmd += ["--dnsmos", dnsmos_mode]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, text=True, capture_output=True, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"voxlake run failed:\n{proc.stdout}\n{proc.stderr}")
    rss = [x for x in proc.stderr.splitlines() if "Maximum resident set size" in x]
    return {"wall_s": wall, "peak_rss_mb": int(rss[0].split()[-1]) / 1024, **steps(lake)}


def steps(lake: Path) -> dict[str, Any]:
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(lake / "dagster"))
    out: dict[str, float] = {}
    for run in instance.get_runs():
        for s in instance.get_run_step_stats(run.run_id):
            key = s.step_key
            out[key] = out.get(key, 0.0) + (s.end_time or 0) - (s.start_time or 0)
    return {"steps_s": out}


def dnsmos_ovrl(lake: Path) -> dict[str, float]:
    from voxlake.lake import catalog
    from voxlake.lake.store import Lake

    _, rows = catalog.query(
        Lake(lake), "select voice_id, dnsmos_ovrl_in, dnsmos_ovrl_out from denoise_metrics"
    )
    return {f"{v}:{k}": x for v, i, o in rows for k, x in (("in", i), ("out", o))}


# the models alone ----------------------------------------------------------------------

_INPUTS: dict[str, list[np.ndarray]] = {}


def _warm(_: int) -> int:
    ge2e.embed(np.zeros(16_000, np.float32))
    dnsmos._session()
    _runtime()
    _forking().ping()
    return os.getpid()


_RT: list[DeepFilterRuntime] = []


def _runtime() -> DeepFilterRuntime:
    if not _RT:
        _RT.append(DeepFilterRuntime())
    return _RT[0]


def _df(i: int) -> float:
    t0 = time.perf_counter()
    _runtime().process(_INPUTS["raw48k"][i])
    return time.perf_counter() - t0


_FORKING: list[ForkingDenoiser] = []


def _forking() -> ForkingDenoiser:
    if not _FORKING:
        _FORKING.append(ForkingDenoiser())
    return _FORKING[0]


def _df_pristine(i: int) -> float:
    """The model on the same 48 kHz samples from a pristine state: a never-run runtime of a
    fork of the worker's denoise server, as the pipeline gets one (no file, no resampling:
    the model alone)."""
    x, denoiser = _INPUTS["raw48k"][i], _forking()
    n, delay = denoiser.frame_length, denoiser.delay
    padded = np.zeros(len(x) + delay + (-(len(x) + delay)) % n, np.float32)
    padded[: len(x)] = x

    def run(sock: Any) -> None:
        model = PristineRuntime(sock, n, delay)
        model.process_frames(padded)
        model.finish()

    t0 = time.perf_counter()
    denoiser.with_fork(run)
    return time.perf_counter() - t0


def _ge2e(i: int) -> float:
    t0 = time.perf_counter()
    ge2e.embed(_INPUTS["den16k"][i])
    return time.perf_counter() - t0


def _mel(i: int) -> float:
    t0 = time.perf_counter()
    log_mel(_INPUTS["den16k"][i], MelConfig())
    return time.perf_counter() - t0


def _windows(x: np.ndarray) -> list[np.ndarray]:
    audio = np.clip(np.asarray(x, dtype=np.float32), -1.0, 1.0)
    while len(audio) < dnsmos.NEED:
        audio = np.concatenate([audio, audio])
    return [audio[s : s + dnsmos.NEED] for s in dnsmos.window_starts(len(audio), "exact")]


def _dnsmos(i: int) -> float:
    sess = dnsmos._session()
    segs = _windows(_INPUTS["raw16k"][i]) + _windows(_INPUTS["den16k"][i])
    t0 = time.perf_counter()
    for seg in segs:
        sess.run(None, {"input_1": seg[np.newaxis, :]})
    return time.perf_counter() - t0


def models_alone(
    inputs: dict[str, list[np.ndarray]],
    workers: int,
    dnsmos_too: bool = True,
    pristine_too: bool = False,
) -> dict[str, float]:
    """Wall seconds of each model over every voice, on `workers` warm processes (with
    `pristine_too`, DeepFilterNet3 also from a pristine state, a fork per voice)."""
    _INPUTS.update(inputs)  # inherited by the forked workers
    n = len(inputs["raw48k"])
    out = {}
    models = [("deepfilternet3", _df), ("ge2e", _ge2e), ("mel", _mel)]
    if dnsmos_too:
        models.append(("dnsmos_exact", _dnsmos))
    if pristine_too:
        models.append(("deepfilternet3_pristine", _df_pristine))
    with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
        list(pool.map(_warm, range(workers * 4)))
        for name, fn in models:
            t0 = time.perf_counter()
            list(pool.map(fn, range(n), chunksize=1))
            out[name] = time.perf_counter() - t0
    return out


def load_inputs(
    lake: Path, sample: int | None = None, batches: list[str] | None = None
) -> dict[str, list[np.ndarray]]:
    """The raw voices at 48 and 16 kHz and their denoised output at 16 kHz (from the lake);
    with `sample`, about that many of them, every k-th by voice_id; with `batches`, only
    those batches' voices."""
    from voxlake.lake import catalog
    from voxlake.lake.store import Lake

    where = ""
    if batches is not None:
        where = "where r.batch in (" + ", ".join(f"'{b}'" for b in batches) + ") "
    _, rows = catalog.query(
        Lake(lake),
        "select r.raw_path, d.denoised_path from voices r join denoise_metrics d "
        f"using (voice_id) {where}order by voice_id",
    )
    if sample and len(rows) > sample:
        rows = rows[:: len(rows) // sample][:sample]
    raw48, raw16, den16 = [], [], []
    for raw, denoised in rows:
        x48, x16 = _raw_voice(lake / raw)
        raw48.append(x48)
        raw16.append(x16)
        y, ysr = sf.read(lake / denoised, dtype="float32")
        den16.append(resample(y, ysr, 16_000).astype(np.float32))
    return {"raw48k": raw48, "raw16k": raw16, "den16k": den16}


def load_raw_inputs(paths: list[str]) -> dict[str, list[np.ndarray]]:
    """The raw voices at 48 and 16 kHz; the raw voice at 16 kHz also stands in for the
    denoised one (as long: the models' cost depends on the length alone)."""
    raw48, raw16 = [], []
    for path in sorted(paths):
        x48, x16 = _raw_voice(Path(path))
        raw48.append(x48)
        raw16.append(x16)
    return {"raw48k": raw48, "raw16k": raw16, "den16k": raw16}


def _raw_voice(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A raw voice, mono, at the denoiser's 48 kHz and at 16 kHz."""
    x, sr = sf.read(path, dtype="float32", always_2d=True)
    mono = x.mean(axis=1)
    return (
        resample(mono, sr, DF_RATE).astype(np.float32),
        resample(mono, sr, 16_000).astype(np.float32),
    )


def audio_seconds(src: Path) -> float:
    return sum(sf.info(p).duration for p in src.rglob("*.wav"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--voices", type=int, default=300)
    ap.add_argument("--short-voices", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument(
        "--floor-only",
        action="store_true",
        help="only the run without DNSMOS and the models alone (pipeline_floor_N.json)",
    )
    ap.add_argument("--steady-only", action="store_true", help="only the steady state")
    ap.add_argument("--batches", type=int, default=3, help="batches per steady corpus (>= 3)")
    ap.add_argument("--batch-audio-s", type=float, default=1000.0, help="audio per batch")
    ap.add_argument("--cost-voices", type=int, default=60, help="1 s voices for the costs")
    args = ap.parse_args()
    if args.quick:
        args.voices, args.short_voices = 24, 24
        args.batches, args.batch_audio_s, args.cost_voices = 3, 40.0, 20
    if args.batches < 3:
        ap.error("--batches: at least 3 (the steady state is batches 2..N)")
    tmp = Path(tempfile.mkdtemp(prefix="voxlake-pipeline-bench-"))
    try:
        if args.floor_only:
            result = measure_floor(tmp, args.voices, args.workers)
        elif args.steady_only:
            result = {}
        else:
            result = measure(tmp, args.voices, args.short_voices, args.workers)
        if not args.floor_only:
            result.update(
                steady_figures(
                    tmp, args.batches, args.batch_audio_s, args.workers, args.cost_voices
                )
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result["quick"] = args.quick
    RESULTS.mkdir(exist_ok=True)
    name = "pipeline_quick.json" if args.quick else "pipeline.json"
    if args.steady_only:
        name = f"pipeline_steady{'_quick' if args.quick else ''}.json"
    if args.floor_only:
        name = f"pipeline_floor_{args.voices}{'_quick' if args.quick else ''}.json"
    (RESULTS / name).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


def run_timeline(lake: Path) -> list[dict[str, Any]]:
    """Every Dagster run of the lake, in start order: job, batch, start and end (epoch s)."""
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(lake / "dagster"))
    out = []
    for run in instance.get_runs():
        stats = instance.get_run_stats(run.run_id)
        out.append(
            {
                "job": run.job_name,
                "batch": run.tags.get("dagster/partition"),
                "start": stats.start_time,
                "end": stats.end_time,
            }
        )
    return sorted(out, key=lambda r: r["start"])


def whole_run(run: list[str], src: Path, lake: Path, env: dict[str, str]) -> dict[str, Any]:
    """A fresh lake ingested from `src`, then the command `run` (a `voxlake run` of it): the
    wall time, each batch run's wall (Dagster's start and end) and `steady_s`, batch runs
    2..N. For scripts that alternate whole runs in pairs."""
    shutil.rmtree(lake, ignore_errors=True)
    ingest = [sys.executable, "-m", "voxlake.cli", "ingest", str(src), "--lake", str(lake)]
    subprocess.run(ingest, check=True, env=env, capture_output=True)
    t0 = time.time()
    proc = subprocess.run(run, env=env, capture_output=True, text=True)
    wall = time.time() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(run)} failed\n{proc.stdout}\n{proc.stderr}")
    walls = [r["end"] - r["start"] for r in run_timeline(lake) if r["job"] == "ingest_batch"]
    return {
        "wall_s": round(wall, 2),
        "batch_run_s": [round(w, 2) for w in walls],
        "steady_s": round(sum(walls[1:]), 2),
    }


def paired_ratios(runs: list[dict[str, Any]], side: str, base: str) -> dict[str, Any]:
    """`side` over `base` in each pair of `whole_run`s (rows with `pair` and `side`), for
    the steady batches and the whole run, and their medians."""
    by = {(r["pair"], r["side"]): r for r in runs}
    pairs = sorted({r["pair"] for r in runs})
    if len(runs[0]["batch_run_s"]) < 2:
        raise SystemExit("the steady state needs 2 batches or more: --voices above 500")

    def ratios(key: str) -> list[float]:
        return [round(by[p, side][key] / by[p, base][key], 3) for p in pairs]

    steady, wall = ratios("steady_s"), ratios("wall_s")
    return {
        "batches": len(runs[0]["batch_run_s"]),
        "steady_ratio": steady,
        "steady_ratio_median": round(statistics.median(steady), 3),
        "wall_ratio": wall,
        "wall_ratio_median": round(statistics.median(wall), 3),
    }


def measure_steady(
    tmp: Path,
    name: str,
    seconds: tuple[float, float],
    batches: int,
    per_batch: int,
    workers: int,
    pristine_ms: float,
) -> dict[str, Any]:
    """One `voxlake run` over `batches` batches: its fixed cost, and batch runs 2..N against
    their floor: the models alone on exactly their voices, and a pristine state per voice."""
    from voxlake.ingest.inbox import scan_inbox
    from voxlake.lake.store import Lake

    src, lake = tmp / f"steady-{name}", tmp / f"lake-steady-{name}"
    generate(src, batches * per_batch, seconds, tag=f"-steady-{name}")
    env = cli_env()
    cli = [sys.executable, "-m", "voxlake.cli"]
    subprocess.run([*cli, "ingest", str(src), "--lake", str(lake)], check=True, env=env)
    scan = scan_inbox(Lake(lake), per_batch)  # the batches, cut as a lake's batch_size cuts them
    steady_files = [f.path for m in scan.new_batches[1:] for f in m.files]
    before = models_alone(load_raw_inputs(steady_files), workers, False, pristine_too=True)
    t0 = time.time()
    proc = subprocess.run(
        [*cli, "run", "--lake", str(lake), "--workers", str(workers)],
        env=env,
        capture_output=True,
        text=True,
    )
    t1 = time.time()
    if proc.returncode != 0:
        raise SystemExit(f"voxlake run failed:\n{proc.stdout}\n{proc.stderr}")
    runs = run_timeline(lake)
    batch_runs = [r for r in runs if r["job"] == "ingest_batch"]
    if len(batch_runs) != batches:
        raise SystemExit(f"{len(batch_runs)} batch runs, not {batches}")
    walls = [r["end"] - r["start"] for r in batch_runs]
    other = [r for r in runs if r["job"] != "ingest_batch"]
    gaps = sum(max(0.0, b["start"] - a["end"]) for a, b in itertools.pairwise(runs))
    fixed = {
        "start_to_first_run_s": runs[0]["start"] - t0,  # interpreter, imports, instance, scan
        "between_runs_s": gaps,  # the CLI between runs: run creation, partition checks
        "dataset_run_s": sum(r["end"] - r["start"] for r in other),
        "last_run_to_exit_s": t1 - runs[-1]["end"],  # the report, pool shutdown, exit
    }
    wall = t1 - t0
    steady = [r["batch"] for r in batch_runs[1:]]
    inputs = load_inputs(lake, batches=steady)
    if len(inputs["raw48k"]) != len(steady_files):
        raise SystemExit(f"{len(inputs['raw48k'])} steady voices, not {len(steady_files)}")
    after = models_alone(inputs, workers, dnsmos_too=False, pristine_too=True)
    alone = {k: (before[k] + after[k]) / 2 for k in after}  # the drift, halved
    pristine_s = len(inputs["raw48k"]) * pristine_ms / 1000 / workers

    def models_s(timed: dict[str, float]) -> float:
        return timed["deepfilternet3"] + timed["ge2e"] + timed["mel"]

    models = models_s(alone)
    floor = models + pristine_s
    # the pristine states of these voices at these workers, measured side by side
    measured = alone["deepfilternet3_pristine"] - alone["deepfilternet3"]
    out = {
        "voices": batches * per_batch,
        "batches": batches,
        "seconds": list(seconds),
        "wall_s": round(wall, 2),
        "batch_run_s": [round(w, 2) for w in walls],
        "fixed_cost_s": round(wall - sum(walls), 2),
        "fixed_cost_parts_s": {k: round(v, 2) for k, v in fixed.items()},
        "accounted": round((sum(walls) + sum(fixed.values())) / wall, 4),
        "steady_model_floor_s": round(floor, 2),
        "steady_models_alone_s": {k: round(v, 2) for k, v in alone.items()},
        "steady_models_alone_before_s": {k: round(v, 2) for k, v in before.items()},
        "steady_models_alone_after_s": {k: round(v, 2) for k, v in after.items()},
        "steady_pristine_s": round(pristine_s, 2),
        "floor_ratio": round(sum(walls[1:]) / floor, 3),
        "floor_ratio_before": round(sum(walls[1:]) / (models_s(before) + pristine_s), 3),
        "floor_ratio_after": round(sum(walls[1:]) / (models_s(after) + pristine_s), 3),
        "steady_pristine_measured_s": round(measured, 2),
        "floor_ratio_pristine_measured": round(sum(walls[1:]) / (models + measured), 3),
    }
    log(f"steady {name}: {out}")
    return out


def steady_figures(
    tmp: Path, batches: int, batch_audio_s: float, workers: int, cost_voices: int
) -> dict[str, Any]:
    """The five keys of the steady state, with what they are made of."""
    from voice_costs import measure as voice_costs

    costs = voice_costs(tmp / "costs", [1.0], cost_voices, cost_voices)
    pristine = costs["pristine_state_ms"]
    runs = {}
    for name, seconds in (("short", (1.0, 3.0)), ("steady", (2.0, 8.0))):
        per_batch = round(batch_audio_s / (sum(seconds) / 2))
        runs[name] = measure_steady(tmp, name, seconds, batches, per_batch, workers, pristine)
    short, steady = runs["short"], runs["steady"]
    return {
        "per_voice_overhead_ms": costs["per_voice_overhead_ms"],
        "pristine_state_ms": costs["pristine_state_ms"],
        "floor_ratio_short": short["floor_ratio"],
        "floor_ratio_steady": steady["floor_ratio"],
        "fixed_cost_s": max(short["fixed_cost_s"], steady["fixed_cost_s"]),
        # the floor with each batch's pristine states measured on its own voices and
        # workers (the model from a fork, less the model warm), not `pristine_state_ms`
        "floor_ratio_short_pristine_measured": short["floor_ratio_pristine_measured"],
        "floor_ratio_steady_pristine_measured": steady["floor_ratio_pristine_measured"],
        "steady_runs": {"short": short, "steady": steady},
        "voice_costs_1s": costs,
    }


def stage_time(run: dict[str, Any]) -> float:
    return float(sum(run["steps_s"].get(s, 0.0) for s in STAGES))


def measure_floor(tmp: Path, n: int, workers: int) -> dict[str, Any]:
    """The run without DNSMOS against its models' floor, alone: how the fixed costs of a
    run (imports, worker start, model loads) amortise as the corpus grows."""
    src = tmp / "voices"
    speech = generate(src, n, (2.0, 8.0), tag="-pipeline")
    audio_s = audio_seconds(src)
    log(f"corpus: {n} voices, {audio_s:.0f} s of {speech} speech; {workers} workers")
    off = run_pipeline(src, tmp / "lake-off", workers, "off")
    log(f"voxlake run, DNSMOS off: {off['wall_s']:.1f} s")
    alone = models_alone(load_inputs(tmp / "lake-off"), workers, dnsmos_too=False)
    log("models alone: " + ", ".join(f"{k} {v:.1f} s" for k, v in alone.items()))
    return {
        **floor_figures(n, audio_s, speech, workers, off, alone),
        "peak_rss_mb": round(off["peak_rss_mb"]),
    }


def floor_figures(
    n: int,
    audio_s: float,
    speech: str,
    workers: int,
    off: dict[str, Any],
    alone: dict[str, float],
) -> dict[str, Any]:
    """The keys of the run without DNSMOS against its models' floor."""
    floor = alone["deepfilternet3"] + alone["ge2e"] + alone["mel"]
    return {
        "voices": n,
        "audio_s": round(audio_s, 1),
        "speech": speech,
        "workers": workers,
        "cores": os.cpu_count(),
        "run_s": round(off["wall_s"], 2),
        "x_realtime": round(audio_s / off["wall_s"], 2),
        "model_floor_s": round(floor, 2),
        "models_alone_s": {k: round(v, 2) for k, v in alone.items()},
        "floor_ratio": round(off["wall_s"] / floor, 3),
        "stage_floor_ratio": round(stage_time(off) / floor, 3),
        "limit_fraction": round(alone["deepfilternet3"] / off["wall_s"], 3),
        "stage_s": {k: round(v, 2) for k, v in sorted(off["steps_s"].items())},
    }


def measure(tmp: Path, n: int, n_short: int, workers: int) -> dict[str, Any]:
    src, short = tmp / "voices", tmp / "short"
    speech = generate(src, n, (2.0, 8.0), tag="-pipeline")
    generate(short, n_short, (0.6, 0.6), tag="-short")
    audio_s = audio_seconds(src)
    log(f"corpus: {n} voices, {audio_s:.0f} s of {speech} speech; {workers} workers")
    runs: dict[str, dict[str, Any]] = {}
    for mode in ("off", "exact", "fast"):
        runs[mode] = run_pipeline(src, tmp / f"lake-{mode}", workers, mode)
        log(f"voxlake run, DNSMOS {mode}: {runs[mode]['wall_s']:.1f} s")
    alone = models_alone(load_inputs(tmp / "lake-off"), workers)
    log("models alone: " + ", ".join(f"{k} {v:.1f} s" for k, v in alone.items()))
    runs["short"] = run_pipeline(short, tmp / "lake-short", workers, "off")
    short_inputs = load_inputs(tmp / "lake-short")
    short_alone = models_alone(short_inputs, workers)
    short_floor = short_alone["deepfilternet3"] + short_alone["ge2e"] + short_alone["mel"]
    off, exact, fast = runs["off"], runs["exact"], runs["fast"]
    exact_ovrl, fast_ovrl = dnsmos_ovrl(tmp / "lake-exact"), dnsmos_ovrl(tmp / "lake-fast")
    diffs = [abs(fast_ovrl[k] - exact_ovrl[k]) for k in exact_ovrl]
    dnsmos_extra = exact["wall_s"] - off["wall_s"]
    return {
        **floor_figures(n, audio_s, speech, workers, off, alone),
        "dnsmos_exact_run_s": round(exact["wall_s"], 2),
        "dnsmos_overhead": round(dnsmos_extra / off["wall_s"], 3),
        "dnsmos_floor_ratio": round(dnsmos_extra / alone["dnsmos_exact"], 3),
        "dnsmos_fast_run_s": round(fast["wall_s"], 2),
        "dnsmos_fast_overhead": round((fast["wall_s"] - off["wall_s"]) / off["wall_s"], 3),
        "dnsmos_fast_ovrl_mae": round(statistics.mean(diffs), 4),
        "dnsmos_fast_ovrl_max_diff": round(max(diffs), 4),
        "short_voices": n_short,
        "short_voice_s": 0.6,
        "per_voice_overhead_ms_0_6s": round(
            1000 * workers * (stage_time(runs["short"]) - short_floor) / n_short, 1
        ),
        "short_stage_s": round(stage_time(runs["short"]), 2),
        "short_model_floor_s": round(short_floor, 2),
        "peak_rss_mb": round(max(r["peak_rss_mb"] for r in runs.values())),
    }


if __name__ == "__main__":
    main()
