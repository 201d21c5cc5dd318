"""Where a steady batch's time goes: the CPU of one `voxlake run` over batches 2..N, by
process, against the models' own CPU on the same voices.

    python benchmarks/steady_split.py [--voices 1500] [--seconds 1 3] [--workers 2]

A corpus of 1-3 s voices (3 batches of the lake's 500) goes through `voxlake run` while
this script reads, five times a second, the machine's CPU counters (/proc/stat) and those
of the run's own processes: the CLI (`main`: Dagster, the raw step, tables, checks,
lineage, pictures), the pool's workers (decoding, resampling, FLAC, hashing, the GE2E and
mel models) and their denoise servers. The forks that run DeepFilterNet3 live for eight
voices each; their CPU is what the machine spent beyond those processes, this script and
the idle time (so it also holds any other tenant of a shared machine). After the run, the
models alone are timed on the same voices over the same workers (`pipeline.models_alone`):
DeepFilterNet3 (with a pristine state per voice), GE2E and the log-mel extractor.

Keys, per steady batch and in CPU seconds: `cpu_s` by process kind, `idle_s`, and
`models_cpu_s` (the models alone, their wall time times the workers); `split` sets the
batch's CPU (and idle) against the models: DeepFilterNet3 in the forks, the workers beyond
their models, the CLI, the servers, idle. The last line is the JSON, also written to
benchmarks/results/steady_split.json. `by_step` splits a steady batch by Dagster step (from
the run's step records): the wall time, idle and CPU by process kind inside each step, and
`outside_steps`, the run's time in no step (its start and end, the gaps between steps).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy: the models alone, one thread each
sys.path.insert(0, str(Path(__file__).resolve().parent))

RESULTS = Path(__file__).parent / "results"
HZ = os.sysconf("SC_CLK_TCK")


def _cpu(pid: int) -> float | None:
    """User + system CPU seconds of a live process."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / HZ


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            out += [int(c) for c in (task / "children").read_text().split()]
    return out


def _machine() -> tuple[float, float]:
    """(busy, idle) CPU seconds of the whole machine so far."""
    f = [int(x) / HZ for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = f[3] + f[4]
    return sum(f) - idle, idle


def _self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def sample(proc: subprocess.Popen[bytes]) -> list[dict[str, Any]]:
    """Five times a second until the run ends: the machine's counters, this script's CPU,
    and each of the run's long-lived processes' CPU by kind."""
    kinds: dict[int, str] = {proc.pid: "main"}
    rows = []
    while proc.poll() is None:
        for pid in [p for p, k in kinds.items() if k in ("main", "worker")]:
            for child in _children(pid):
                if child not in kinds:
                    try:
                        cmd = Path(f"/proc/{child}/cmdline").read_bytes()
                    except OSError:
                        continue
                    if b"fork_model" in cmd:
                        kinds[child] = "server"
                    elif b"resource_tracker" in cmd:
                        kinds[child] = "tracker"
                    else:
                        kinds[child] = "worker" if pid == proc.pid else "other"
        procs = {}
        for pid, kind in kinds.items():
            cpu = _cpu(pid)
            if cpu is not None:
                procs[pid] = (kind, cpu)
        busy, idle = _machine()
        rows.append({"t": time.time(), "busy": busy, "idle": idle, "me": _self_cpu(), "p": procs})
        time.sleep(0.2)
    return rows


def _at(rows: list[dict[str, Any]], t: float) -> dict[str, Any]:
    """The counters at time `t`, interpolated between the two samples around it."""
    i = max(
        1, min(len(rows) - 1, next((i for i, r in enumerate(rows) if r["t"] >= t), len(rows) - 1))
    )
    a, b = rows[i - 1], rows[i]
    w = min(1.0, max(0.0, (t - a["t"]) / (b["t"] - a["t"]))) if b["t"] > a["t"] else 1.0

    def mix(x: float, y: float) -> float:
        return x + w * (y - x)

    procs = {
        pid: (kind, mix(a["p"].get(pid, (kind, 0.0))[1], cpu))
        for pid, (kind, cpu) in b["p"].items()
    }
    return {
        "t": t,
        "busy": mix(a["busy"], b["busy"]),
        "idle": mix(a["idle"], b["idle"]),
        "me": mix(a["me"], b["me"]),
        "p": procs,
    }


def window(rows: list[dict[str, Any]], start: float, end: float) -> dict[str, float]:
    first, last = _at(rows, start), _at(rows, end)
    by: dict[str, float] = {}
    for pid, (kind, cpu) in last["p"].items():
        before = first["p"].get(pid, (kind, 0.0))[1]
        by[kind] = by.get(kind, 0.0) + cpu - before
    busy = last["busy"] - first["busy"]
    this = last["me"] - first["me"]
    known = sum(by.values())
    return {
        **by,
        "forks_and_rest": busy - known - this,
        "this_script": this,
        "idle": last["idle"] - first["idle"],
        "wall": last["t"] - first["t"],
    }


def step_windows(lake: Path) -> dict[str, list[tuple[str, float, float]]]:
    """Each batch run's steps: (step key, start, end), from the lake's Dagster instance."""
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(lake / "dagster"))
    out = {}
    for run in instance.get_runs():
        if run.job_name != "ingest_batch":
            continue
        steps = instance.get_run_step_stats(run.run_id)
        out[run.tags["dagster/partition"]] = sorted(
            ((s.step_key, s.start_time, s.end_time) for s in steps if s.start_time and s.end_time),
            key=lambda x: x[1],
        )
    return out


def by_step(
    rows: list[dict[str, Any]], whole: dict[str, float], steps: list[tuple[str, float, float]]
) -> dict[str, dict[str, float]]:
    """A batch run's CPU and idle (`whole`, its window) split by step; what falls outside
    every step (the run's start and end, the gaps between steps) is `outside_steps`."""
    out: dict[str, dict[str, float]] = {}
    for key, start, end in steps:
        out[key] = window(rows, start, end)
    rest = {k: whole[k] - sum(o.get(k, 0.0) for o in out.values()) for k in whole}
    out["outside_steps"] = rest
    return out


def main() -> None:
    from ladder_real import generate
    from pipeline import cli_env, load_inputs, models_alone, run_timeline

    ap = argparse.ArgumentParser()
    ap.add_argument("--voices", type=int, default=1500)
    ap.add_argument("--seconds", type=float, nargs=2, default=(1.0, 3.0))
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="voxlake-steady-split-"))
    env = cli_env()
    cli = [sys.executable, "-m", "voxlake.cli"]
    try:
        src, lake = tmp / "src", tmp / "lake"
        speech = generate(src, args.voices, tuple(args.seconds), tag="-steady-short")
        subprocess.run([*cli, "ingest", str(src), "--lake", str(lake)], check=True, env=env)
        run = [*cli, "run", "--lake", str(lake), "--workers", str(args.workers)]
        proc = subprocess.Popen(run, env=env, stdout=subprocess.DEVNULL)
        rows = sample(proc)
        if proc.returncode != 0:
            raise SystemExit(f"voxlake run failed ({proc.returncode})")
        batch_runs = [r for r in run_timeline(lake) if r["job"] == "ingest_batch"]
        if len(batch_runs) < 2:
            raise SystemExit("the steady state needs 2 batches or more: --voices above 500")
        steady = batch_runs[1:]
        parts = [window(rows, r["start"], r["end"]) for r in steady]
        steps = step_windows(lake)
        step_parts = [
            by_step(rows, w, steps[r["batch"]]) for r, w in zip(steady, parts, strict=True)
        ]
        alone = models_alone(
            load_inputs(lake, batches=[r["batch"] for r in steady]),
            args.workers,
            dnsmos_too=False,
            pristine_too=True,
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    n = len(parts)
    per_batch = {k: round(sum(p.get(k, 0.0) for p in parts) / n, 2) for k in parts[0]}
    models = {k: round(v * args.workers / n, 2) for k, v in alone.items()}
    denoiser = models["deepfilternet3_pristine"]
    others = models["ge2e"] + models["mel"]
    total = sum(v for k, v in per_batch.items() if k != "wall")
    split = {
        "deepfilternet3_in_forks_and_rest": per_batch["forks_and_rest"],
        "deepfilternet3_alone_pristine": denoiser,
        "workers_beyond_ge2e_and_mel": round(per_batch.get("worker", 0.0) - others, 2),
        "cli": per_batch.get("main", 0.0),
        "servers": per_batch.get("server", 0.0),
        "idle": per_batch["idle"],
        "this_script": per_batch["this_script"],
    }
    result = {
        "voices": args.voices,
        "seconds": list(args.seconds),
        "speech": speech,
        "workers": args.workers,
        "cores": os.cpu_count(),
        "steady_batches": n,
        "batch_wall_s": per_batch["wall"],
        "cpu_s": {k: v for k, v in per_batch.items() if k not in ("wall", "idle")},
        "idle_s": per_batch["idle"],
        "machine_s": round(total, 2),
        "models_cpu_s": models,
        "models_over_machine": round((denoiser + others) / total, 3),
        "split": split,
    }
    keys = list(dict.fromkeys(k for p in step_parts for k in p))  # in run order, then the rest
    result["by_step"] = {
        k: {
            kind: round(sum(p.get(k, {}).get(kind, 0.0) for p in step_parts) / n, 2)
            for kind in ("wall", "idle", "main", "worker", "forks_and_rest")
        }
        for k in keys
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "steady_split.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
