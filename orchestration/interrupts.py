"""Stopping a run on Ctrl-C or SIGTERM: within seconds, the lake left as a kill leaves it.

Dagster turns SIGINT and SIGTERM during a run into an interrupt of the running step; our
writes are atomic and a stage's lineage (its completion mark) is written last, so an
interrupted step leaves no half-written state a rerun would trust. What this module adds:
the CLI stops after that run instead of starting the next batch or the dataset step, and
a signal that lands between runs stops it too.

Dagster swallows a signal that lands between its checkpoints (after a run's last step, say:
`capture_interrupts` records it, then forgets it on the way out), so a run can end in
success although the user pressed Ctrl-C. `signals_seen` notices such a signal through
Python's wakeup fd, which the interpreter writes whatever handler is installed.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

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


STOP_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM})


@contextmanager
def signals_seen() -> Iterator[set[int]]:
    """Collect the stop signals delivered while the block runs (into the yielded set, on
    exit), whichever handler took them. Off the main thread it collects nothing."""
    seen: set[int] = set()
    if threading.current_thread() is not threading.main_thread():
        yield seen
        return
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    os.set_blocking(write_fd, False)
    previous = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    try:
        yield seen
    finally:
        signal.set_wakeup_fd(previous)
        try:
            while chunk := os.read(read_fd, 512):
                seen.update(b for b in chunk if b in STOP_SIGNALS)
        except BlockingIOError:
            pass
        os.close(read_fd)
        os.close(write_fd)
