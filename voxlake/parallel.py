"""Parallelism across voices only: an ordered map over a process pool.

Workers are started with 'spawn' (no fork of a threaded parent) and each sets its numeric
libraries to one thread. Results come back in input order, so what is written is the same
for any worker count.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from multiprocessing import get_context
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def _init_worker() -> None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover - torch is a dependency
        pass


def map_voices(
    fn: Callable[[T], R],
    items: Sequence[T],
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> list[R]:
    """fn over items, in order; in-process for one worker, else over a spawn process pool."""
    total = len(items)
    results: list[R] = []
    with ExitStack() as stack:
        pool: ProcessPoolExecutor | None = None
        if workers <= 1 or total <= 1:
            it: Iterable[R] = map(fn, items)
        else:
            pool = stack.enter_context(
                ProcessPoolExecutor(
                    max_workers=min(workers, total),
                    mp_context=get_context("spawn"),
                    initializer=_init_worker,
                )
            )
            it = pool.map(fn, items, chunksize=1)
        try:
            for r in it:
                results.append(r)
                if progress:
                    progress(len(results), total)
        except BaseException:
            if pool is not None:  # an interrupt: drop the queued voices, do not wait for them
                pool.shutdown(wait=False, cancel_futures=True)
            raise
    return results
