"""Runs without a daemon: what `voxlake run`, `demo` and `verify` start.

Every run is a run of one of the code location's jobs (`ingest_batch`, `refresh_dataset`,
`verify_batch`) on the lake's own Dagster instance (DAGSTER_HOME, default <lake>/dagster),
so the UI shows each by name. The resources are the code location's; a run sets their
fields, and the executor, through its run config (`RunSettings.run_config`).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._core.definitions.reconstruct import ReconstructableJob
from dagster._core.execution.api import execute_run
from dagster._core.remote_origin import (
    ManagedGrpcPythonEnvCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

from voxlake import parallel
from voxlake.embed import index_writer
from voxlake.embed.embedders import DEFAULT as DEFAULT_EMBEDDER
from voxlake.features import dataset as dataset_stats
from voxlake.ingest.inbox import list_batches
from voxlake.lake.schemas import TABLES
from voxlake.lake.store import Lake
from voxlake.orchestration.definitions import JOBS, LOCATION_NAME, MODULE, REPOSITORY_NAME
from voxlake.orchestration.interrupts import RunInterrupted, signals_seen, was_interrupted
from voxlake.orchestration.partitions import voice_batches
from voxlake.orchestration.sensors import pending_partitions
from voxlake.pipeline import batch_complete
from voxlake.resources import LakeResource

PARTITIONS = voice_batches.name or "voice_batches"
EXECUTORS = ("in_process", "multiprocess")
# What an in-process run imports late: GX at a batch's first check, LanceDB at the dataset's
# index step (about 3 s and 2 s on 2 cores). `import_ahead` loads them while the first
# batch's voices are in the pool, so neither step waits on an import.
LATE_IMPORTS = ("great_expectations", "lancedb")
Echo = Callable[[str], None]

INSTANCE_YAML = """\
telemetry:
  enabled: false
concurrency:
  pools:
    default_limit: 1  # pool voxlake_global: one writer of mel_stats / voice_index at a time
"""

# Cluster mode: runs, events, schedules and pool slots in one Postgres that every machine's
# daemon, webserver, workers and CLI share; the pool then serialises the global writers
# across machines. The URL (credentials included) stays in the environment.
POSTGRES_ENV = "VOXLAKE_POSTGRES_URL"
POSTGRES_INSTANCE_YAML = (
    f"""\
storage:
  postgres:
    postgres_url:
      env: {POSTGRES_ENV}
"""
    + INSTANCE_YAML
)


@dataclass(frozen=True)
class RunSettings:
    """What a run sets in its run config; every other field keeps the resource's default."""

    lake_root: str
    workers: int = 1
    dnsmos: str = "off"  # voxlake.audio.dnsmos.MODES
    embedder: str = DEFAULT_EMBEDDER
    executor: str = "in_process"  # one of EXECUTORS: Dagster's multi_or_in_process_executor
    log_level: str = "CRITICAL"  # failures are printed by the CLI in one line each

    def run_config(self, ops: dict[str, Any] | None = None) -> dict[str, Any]:
        if self.executor not in EXECUTORS:
            raise ValueError(f"unknown executor {self.executor!r} (known: {EXECUTORS})")
        return {
            "resources": {
                "lake": {"config": {"root": self.lake_root}},
                "compute": {"config": {"workers": self.workers}},
                "denoiser": {"config": {"dnsmos": self.dnsmos}},
                "embedder": {"config": {"name": self.embedder}},
            },
            "execution": {"config": {self.executor: {}}},
            "loggers": {"console": {"config": {"log_level": self.log_level}}},
            **({"ops": ops} if ops else {}),
        }


@dataclass
class RunSummary:
    new_batches: list[str] = field(default_factory=list)
    succeeded: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)  # failed batch -> why


def failure_reason(result: dg.JobExecutionResult) -> str:
    """The first failed step and its error, on one line (the error's class name left out)."""
    for event in result.get_step_failure_events():
        error = event.step_failure_data.error
        while (
            error is not None
            and error.cause is not None
            and "Error occurred while" in (error.message or "")
        ):
            error = error.cause  # Dagster's wrapper: the user code's own error is the cause
        lines = [x.strip() for x in (error.message if error else "failed").splitlines()]
        message = " ".join(x for x in lines[:2] if x)
        if error and error.cls_name:
            message = message.split(f"{error.cls_name}: ", 1)[-1]
        return f"{event.step_key}: {message}"[:300]
    return "the run failed before any step (see its logs)"


def ensure_home(home: Path) -> Path:
    """A Dagster home with voxlake's instance settings (kept if the user wrote their own):
    SQLite in the home, or Postgres where $VOXLAKE_POSTGRES_URL is set."""
    home.mkdir(parents=True, exist_ok=True)
    cfg = home / "dagster.yaml"
    if not cfg.exists():
        cfg.write_text(POSTGRES_INSTANCE_YAML if os.environ.get(POSTGRES_ENV) else INSTANCE_YAML)
    return home


def instance_for(lake: Lake) -> dg.DagsterInstance:
    """The lake's persistent Dagster instance (DAGSTER_HOME if set, else <lake>/dagster)."""
    home = ensure_home(Path(os.environ.get("DAGSTER_HOME") or lake.root / "dagster"))
    os.environ["DAGSTER_HOME"] = str(home)
    return dg.DagsterInstance.get()


def _cli_tags() -> dict[str, str]:
    return {"voxlake/launched_by": "cli", "voxlake/host": socket.gethostname()}


def _alive(pid: int) -> bool:
    if pid == os.getpid():  # a run of an earlier process that had this pid
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def release_dead_runs(instance: dg.DagsterInstance, echo: Echo = print) -> list[str]:
    """Runs this machine's CLI started whose process is gone (killed with SIGKILL, say):
    mark them failed and free the pool slots they held, which would otherwise make every
    later run of a pooled asset wait for ever. Returns their run ids."""
    live = [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING]
    runs = instance.get_runs(filters=dg.RunsFilter(statuses=live, tags=_cli_tags()))
    dead = [r for r in runs if not _alive(int(r.tags.get("voxlake/pid", "0") or 0))]
    for run in dead:
        instance.report_run_failed(run, "its process is gone; released by a later run")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        echo(f"released run {run.run_id[:8]} ({run.job_name}) of a process that is gone")
    return [r.run_id for r in dead]


def job_origin(job: str) -> RemoteJobOrigin:
    """The code location a run belongs to, as the webserver and daemon name it (the location
    `voxlake`, loaded from the definitions module): a run started here then sits in the
    UI's timeline beside the runs launched there, and re-executes from it without a warning.
    """
    loadable = LoadableTargetOrigin(executable_path=sys.executable, module_name=MODULE)
    location = ManagedGrpcPythonEnvCodeLocationOrigin(loadable, location_name=LOCATION_NAME)
    return RemoteJobOrigin(RemoteRepositoryOrigin(location, REPOSITORY_NAME), job)


def _execute(
    recon: ReconstructableJob, instance: dg.DagsterInstance, run_config: Any, tags: dict[str, str]
) -> dg.JobExecutionResult:
    """`dg.execute_job`, with the run's code-location origin recorded (execute_job has no
    argument for it)."""
    job_def = recon.get_definition()
    run = instance.create_run_for_job(
        job_def=job_def,
        run_config=run_config,
        tags={**job_def.run_tags, **tags},
        job_code_origin=recon.get_python_origin(),
        remote_job_origin=job_origin(job_def.name),
    )
    return execute_run(recon, run, instance)


def launch(
    job: str,
    instance: dg.DagsterInstance,
    settings: RunSettings,
    partition: str | None = None,
    ops: dict[str, Any] | None = None,
) -> dg.JobExecutionResult:
    """One run of a code-location job (a failure is in the result and the run's logs);
    RunInterrupted if a signal stopped it."""
    tags = {**_cli_tags(), "voxlake/pid": str(os.getpid())}
    if partition:
        tags["dagster/partition"] = partition
    with signals_seen() as seen:
        result = _execute(dg.reconstructable(JOBS[job]), instance, settings.run_config(ops), tags)
    if was_interrupted(result) or seen:
        raise RunInterrupted(f"{job}{f' of batch {partition}' if partition else ''} was stopped")
    return result


def _import_late() -> None:
    for name in LATE_IMPORTS:  # one that fails is left to the step that needs it to report
        with contextlib.suppress(Exception):
            importlib.import_module(name)


def import_ahead() -> None:
    """Import GX and LanceDB (`LATE_IMPORTS`) while the next pooled stage's voices are in
    the pool, on this thread (`parallel.while_waiting`)."""
    parallel.while_waiting(_import_late)


def completed_batches(lake: Lake) -> list[str]:
    """Batches through every stage (their last stages have lineage)."""
    return [b for b in list_batches(lake) if batch_complete(lake, b)]


def run_pending(
    lake: Lake,
    instance: dg.DagsterInstance,
    settings: RunSettings,
    echo: Echo = print,
    rerun: list[str] | None = None,
) -> RunSummary:
    """Scan the inbox, run `ingest_batch` for every batch not yet through all stages (and
    for the batches in `rerun`, to repair them), then `refresh_dataset`."""
    unknown = sorted(set(rerun or []) - set(list_batches(lake)))
    if unknown:
        raise LookupError(f"no batch {', '.join(unknown)} in this lake")
    waiting = "another run is working on this lake; waiting for it to finish ..."
    with lake.lock("runs", on_wait=lambda: echo(waiting)):
        return _run_pending(lake, instance, settings, echo, rerun or [])


def _run_pending(
    lake: Lake, instance: dg.DagsterInstance, settings: RunSettings, echo: Echo, rerun: list[str]
) -> RunSummary:
    release_dead_runs(instance, echo)
    summary = RunSummary()
    lake.sweep_stale_temp()
    new = pending_partitions(instance, LakeResource(root=str(lake.root)))
    if new:
        instance.add_dynamic_partitions(PARTITIONS, new)
        summary.new_batches = new
    done = set(completed_batches(lake))
    pending = [b for b in list_batches(lake) if b not in done or b in rerun]
    for batch in rerun:  # a rerun rewrites its batch's damaged table files
        for name in TABLES:
            for shared in lake.tables.drop_damaged(name, batch):
                echo(f"  DAMAGED: tables/{shared.path} holds several batches: {shared.problem}")
    in_process = settings.executor == "in_process"
    if pending and in_process:  # the stages' pool is this process's
        parallel.prewarm(settings.workers)
        import_ahead()
    for i, batch in enumerate(pending, 1):
        echo(f"[{i}/{len(pending)}] batch {batch}: raw -> denoise -> mel -> embeddings ...")
        t0 = time.perf_counter()
        # a batch's steps run here one after another: each hands the next its voices
        parallel.work_ahead(in_process and not LakeResource(root=settings.lake_root).on_store())
        try:
            result = launch("ingest_batch", instance, settings, batch)
        finally:
            parallel.work_ahead(False)  # and forgets what a held-back step never took
        ok = result.success
        (summary.succeeded if ok else summary.failed).append(batch)
        if not ok:
            summary.reasons[batch] = failure_reason(result)
        echo(f"      {'done' if ok else 'FAILED'} in {time.perf_counter() - t0:.1f} s")
    lagging = sorted(set(dataset_stats.behind(lake)) | set(index_writer.behind(lake)))
    if pending or lagging:
        note = f" (behind on {len(lagging)} batch(es))" if lagging and not pending else ""
        echo(f"dataset: mel statistics and voice index{note} ...")
        result = launch("refresh_dataset", instance, settings)
        if not result.success:
            summary.failed.append("(dataset)")
            summary.reasons["(dataset)"] = failure_reason(result)
    return summary


def run_verify(
    lake: Lake,
    instance: dg.DagsterInstance,
    settings: RunSettings,
    batches: list[str],
    runs: int = 3,
    cross: bool = False,
    echo: Echo = print,
) -> list[str]:
    """Run `verify_batch` for each batch; returns the batches whose run failed."""
    release_dead_runs(instance, echo)
    failed = []
    for i, batch in enumerate(batches, 1):
        extra = " + cross-checks" if cross else ""
        echo(f"[{i}/{len(batches)}] verifying batch {batch}: {runs} run(s){extra} ...")
        ops = {"reproducibility": {"config": {"runs": runs, "cross": cross}}}
        if not launch("verify_batch", instance, settings, batch, ops).success:
            failed.append(batch)
    return failed


def delete_partition(instance: dg.DagsterInstance, batch: str) -> bool:
    """Remove a batch's partition from `voice_batches` (whether or not it had a manifest)."""
    if not instance.has_dynamic_partition(PARTITIONS, batch):
        return False
    instance.delete_dynamic_partition(PARTITIONS, batch)
    return True
