"""dagster-celery's run launcher, with a worker-health check that notices a dead worker.

Cluster mode launches each run (one batch's stages, or one dataset refresh) as a Celery
task on whichever worker takes it. The stock launcher reports a task as healthy while
its state is STARTED, and a worker killed outright (SIGKILL, a lost machine) never moves
its task out of STARTED, so Dagster's run monitoring would wait on it for ever. This
launcher also asks Celery whether the worker that started the task still answers a ping;
after `misses_allowed` silent checks in a row the run's worker counts as failed, and the
daemon's run monitoring resumes the run on a live worker (`max_resume_run_attempts` in
dagster.yaml). Every stage writes atomically and marks itself done last, so a resumed run
redoes only unfinished work and leaves no duplicate rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster import DagsterRun, Field, IntSource
from dagster._core.launcher import CheckRunHealthResult, ResumeRunContext, WorkerStatus
from dagster._grpc.types import ResumeRunArgs
from dagster._serdes import ConfigurableClassData, pack_value
from dagster_celery.launcher import CeleryRunLauncher
from dagster_celery.tags import DAGSTER_CELERY_TASK_ID_TAG
from dagster_celery.tasks import TASK_RESUME_JOB_NAME, create_resume_job_task

PING_TIMEOUT_S = 2.0


class WorkerAwareCeleryRunLauncher(CeleryRunLauncher):
    def __init__(self, misses_allowed: int = 3, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.misses_allowed = misses_allowed
        self._misses: dict[str, int] = {}

    @classmethod
    def config_type(cls) -> Any:
        return {
            **super().config_type(),  # type: ignore[dict-item]
            "misses_allowed": Field(
                IntSource,
                is_required=False,
                default_value=3,
                description="Unanswered pings in a row before a run's worker counts as lost.",
            ),
        }

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]
    ) -> WorkerAwareCeleryRunLauncher:
        return cls(inst_data=inst_data, **config_value)

    def resume_run(self, context: ResumeRunContext) -> None:
        """As dagster-celery's, which passes the resume task an argument it does not take
        (`execute_job_args_packed`; the task's is `resume_job_args_packed`), so that every
        resume failed and only run retries recovered a lost worker's run."""
        run = context.dagster_run
        if run.job_code_origin is None:
            raise ValueError(f"run {run.run_id} has no code origin to resume from")
        args = ResumeRunArgs(
            job_origin=run.job_code_origin,
            run_id=run.run_id,
            instance_ref=self._instance.get_ref(),
            set_exit_code_on_failure=True,
        )
        task = create_resume_job_task(self.celery)
        signature = task.si(resume_job_args_packed=pack_value(args))
        self._launch_celery_task_run(
            run=run, task_signature=signature, routing_key=TASK_RESUME_JOB_NAME
        )

    def _worker_answers(self, hostname: str) -> bool:
        replies = self.celery.control.ping(destination=[hostname], timeout=PING_TIMEOUT_S)
        return any(hostname in reply for reply in replies or [])

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        health = super().check_run_worker_health(run)
        if health.status != WorkerStatus.RUNNING:
            return health
        task_id = run.tags[DAGSTER_CELERY_TASK_ID_TAG]
        info = self.celery.AsyncResult(task_id).info
        hostname = info.get("hostname") if isinstance(info, dict) else None
        if not hostname or self._worker_answers(str(hostname)):
            self._misses.pop(run.run_id, None)
            return health
        misses = self._misses.get(run.run_id, 0) + 1
        self._misses[run.run_id] = misses
        if misses < self.misses_allowed:
            return health
        self._misses.pop(run.run_id, None)
        return CheckRunHealthResult(
            WorkerStatus.FAILED, f"Celery worker {hostname} stopped answering (lost)"
        )
