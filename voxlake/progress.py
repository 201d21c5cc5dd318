"""Per-voice progress of a stage: count, rate and ETA.

On a terminal it is a tqdm bar on stderr. In a pipe or CI it is a plain line every
`every_s` seconds and one at the end, so a log shows that a long batch moves and a short
one costs a single line. The same plain lines go to `log` (a Dagster run's logger), so
the UI shows them.
`VOXLAKE_PROGRESS=bar|lines|off` overrides the choice.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

Log = Callable[[str], Any]


def _duration(seconds: float) -> str:
    s = round(seconds)
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def progress_line(label: str, done: int, total: int, elapsed_s: float) -> str:
    """`denoised_voices 000001-ab12cd34: 120/415 voices, 3.1/s, ETA 1m35s`"""
    rate = done / elapsed_s if elapsed_s > 0 else 0.0
    eta = _duration((total - done) / rate) if rate > 0 and done < total else "-"
    if done >= total:
        return f"{label}: {done}/{total} voices in {_duration(elapsed_s)} ({rate:.1f}/s)"
    return f"{label}: {done}/{total} voices, {rate:.1f}/s, ETA {eta}"


class StageProgress:
    """A `progress(done, total)` callback for `map_voices`; close() when the stage ends."""

    def __init__(
        self,
        label: str,
        log: Log | None = None,
        stream: TextIO | None = None,
        every_s: float = 10.0,
        mode: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.label, self.log, self.every_s, self.clock = label, log, every_s, clock
        self.stream = stream if stream is not None else sys.stderr
        mode = mode or os.environ.get("VOXLAKE_PROGRESS", "auto")
        if mode == "auto":
            mode = "bar" if self.stream.isatty() else "lines"
        self.mode = mode
        self.start = clock()
        self.last_line = self.start
        self.bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        now = self.clock()
        if self.mode == "bar":
            if self.bar is None:
                from tqdm import tqdm

                self.bar = tqdm(total=total, desc=self.label, unit="voice", file=self.stream)
            self.bar.update(done - self.bar.n)
        due = done >= total or now - self.last_line >= self.every_s
        if not due:
            return
        self.last_line = now
        line = progress_line(self.label, done, total, now - self.start)
        if self.mode == "lines":
            print(f"  {line}", file=self.stream, flush=True)
        if self.log is not None:
            self.log(line)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


@contextmanager
def stage_progress(label: str, log: Log | None = None) -> Iterator[StageProgress]:
    """Progress for one stage's voices, closed (its bar ended) however the stage ends."""
    progress = StageProgress(label, log)
    try:
        yield progress
    finally:
        progress.close()
