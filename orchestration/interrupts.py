"""Stopping a run on Ctrl-C or SIGTERM: within seconds, the lake left as a kill leaves it.

Dagster turns SIGINT and SIGTERM during a run into an interrupt of the running step; our
writes are atomic and a stage's lineage (its completion mark) is written last, so an
interrupted step leaves no half-written state a rerun would trust. What this module adds:
the CLI stops after that run instead of starting the next batch or the dataset step, and
a signal that lands between runs stops it too.
"""

from __future__ import annotations

import dagster as dg

INTERRUPT_ERRORS = ("DagsterExecutionInterruptedError", "KeyboardInterrupt")


class RunInterrupted(Exception):
    """A run stopped by a signal; nothing after it was started."""


def was_interrupted(result: dg.JobExecutionResult) -> bool:
    """Whether the run ended because the process was told to stop."""
    for event in result.get_step_failure_events():
        error = event.step_failure_data.error
        if error is not None and error.cls_name in INTERRUPT_ERRORS:
            return True
    failures = [e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE]
    return any("interrupt" in (e.message or "").lower() for e in failures)
