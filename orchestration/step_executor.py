"""The Celery executor as a cluster's run worker can use it: each step a Celery task on
the step workers' queue (`voxlake.orchestration.queues.STEPS_QUEUE`).

In cluster mode a run itself executes inside a Celery task (dagster-celery's run
launcher), and Celery refuses to wait on another task's result from within a task, as a
worker that waits on work only it could take would deadlock. Here the steps go to a queue
that run workers never take, so the wait is safe, and the run's executor allows it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dagster as dg
from dagster._core.execution.retries import RetryMode
from dagster_celery.executor import CELERY_CONFIG, CeleryExecutor

from voxlake.orchestration.queues import BROKER_ENV


class StepsOnWorkersExecutor(CeleryExecutor):
    def execute(self, plan_context: Any, execution_plan: Any) -> Iterator[dg.DagsterEvent]:
        from celery.result import allow_join_result

        with allow_join_result():
            yield from super().execute(plan_context, execution_plan)


@dg.executor(
    name="celery_steps",
    config_schema=CELERY_CONFIG,
    requirements=dg.multiple_process_executor_requirements(),
)
def celery_steps_executor(init_context: dg.InitExecutorContext) -> StepsOnWorkersExecutor:
    config: dict[str, Any] = dict(init_context.executor_config)
    return StepsOnWorkersExecutor(
        broker=config.get("broker"),
        backend=config.get("backend"),
        config_source=config.get("config_source"),
        include=config.get("include"),
        retries=RetryMode.from_config(config["retries"]),
    )


def steps_on_workers() -> dg.ExecutorDefinition:
    """The executor, on the cluster's broker ($VOXLAKE_CELERY_BROKER)."""
    broker = {"env": BROKER_ENV}
    return celery_steps_executor.configured({"broker": broker, "backend": broker})
