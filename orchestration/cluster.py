"""Cluster mode's files: one Dagster home that every machine shares.

- `dagster.yaml`: runs, events, schedules and pool slots in Postgres
  ($VOXLAKE_POSTGRES_URL); runs queued by the daemon and launched as Celery tasks on the
  workers ($VOXLAKE_CELERY_BROKER, a Redis URL, also the result backend); run monitoring
  resumes a run whose worker was lost, on whichever worker takes it, and a run that fails
  all the same is retried whole (run_retries).
- `workspace.yaml`: the code location, by installed module (no working directory).
- `celery/dagster_celery_config.py`: what a worker's Celery app reads (`celery -A
  dagster_celery.app worker` with this folder on PYTHONPATH).

The embedded default (SQLite in <lake>/dagster, in-process runs) is untouched: cluster mode
is this home, chosen by DAGSTER_HOME. Secrets stay in the environment.
"""

from __future__ import annotations

import sys
from pathlib import Path

from voxlake.orchestration.queues import BROKER_ENV, QUEUE, STEPS_QUEUE
from voxlake.orchestration.runner import INSTANCE_YAML, POSTGRES_ENV

__all__ = ["BROKER_ENV", "QUEUE", "STEPS_QUEUE", "worker_command", "write_cluster_home"]

CLUSTER_INSTANCE_YAML = (
    f"""\
storage:
  postgres:
    postgres_url:
      env: {POSTGRES_ENV}
run_coordinator:
  module: dagster._core.run_coordinator
  class: QueuedRunCoordinator
run_launcher:
  module: voxlake.orchestration.celery_launcher
  class: WorkerAwareCeleryRunLauncher
  config:
    broker:
      env: {BROKER_ENV}
    backend:
      env: {BROKER_ENV}
    default_queue: {QUEUE}
    misses_allowed: 3
run_monitoring:
  enabled: true
  poll_interval_seconds: 5
  start_timeout_seconds: 600
  max_resume_run_attempts: 3
run_retries:
  enabled: true
  max_retries: 2
"""
    + INSTANCE_YAML
)

WORKSPACE_YAML = """\
load_from:
  - python_module:
      module_name: voxlake.orchestration.definitions
      location_name: voxlake
"""


# What a worker's Celery app reads. The broker's URL (credentials included) stays in the
# environment. Ack on receipt: a lost worker's run is resumed by Dagster's run monitoring,
# never redelivered by the broker as well. No prefetch: with ack on receipt a busy worker
# would otherwise hold the next batch while another worker idles (seen: two 500-voice
# batches ran one after the other on two workers).
WORKER_CONFIG = f"""\
import os

broker_url = os.environ["{BROKER_ENV}"]
result_backend = os.environ["{BROKER_ENV}"]
worker_prefetch_multiplier = 1
worker_disable_prefetch = True
task_acks_late = False
task_track_started = True
broker_connection_retry_on_startup = True
"""


def write_cluster_home(home: Path) -> Path:
    """Write the three files into `home` (created if missing); returns it."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(CLUSTER_INSTANCE_YAML)
    (home / "workspace.yaml").write_text(WORKSPACE_YAML)
    celery = home / "celery"
    celery.mkdir(exist_ok=True)
    (celery / "dagster_celery_config.py").write_text(WORKER_CONFIG)
    return home


def worker_command(name: str, concurrency: int = 1, steps: bool = False) -> list[str]:
    """A worker: one process tree; `concurrency` runs at once (each run uses the worker's
    cores through the `compute` resource). Its runs execute in threads of the worker's main
    process, which keeps answering pings meanwhile and may start the stages' process pool
    (a prefork child, being daemonic, may not). With `steps`, a step worker instead: it
    takes the steps of jobs on the Celery executor (`export_shards`), one machine's share
    of them, while the run that waits on them holds a run worker."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "dagster_celery.app",
        "worker",
        "-Q",
        STEPS_QUEUE if steps else QUEUE,
        "--pool",
        "threads",
        "--concurrency",
        str(concurrency),
        "--prefetch-multiplier",
        "1",
        "-n",
        f"{name}@%h",
        "--without-gossip",
        "--without-mingle",
        "--loglevel",
        "WARNING",
    ]
