"""Cluster mode's Celery names, shared by the cluster's files and the jobs that use them.

- `QUEUE`: where dagster-celery's run launcher sends each run (one worker runs it whole);
- `STEPS_QUEUE`: where a job on the Celery executor sends each step (`export_shards`), so
  that its steps spread over the machines. A run worker busy with that very run must not be
  the only one to take its steps, so step workers consume this queue alone
  (`voxlake.orchestration.cluster.worker_command(..., steps=True)`).
"""

BROKER_ENV = "VOXLAKE_CELERY_BROKER"
QUEUE = "dagster"  # dagster-celery routes its run tasks to this queue
STEPS_QUEUE = "voxlake-steps"
