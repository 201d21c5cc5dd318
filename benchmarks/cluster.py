"""voxlake in cluster mode on real servers on loopback, checked against an embedded run.

`make cluster-test` runs this. It starts PostgreSQL (Debian's), Redis (Debian's) as the
Celery broker, an S3 API server (moto in server mode: an emulator, since no real object
store can be installed here), the Dagster daemon and Celery workers, each worker its own
process tree with its own working-copy folder. Then:

1. voices land in the lake's inbox prefix on the store in `--batches` rounds; the daemon's
   sensor makes each round a batch and queues its run; the runs go to the workers;
2. with `--kill`, the worker running the first batch is SIGKILLed once that batch is in
   its denoising step, and a fresh worker is started in its place; Dagster's run
   monitoring notices the lost worker and resumes the run on a live one;
3. the automation brings the dataset statistics and the voice index up to date;
4. the same files go through the embedded pipeline (local folder, in-process) round by
   round, and the two lakes' hash manifests are compared;
5. with `--export`, two step workers join, an `export_shards` run is launched as a user
   would (`dagster job launch`) and its steps go over the Celery executor to the step
   workers, each fetching only its own shards' audio from the store; its shards must be
   the bytes of the same export of the embedded lake (`export.identical_to_embedded`) and
   must have been written by more than one worker (`export.step_workers`).

It measures the CPU time of every process it started (sampled per process), and splits
the workers' time into the stages' own work (the steps' `work_cpu_s` less their table
traffic `table_cpu_s`, see `voxlake.lake.objectstore.remote.StepClock`) and the rest:
`worker_overhead_fraction` is the workers' CPU outside that work over it (step start, the
run worker, table traffic, audio transfer, Dagster on the worker).
`control_plane_cpu_per_s` is the CPU seconds per second of the central processes (the
daemon with its code server, Postgres, the broker), busy (from the first upload until
every batch and the dataset assets settled) and idle (`--idle-s` after that, no run in
flight, default tick intervals, schedules on). `per_batch` gives the table traffic in
seconds and the audio transfer in MB and MB/s. Its last line is one JSON object, also
written to benchmarks/results/cluster[_quick].json; it exits non-zero on any failure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import dagster as dg
import obstore
import psutil

from voxlake.demo import corpus
from voxlake.ingest.inbox import SIDECAR_SUFFIXES, list_batches, read_manifest
from voxlake.lake.objectstore import StoreConfig, open_store, read_json
from voxlake.lake.objectstore.remote import CACHE_ENV, STEPS_LOG, StoreLake
from voxlake.lake.store import Lake
from voxlake.orchestration.cluster import BROKER_ENV, worker_command, write_cluster_home
from voxlake.orchestration.dataset_sensor import IN_FLIGHT, dataset_behind
from voxlake.orchestration.runner import POSTGRES_ENV, RunSettings, launch
from voxlake.orchestration.sensors import pending_partitions
from voxlake.repro import manifest
from voxlake.resources import LakeResource
from voxlake.testing import postgres as pg
from voxlake.testing import redis as rd
from voxlake.testing.consistency import inconsistencies
from voxlake.testing.s3 import s3_server

RESULTS = Path(__file__).parent / "results"
PARTITIONS = "voice_batches"
TASK_TAG = "dagster-celery/task_id"


class CpuMeter(threading.Thread):
    """CPU seconds of process trees, by group. Each sample sums, over the tree's live
    processes, their own time and that of the children they reaped (a stage forks per
    voice: those forks live less than a sample period, and are counted once reaped); a
    group's figure is the largest sum seen (a dead child not yet reaped dips it briefly)."""

    def __init__(self, period_s: float = 0.5):
        super().__init__(daemon=True)
        self.period_s = period_s
        self.roots: list[tuple[str, int]] = []
        self.best: dict[str, float] = {}
        self.stop = threading.Event()

    def watch(self, group: str, pid: int) -> None:
        self.roots.append((group, pid))
        self.sample()

    def sample(self) -> None:
        for group, pid in list(self.roots):
            try:
                root = psutil.Process(pid)
                procs = [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
            total = 0.0
            for p in procs:
                try:
                    t = p.cpu_times()
                    total += t.user + t.system + t.children_user + t.children_system
                except psutil.Error:
                    continue
            key = f"{group}:{pid}"
            self.best[key] = max(self.best.get(key, 0.0), total)

    def run(self) -> None:
        while not self.stop.wait(self.period_s):
            self.sample()

    def totals(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for key, cpu in self.best.items():
            group = key.split(":", 1)[0]
            out[group] = out.get(group, 0.0) + cpu
        return {k: round(v, 2) for k, v in sorted(out.items())}


def _postmaster(url: str) -> int:
    port = url.rsplit(":", 1)[1].split("/", 1)[0]
    for p in psutil.process_iter(["name", "cmdline", "ppid"]):
        cmd = p.info["cmdline"] or []
        if p.info["name"] == "postgres" and "-p" in " ".join(cmd) and port in cmd:
            return int(p.pid)
    raise RuntimeError(f"no postmaster on port {port}")


def _rounds(folder: Path, batches: int, per_batch: int) -> list[Path]:
    """One folder of new voices per round (distinct seeds: distinct content); the first
    round also holds the corpus's odd files, to be quarantined."""
    out = []
    for i in range(batches):
        d = folder / f"round-{i + 1}"
        corpus.generate(d, folder / "clean" / d.name, per_batch, 3, seed=100 + i, bad_files=i == 0)
        out.append(d)
    return out


def _upload(store: Any, round_dir: Path) -> int:
    """Land a round in the store's inbox; returns how many voices (not label sidecars)."""
    files = [f for f in sorted(round_dir.rglob("*")) if f.is_file()]
    for f in files:
        obstore.put(
            store, f"inbox/{round_dir.name}/{f.relative_to(round_dir).as_posix()}", f.read_bytes()
        )
    return sum(f.suffix.lower() not in SIDECAR_SUFFIXES for f in files)


def _wait(what: str, done: Any, timeout_s: float, poll_s: float = 1.0) -> float:
    t0 = time.monotonic()
    while not done():
        if time.monotonic() - t0 > timeout_s:
            raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(poll_s)
    return time.monotonic() - t0


def _batch_runs(instance: dg.DagsterInstance, batch: str) -> list[dg.DagsterRun]:
    return list(instance.get_runs(dg.RunsFilter(tags={"dagster/partition": batch})))


def _in_step(instance: dg.DagsterInstance, batch: str, step: str) -> dg.DagsterRun | None:
    for run in _batch_runs(instance, batch):
        if run.status != dg.DagsterRunStatus.STARTED:
            continue
        starts = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_START)
        if any(e.step_key == step for e in starts):
            return run
    return None


def _resumed(instance: dg.DagsterInstance, run: dg.DagsterRun) -> bool:
    """Whether run monitoring resumed this run after its worker was lost."""
    events = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT)
    return any("Resuming run" in (e.message or "") for e in events)


def _settled(instance: dg.DagsterInstance, batches: list[str]) -> bool:
    """Every batch has a successful run, nothing is queued or running, and a run that began
    after the last batch finished wrote the dataset assets."""
    if instance.get_runs(dg.RunsFilter(statuses=IN_FLIGHT)):
        return False
    for b in batches:
        if not any(r.status == dg.DagsterRunStatus.SUCCESS for r in _batch_runs(instance, b)):
            return False
    return dataset_behind(instance) is None


class Cluster:
    """The daemon and the workers, started and stopped as process groups."""

    def __init__(self, work: Path, env: dict[str, str], meter: CpuMeter):
        self.work, self.env, self.meter = work, env, meter
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def _start(self, name: str, cmd: list[str], env: dict[str, str], cwd: Path) -> None:
        cwd.mkdir(parents=True, exist_ok=True)
        log = open(self.work / f"{name}.log", "wb")  # noqa: SIM115 (the process's log)
        proc = subprocess.Popen(
            cmd, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.procs[name] = proc
        self.meter.watch(name, proc.pid)

    def start_daemon(self, home: Path) -> None:
        exe = str(Path(sys.executable).parent / "dagster-daemon")
        env = {**self.env, CACHE_ENV: str(self.work / "daemon" / "cache")}
        cmd = [exe, "run", "-w", str(home / "workspace.yaml")]
        self._start("daemon", cmd, env, self.work / "daemon")

    def start_worker(self, name: str, home: Path, steps: bool = False) -> None:
        own = self.work / name  # its own folders: nothing of another worker's is visible
        (own / "tmp").mkdir(parents=True, exist_ok=True)
        env = {
            **self.env,
            CACHE_ENV: str(own / "cache"),
            "TMPDIR": str(own / "tmp"),
            "PYTHONPATH": str(home / "celery"),
        }
        self._start(name, worker_command(name, steps=steps), env, own)

    def kill(self, name: str) -> None:
        proc = self.procs[name]
        self.meter.sample()
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _worker_of(broker: str, run: dg.DagsterRun) -> str:
    """The worker name (our -n prefix) running a Celery-launched run."""
    from celery import Celery

    app = Celery(broker=broker, backend=broker)
    info = app.AsyncResult(run.tags[TASK_TAG]).info
    host = info.get("hostname", "") if isinstance(info, dict) else ""
    return str(host).split("@", 1)[0]


def _embedded(copy: Lake, voices: Path, folder: Path, workers: int) -> Lake:
    """The same files through the embedded pipeline (local lake, in-process runs), batch by
    batch as the cluster's sensor grouped them (its manifests), so the batches are the same."""
    lake = Lake(folder).ensure()
    settings = RunSettings(str(lake.root), workers=workers)
    with dg.instance_for_test() as instance:
        for batch in list_batches(copy):
            for f in read_manifest(copy, batch).files:
                dst = lake.inbox / f.path
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(voices / f.path, dst)
            new = pending_partitions(instance, LakeResource(root=str(lake.root)))
            if new != [batch]:
                raise RuntimeError(f"the embedded scan made {new}, the cluster {batch}")
            instance.add_dynamic_partitions(PARTITIONS, new)
            if not launch("ingest_batch", instance, settings, batch).success:
                raise RuntimeError(f"the embedded run of batch {batch} failed")
        if not launch("refresh_dataset", instance, settings).success:
            raise RuntimeError("the embedded dataset refresh failed")
    return lake


def _sensed(store: Any) -> int:
    """How many inbox files the store's batch manifests hold."""
    total = 0
    for chunk in obstore.list(store, "batches/"):
        for m in chunk:
            name = m["path"].rsplit("/", 1)[-1]
            if name.endswith(".json") and not name.startswith("_"):
                total += len(json.loads(bytes(obstore.get(store, m["path"]).bytes()))["files"])
    return total


def _hashes(lake: Lake) -> dict[str, Any]:
    m = manifest.export(lake)
    return {"batches": m["batches"], "dataset": m["dataset"]}


def _steps(work: Path) -> list[dict[str, Any]]:
    out = []
    for log in sorted(work.glob(f"*/cache/{STEPS_LOG}")):  # the workers' and the daemon's
        out += [json.loads(x) for x in log.read_text().splitlines() if x.strip()]
    return out


EXPORT = {  # every voice a shard of its own in two splits, one shard per step
    "format": "webdataset",
    "split": "train=0.5,test=0.5",
    "shard_size": "1",
    "shards_per_step": 1,
}


def _launch_export(cluster: Cluster, instance: dg.DagsterInstance, home: Path, out: str) -> str:
    """Launch `export_shards` as a user would, through the daemon's queue; its run id."""
    before = {r.run_id for r in instance.get_runs(dg.RunsFilter(job_name="export_shards"))}
    config = {"ops": {"plan_shard_export": {"config": {**EXPORT, "out": out}}}}
    exe = str(Path(sys.executable).parent / "dagster")
    subprocess.run(
        [exe, "job", "launch", "-w", str(home / "workspace.yaml"), "-j", "export_shards"]
        + ["--config-json", json.dumps(config)],
        env=cluster.env,
        check=True,
        capture_output=True,
    )
    (run,) = [
        r
        for r in instance.get_runs(dg.RunsFilter(job_name="export_shards"))
        if r.run_id not in before
    ]
    return run.run_id


def _step_workers(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """The Celery workers that ran the run's steps (dagster-celery's engine events)."""
    names = set()
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        data = getattr(event, "event_specific_data", None) if event else None
        meta = getattr(data, "metadata", None) or {}
        if "Celery worker" in meta:
            names.add(str(meta["Celery worker"].value))
    return sorted(names)


def _export_on_cluster(
    cluster: Cluster, instance: dg.DagsterInstance, home: Path, out: str, timeout: float
) -> dict[str, Any]:
    for i in range(2):
        cluster.start_worker(f"s{i + 1}", home, steps=True)
    t0 = time.monotonic()
    run_id = _launch_export(cluster, instance, home, out)
    _wait(
        "the export run to finish",
        lambda: (r := instance.get_run_by_id(run_id)) is not None and r.is_finished,
        timeout,
    )
    run = instance.get_run_by_id(run_id)
    assert run is not None
    return {
        "status": run.status.value,
        "seconds": round(time.monotonic() - t0, 1),
        "step_workers": _step_workers(instance, run_id),
        "out": out,
    }


def _same_export(embedded: Lake, shards: list[Any], work: Path) -> bool:
    """The cluster's shards are those of the same export of the embedded lake: every
    shard's files, hashes and voice count (the snapshot ids differ: other tables)."""
    from voxlake.export.shards import ShardRequest, ShardSize, export_shards
    from voxlake.export.splits import parse_split

    local = export_shards(
        embedded,
        ShardRequest(
            EXPORT["format"],
            work / "export-embedded",
            spec=parse_split(str(EXPORT["split"])),
            size=ShardSize(bytes=None, voices=int(EXPORT["shard_size"])),
        ),
    ).manifest
    return bool(shards) and shards == [(s["voices"], s["files"]) for s in local["shards"]]


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    result: dict[str, Any] = {"workers": args.workers, "rounds": args.batches}
    rounds = _rounds(work / "voices", args.batches, args.voices_per_batch)
    meter = CpuMeter()
    meter.start()
    with ExitStack() as stack:
        t0 = time.monotonic()
        pg_url = stack.enter_context(pg.postgres_server())
        broker, redis_pid = stack.enter_context(rd.redis_server())
        s3 = stack.enter_context(s3_server())
        meter.watch("postgres", _postmaster(pg_url))
        meter.watch("broker", redis_pid)
        meter.watch("s3", s3.pid)
        result["servers_start_s"] = round(time.monotonic() - t0, 1)
        uri = s3.uri("lake")
        home = write_cluster_home(work / "home")
        env = {
            **os.environ,
            **s3.env(),
            "DAGSTER_HOME": str(home),
            "VOXLAKE_HOME": uri,
            POSTGRES_ENV: pg_url,
            BROKER_ENV: broker,
            "VOXLAKE_PROGRESS": "off",
        }
        os.environ.update({k: env[k] for k in ("DAGSTER_HOME", POSTGRES_ENV, BROKER_ENV)})
        cluster = Cluster(work, env, meter)
        stack.callback(cluster.stop)
        store = open_store(uri)
        uploaded = 0
        if args.all_at_once:  # every round lands before the daemon starts: full batches
            uploaded = sum(_upload(store, d) for d in rounds)
        cluster.start_daemon(home)
        for i in range(args.workers):
            cluster.start_worker(f"w{i + 1}", home)
        instance = stack.enter_context(dg.DagsterInstance.get())
        t_start = time.monotonic()
        meter.sample()
        cpu_start = meter.totals()
        killed: dict[str, Any] = {}
        for i, d in enumerate([rounds[0]] if args.all_at_once else rounds):
            if not args.all_at_once:
                uploaded += _upload(store, d)
            _wait(
                f"the sensor to make batch {i + 1}",
                lambda n=i: len(instance.get_dynamic_partitions(PARTITIONS)) > n,
                args.timeout,
            )
            if args.kill and i == 0:
                batch = sorted(instance.get_dynamic_partitions(PARTITIONS))[0]
                _wait(
                    "the first batch to reach denoising",
                    lambda b=batch: _in_step(instance, b, "denoised_voices") is not None,
                    args.timeout,
                    0.2,
                )
                running = _in_step(instance, batch, "denoised_voices")
                assert running is not None
                victim = _worker_of(broker, running)
                cluster.kill(victim)
                killed = {"batch": batch, "worker": victim, "at": time.monotonic()}
                cluster.start_worker(f"w{args.workers + 1}", home)  # the lost machine's stand-in
        _wait(
            "every file in a batch, every batch done, the dataset assets after them",
            lambda: (
                _sensed(store) == uploaded
                and _settled(instance, sorted(instance.get_dynamic_partitions(PARTITIONS)))
            ),
            args.timeout,
            args.poll,  # this process's own queries load the servers it measures: few
        )
        wall = time.monotonic() - t_start
        meter.sample()
        cpu_settled = meter.totals()
        # idle: no run in flight, the daemon ticking its sensors and schedules, and this
        # process asking nothing of the servers
        time.sleep(args.idle_s)
        meter.sample()
        cpu_idle = meter.totals()
        cluster_shards: list[Any] = []
        if args.export:
            out = s3.uri("exports/cluster")
            result["export"] = _export_on_cluster(cluster, instance, home, out, args.timeout)
            got = read_json(open_store(out), "manifest.json")
            cluster_shards = [(s["voices"], s["files"]) for s in got[0]["shards"]] if got else []
            result["export"]["shards"] = len(cluster_shards)
        cluster.stop()
        meter.stop.set()
        cpu = cpu_settled

        runs = list(instance.get_runs())
        result["runs"] = {
            "total": len(runs),
            "failed": sum(r.status == dg.DagsterRunStatus.FAILURE for r in runs),
            "retried": sum("dagster/retry_number" in r.tags for r in runs),
            "resumed": sum(_resumed(instance, r) for r in runs),
        }
        copy = StoreLake.of(StoreConfig(uri), work / "reader").snapshot(
            work / "snapshot", audio=True
        )

    voices = copy.read_table("voices")
    result["voices"] = voices.num_rows
    result["batches"] = len(list_batches(copy))
    result["s3_lake"] = f"{uri} (moto {_version('moto')} in server mode: an S3 emulator)"
    result["postgres"] = _pg_version()
    result["broker"] = "redis (Debian redis-server), celery " + _version("celery")
    problems = inconsistencies(copy)
    result["problems"] = problems
    embedded = _embedded(copy, work / "voices", work / "embedded", 1) if args.compare else None
    result["identical_to_embedded"] = embedded is not None and _hashes(copy) == _hashes(embedded)
    if args.export and embedded is not None:
        same = _same_export(embedded, cluster_shards, work)
        result["export"]["identical_to_embedded"] = same
    result["globals_consistent"] = not any(p.startswith(("dataset", "the index")) for p in problems)
    if args.kill and embedded is not None:
        b = killed["batch"]
        ids = {
            t: sorted(copy.read_table(t, b).column("voice_id").to_pylist())
            for t in ("voices", "denoise_metrics", "voice_mel_stats", "embeddings")
        }
        want = sorted(embedded.read_table("voices", b).column("voice_id").to_pylist())
        result["worker_killed_recovered"] = bool(want) and all(v == want for v in ids.values())
        result["killed"] = {"batch": b, "worker": killed["worker"]}
    steps = _steps(work)
    work_cpu = sum(s["work_cpu_s"] for s in steps)  # the stages' own work, wherever it ran
    processes = {k: v for k, v in cpu.items() if k == "daemon" or k.startswith("w")}
    servers = {k: cpu.get(k, 0.0) for k in ("postgres", "broker", "s3")}
    overhead = sum(servers.values()) + sum(processes.values()) - work_cpu
    result["cpu_s"] = {
        **servers,
        **processes,
        "stages_work": round(work_cpu, 2),
        "orchestration": round(sum(processes.values()) - work_cpu, 2),
        "transfer_wall_s": round(sum(s["pull_s"] + s["push_s"] for s in steps), 2),
    }
    result["cluster_cpu_fraction"] = round(overhead / work_cpu, 3) if work_cpu else None
    result["cluster_cpu_fraction_without_s3_emulator"] = (
        round((overhead - servers["s3"]) / work_cpu, 3) if work_cpu else None
    )
    control = ("daemon", "postgres", "broker")  # the daemon's tree holds the code server

    def per_s(a: dict[str, float], b: dict[str, float], seconds: float) -> float:
        return round(sum(b.get(g, 0.0) - a.get(g, 0.0) for g in control) / seconds, 4)

    result["control_plane_cpu_per_s"] = {
        "busy": per_s(cpu_start, cpu_settled, wall),
        "idle": per_s(cpu_settled, cpu_idle, args.idle_s),
        "idle_window_s": args.idle_s,
        "idle_by_process": {
            g: round((cpu_idle.get(g, 0.0) - cpu_settled.get(g, 0.0)) / args.idle_s, 4)
            for g in control
        },
    }
    workers = sum(v for k, v in cpu.items() if k.startswith("w"))
    table_cpu = sum(s.get("table_cpu_s", 0.0) for s in steps)
    own = work_cpu - table_cpu  # the stages' own work, less their table traffic
    result["worker_overhead_fraction"] = round((workers - own) / own, 3) if own else None
    result["cpu_s"]["stages_own_work"] = round(own, 2)
    result["cpu_s"]["workers"] = round(workers, 2)
    result["cpu_s"]["table_traffic"] = round(table_cpu, 2)
    n_batches = max(1, result["batches"])
    moved = sum(s.get("transfer_bytes", 0) for s in steps) / 1e6
    transfer_s = sum(s["pull_s"] + s["push_s"] for s in steps)
    result["per_batch"] = {
        "table_traffic_s": round(sum(s.get("table_s", 0.0) for s in steps) / n_batches, 2),
        "audio_transfer_mb": round(moved / n_batches, 1),
        "audio_transfer_mb_per_s": round(moved / transfer_s, 1) if transfer_s else None,
    }
    result["wall_s"] = round(wall, 1)
    result["voices_per_s"] = round(result["voices"] / wall, 3) if wall else None
    return result


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


def _pg_version() -> str:
    exe = pg.pg_bin("postgres")
    out = subprocess.run([exe or "postgres", "--version"], capture_output=True, text=True)
    return out.stdout.strip()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--batches", type=int, default=3, help="rounds of new voices")
    p.add_argument("--voices-per-batch", type=int, default=4)
    p.add_argument("--kill", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument(
        "--compare",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run the files embedded and compare the hash manifests",
    )
    p.add_argument(
        "--all-at-once",
        action="store_true",
        help="land every round before the daemon starts (batches of batch_size, not rounds)",
    )
    p.add_argument(
        "--export",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run an export_shards job over two step workers and compare its shards",
    )
    p.add_argument("--poll", type=float, default=2.0, help="seconds between settle checks")
    p.add_argument(
        "--idle-s", type=float, default=60.0, help="seconds of idle cluster measured at the end"
    )
    p.add_argument("--timeout", type=float, default=900.0, help="seconds per wait")
    p.add_argument("--keep", help="keep the work folder here (logs of every process)")
    p.add_argument("--out", help="result file (default: results/cluster.json)")
    args = p.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the servers on the way out
    work = Path(args.keep or tempfile.mkdtemp(prefix="voxlake-cluster-"))
    work.mkdir(parents=True, exist_ok=True)
    ok = False
    try:
        result = run(args, work)
        ok = (
            (result["identical_to_embedded"] or not args.compare)
            and result["globals_consistent"]
            and not result["problems"]
            and result.get("worker_killed_recovered", True)
            and (
                not args.export
                or not args.compare
                or (
                    result["export"]["status"] == "SUCCESS"
                    and result["export"]["identical_to_embedded"]
                    and len(result["export"]["step_workers"]) > 1
                )
            )
        )
        result["ok"] = ok
    except Exception as e:
        result = {"ok": False, "error": f"{type(e).__name__}: {e}"[:2000], "work": str(work)}
        for log in sorted(work.glob("*.log")):
            tail = log.read_text(errors="replace").splitlines()[-15:]
            print(f"--- {log.name}\n" + "\n".join(tail), file=sys.stderr)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    out = Path(args.out) if args.out else RESULTS / "cluster.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    print(json.dumps(result, sort_keys=True))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
