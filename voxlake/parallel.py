"""Parallelism across voices only: an ordered map over a process pool.

Workers are started with 'spawn' (no fork of a threaded parent) and each sets its numeric
libraries to one thread. Results come back in input order, so what is written is the same
for any worker count.

A process keeps one warm pool per worker count and reuses it for every stage and batch it
runs: a spawned worker imports torch and loads its models once (a few seconds each), not
once per stage per batch. The per-voice functions hold no state between voices (the
denoiser forks a pristine runtime for each), so reuse changes no output. An interrupt or a
broken pool discards it; the next map starts a fresh one.

Work ahead. Where a process runs a batch's stages one after another (`voxlake run`, in
process), the next stages' voices can go to the pool as soon as their input is written,
while this process records and checks the stage before: `submit_ahead` hands them over,
and the next stage's `map_voices` takes those results instead of computing them again. A
per-voice function is a pure function of its job, so when it ran changes no output. Off
unless `work_ahead(True)`; `drop_ahead` forgets what was never taken (a stage a failed
check held back).

Chunks. Each task handed to the pool costs both sides a hand-off (the job pickled, queued
and woken for, the result sent back and collected), and a worker that ends a short task
waits for the next while this process, busy elsewhere, refills the queue. So the voices
of a map (or of a hand-over ahead) go in chunks, guided: `CHUNK_MAX` voices while many
are left, fewer as the end nears, single voices at the end, so no worker is left with a
long chunk while the others idle. What a voice gives does not depend on its chunk.
"""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing
import multiprocessing.util
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any, TypeVar

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


_POOLS: dict[int, ProcessPoolExecutor] = {}


def _pool(workers: int) -> ProcessPoolExecutor:
    pool = _POOLS.get(workers)
    if pool is None:
        pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=get_context("spawn"), initializer=_init_worker
        )
        _POOLS[workers] = pool
    return pool


def prewarm(workers: int) -> None:
    """Start the warm pool's workers now, without waiting for them: their start (spawn,
    imports) then overlaps the caller's own set-up instead of following it."""
    if workers > 1:
        pool = _pool(workers)
        for _ in range(workers):  # with no idle worker, each submit spawns one
            pool.submit(os.getpid)


def close_pools(wait: bool = True) -> None:
    """Shut down the warm pools (queued voices are dropped)."""
    _AHEAD.clear()
    while _POOLS:
        _, pool = _POOLS.popitem()
        pool.shutdown(wait=wait, cancel_futures=True)


atexit.register(close_pools, False)


def stop_pools() -> None:
    """Kill every worker this process started and reap them: for a process about to exit.

    That is the warm pools' workers, and those of a pool an interrupt already closed
    without waiting (their shutdown is left to a thread that an exit without teardown
    never runs: they would outlive the process, holding its output pipes). A worker holds
    nothing between maps, and letting it exit on its own (torch, the encoder, its denoise
    server) keeps its parent waiting about a second.

    Then multiprocessing's own exit clean-up (the finalizers an exit without teardown
    skips): the pools' semaphores are unlinked and unregistered, so the resource tracker,
    left behind, has no "leaked semaphore objects" to warn of. Each pool's manager thread
    holds its queues, and those their semaphores: were the thread's object freed on its
    own thread as it ends, their finalizers would run there (unlink, then unregister), and
    an exit between the two leaves the tracker a semaphore it can no longer unlink
    ("leaked ... No such file or directory"). So this thread holds the manager threads
    until the finalizers have run here."""
    import concurrent.futures.process as cfp

    managers = list(cfp._threads_wakeups.items())  # before the pools let go of them
    close_pools(wait=False)
    workers = multiprocessing.active_children()
    for p in workers:
        p.kill()
    for p in workers:
        p.join()
    for _, wakeup in managers:  # what the interpreter's exit does before it joins threads
        with contextlib.suppress(OSError):  # closed by its thread, which is ending
            wakeup.wakeup()
    for thread, _ in managers:  # with its workers gone, it finds its pool broken and ends
        thread.join(5.0)
    multiprocessing.util._run_finalizers(0)  # type: ignore[attr-defined]
    del managers  # their queues go here, on this thread: their finalizers have run


_WHILE_WAITING: list[Callable[[], None]] = []


def while_waiting(task: Callable[[], None]) -> None:
    """Run `task` once, on this process's own thread, the next time a pooled map has handed
    its voices to the workers and waits on them: work that would otherwise follow a stage
    (an import, say) then overlaps it. Not on a thread of its own: two threads importing one
    package graph at once can each see the other's modules half-initialized (Python accepts
    a partially initialized module to break an import deadlock), and the import fails."""
    if task not in _WHILE_WAITING:
        _WHILE_WAITING.append(task)


CHUNK_MAX = 8  # voices per task while many are left (1: a task per voice)


def chunk_sizes(total: int, workers: int, most: int | None = None) -> list[int]:
    """Guided chunks of `total` voices over `workers`: each a quarter of the voices left
    per worker, at most `most` (`CHUNK_MAX`), at least one; they shrink to single voices
    at the end."""
    most = CHUNK_MAX if most is None else most
    sizes = []
    left = total
    while left > 0:
        size = max(1, min(most, left // (4 * max(1, workers))))
        sizes.append(size)
        left -= size
    return sizes


def run_chunk(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """A pool task: fn over one chunk's voices, in order."""
    return [fn(item) for item in items]


def _submit_chunks(
    pool: ProcessPoolExecutor, fn: Callable[[T], R], items: Sequence[T], workers: int
) -> list[tuple[Future[list[R]], int]]:
    """Each item's (chunk's future, index within the chunk), in order."""
    slots: list[tuple[Future[list[R]], int]] = []
    start = 0
    for size in chunk_sizes(len(items), workers):
        future = pool.submit(run_chunk, fn, list(items[start : start + size]))
        slots += [(future, i) for i in range(size)]
        start += size
    return slots


_AHEAD: dict[tuple[Callable[..., Any], Any], tuple[Future[list[Any]], int]] = {}
_WORK_AHEAD = [False]


def work_ahead(enabled: bool) -> None:
    """Let `submit_ahead` hand work to the pool (off: it hands nothing over)."""
    _WORK_AHEAD[0] = enabled
    if not enabled:
        drop_ahead()


def working_ahead() -> bool:
    return _WORK_AHEAD[0]


def submit_ahead(fn: Callable[[T], R], items: Iterable[T], workers: int) -> int:
    """Hand `fn` over `items` to the warm pool now, without waiting: a later
    `map_voices(fn, ...)` takes their results instead of computing them again. Returns how
    many were handed over (none with one worker, or with work ahead off)."""
    if not _WORK_AHEAD[0] or workers <= 1:
        return 0
    new = list(dict.fromkeys(item for item in items if (fn, item) not in _AHEAD))
    for item, slot in zip(new, _submit_chunks(_pool(workers), fn, new, workers), strict=True):
        _AHEAD[(fn, item)] = slot
    return len(new)


def drop_ahead() -> None:
    """Forget the work handed over ahead and not taken; what is still queued is cancelled
    (a chunk a map took a voice of is done by then: the map waited on it)."""
    futures = {id(f): f for f, _ in _AHEAD.values()}
    _AHEAD.clear()
    for future in futures.values():
        future.cancel()


def _taken_ahead(fn: Callable[[T], R], item: T) -> tuple[Future[list[R]], int] | None:
    if not _AHEAD:
        return None
    try:
        return _AHEAD.pop((fn, item), None)
    except TypeError:  # an item that cannot be a key was never handed over ahead
        return None


def map_voices(
    fn: Callable[[T], R],
    items: Sequence[T],
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> list[R]:
    """fn over items, in order; in-process for one worker, else over the warm spawn pool."""
    total = len(items)
    results: list[R] = []
    pooled = workers > 1 and (total > 1 or bool(_AHEAD))
    it: Iterable[R] = map(fn, items)
    if pooled:
        pool = _pool(workers)
        taken = [_taken_ahead(fn, item) for item in items]
        rest = [item for item, slot in zip(items, taken, strict=True) if slot is None]
        fresh = iter(_submit_chunks(pool, fn, rest, workers))
        slots = [slot if slot is not None else next(fresh) for slot in taken]
        it = (future.result()[k] for future, k in slots)
    try:
        while pooled and _WHILE_WAITING:  # the voices are all submitted: the pool works on
            _WHILE_WAITING.pop(0)()
        for r in it:
            results.append(r)
            if progress:
                progress(len(results), total)
    except BaseException:
        if pooled:  # an interrupt or a broken pool: drop the queued voices, do not wait
            close_pools(wait=False)
        raise
    return results
