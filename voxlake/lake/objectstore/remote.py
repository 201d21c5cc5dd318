"""Steps on a lake whose root is an object store: what each kind of step pulls and leases.

A step is one of three kinds, and each pulls only what it reads (`voxlake.lake.objectstore.mirror`
does the moving):
- a batch step (`batch_session`): the batch's manifest, commit and table parts, and the
  files its input tables name (the inbox files for the raw stage, the raw audio for the
  denoiser, the denoised audio for mel and embeddings). O(batch), whatever the lake's size.
- a dataset step (`dataset_session`: mel statistics, the index, compaction): the
  store-wide "global" lease, then what that step needs: the stats accumulator with the
  included copies of the changed batches only, the index's state, or the recorded
  snapshots. The tables (delta-rs) and the index's Lance data are read in place on the
  store.
- the inbox scan (`inbox_session`): the "batches" lease, the manifests and the inbox.

Each pushes what it changed and commits the batches it wrote before it returns; a step
that raises pushes nothing, so a failed step leaves the store as it was.

Working copies live under a cache folder of this machine ($VOXLAKE_CACHE, default
~/.cache/voxlake), one slot per process at a time (an fcntl claim), reused by later steps.
"""

from __future__ import annotations

import fcntl
import json
import os
import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from voxlake.lake.hashing import hash_json
from voxlake.lake.objectstore.client import (
    ObjectStore,
    StoreConfig,
    check_access,
    open_store,
    store_tables,
)
from voxlake.lake.objectstore.lease import Lease
from voxlake.lake.objectstore.mirror import StoreFailed, WorkingCopy
from voxlake.lake.store import Lake
from voxlake.lake.tables import TRAFFIC, copy_tables

CACHE_ENV = "VOXLAKE_CACHE"
# Which table's path column names the files a batch step reads.
PATH_COLUMNS = {"voices": "raw_path", "denoise_metrics": "denoised_path"}
SLOTS = 64


STEPS_LOG = "steps.jsonl"


def _cpu_s() -> float:
    """CPU seconds of this process and its finished children (a stage's process pool)."""
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


class StepClock:
    """What one step cost this machine: wall time pulling, working and pushing, the CPU
    time of the work on the working copy, the step's table traffic (opening, reading,
    committing: `table_s`, `table_cpu_s`; nearly all of it inside the work, which less
    that is the stages' own), and the bytes its files moved. One JSON line per step in
    <cache>/steps.jsonl: what the cluster's cost is measured against."""

    def __init__(self, cache: Path, step: str):
        self.path, self.step = cache / STEPS_LOG, step
        self.marks: dict[str, float] = {}
        self.t0 = self.t1 = self.t2 = time.perf_counter()
        self.c0 = 0.0
        self.traffic0 = (TRAFFIC.seconds, TRAFFIC.cpu_s)

    def pulled(self) -> None:
        self.marks["pull_s"] = time.perf_counter() - self.t0
        self.t1, self.c0 = time.perf_counter(), _cpu_s()

    def worked(self) -> None:
        self.marks["work_s"] = time.perf_counter() - self.t1
        self.marks["work_cpu_s"] = _cpu_s() - self.c0
        self.t2 = time.perf_counter()

    def pushed(self, bytes_moved: int = 0) -> None:
        self.marks["push_s"] = time.perf_counter() - self.t2
        self.marks["table_s"] = TRAFFIC.seconds - self.traffic0[0]
        self.marks["table_cpu_s"] = TRAFFIC.cpu_s - self.traffic0[1]
        self.marks["transfer_bytes"] = bytes_moved
        line = {
            "step": self.step,
            "pid": os.getpid(),
            **{k: round(v, 4) for k, v in self.marks.items()},
        }
        with open(self.path, "a") as fh:
            fh.write(json.dumps(line, sort_keys=True) + "\n")


def default_cache() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "voxlake").absolute()


DATASET_NEEDS = ("stats", "index", "snapshots")
INDEX_STATE = ("index/_state.json", "index/_ann.json")  # what the index keeps beside Lance
STATS = "stats/"
STATS_PENDING = "stats/pending/"  # one marker per batch changed since the last update
STATS_SUMS = "stats/dataset.json"


def _pull_stats(wc: WorkingCopy) -> None:
    """What a dataset statistics update reads: the markers, the sums, and the included
    copies of the marked batches (checked against the store: a copy is rewritten when its
    batch runs again, so a held one may be stale)."""
    wc.pull_prefix(STATS_PENDING)
    if not wc.pull_object(STATS_SUMS):
        wc.pull_prefix(STATS)  # no sums yet: the first update visits every batch
        return
    pending = [
        rel.removeprefix(STATS_PENDING) for rel in wc.record if rel.startswith(STATS_PENDING)
    ]
    wc.pull_objects(f"{STATS}included/{batch}.parquet" for batch in sorted(pending))


@dataclass(frozen=True)
class StoreReading:
    """A read session's lake (a working copy whose tables are the store's) and its files:
    `sizes` from the store's listing, `fetch` into the copy (`voxlake.export.lake_files`)."""

    copy: WorkingCopy
    lake: Lake

    def _rels(self, paths: list[str]) -> list[str]:
        root = self.copy.root.as_posix() + "/"
        return [p.removeprefix(root) for p in paths]

    def sizes(self, paths: list[str]) -> list[int]:
        return self.copy.sizes(self._rels(paths))

    def fetch(self, paths: list[str]) -> None:
        self.copy.pull_keys(self._rels(paths))

    def release(self, paths: list[str]) -> None:
        self.copy.drop(self._rels(paths))


@dataclass(frozen=True)
class StoreLake:
    """A lake on a store, and where this machine keeps its working copies."""

    config: StoreConfig
    cache: Path

    @staticmethod
    def of(config: StoreConfig, cache: str | Path = "") -> StoreLake:
        return StoreLake(config, Path(cache).absolute() if cache else default_cache())

    @property
    def uri(self) -> str:
        return self.config.uri

    def store(self) -> ObjectStore:
        store = open_store(self.config)
        check_access(store, self.uri)
        return store

    @contextmanager
    def _copy(self) -> Iterator[WorkingCopy]:
        """A working copy no other process uses meanwhile (the first free slot), cleared of
        anything a step left there unpushed."""
        bucket, prefix = self.config.bucket_and_prefix
        # One folder per store (endpoint included: two stores may share a bucket's name).
        where = hash_json([self.config.endpoint_or_env(), bucket, prefix])[:12]
        base = self.cache / f"{bucket}-{where}"
        base.mkdir(parents=True, exist_ok=True)
        for slot in range(SLOTS):
            fh = open(base / f".slot-{slot}.lock", "w")  # noqa: SIM115 (held while in use)
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.close()
                continue
            try:
                wc = WorkingCopy(self.store(), base / f"slot-{slot}", store_tables(self.config))
                wc.discard()  # what a step that failed or was killed here left unpushed
                yield wc
            finally:
                fh.close()
            return
        raise RuntimeError(f"{base}: all {SLOTS} working-copy slots are in use")

    @contextmanager
    def _step(self, name: str, lease: str | None = None) -> Iterator[tuple[WorkingCopy, StepClock]]:
        """A step's frame: a working copy (under `lease` if given), and its clock; the caller
        pulls, calls `clock.pulled()` and yields the lake; the push follows a clean exit."""
        clock = StepClock(self.cache, name)
        with self._copy() as wc, Lease(wc.store, lease).hold() if lease else nullcontext():
            yield wc, clock  # the push stays under the lease: nothing pulled goes stale
            clock.worked()
            wc.push()
        clock.pushed(wc.bytes_moved)

    @contextmanager
    def batch_session(
        self, batch: str, reads: tuple[str, ...] = (), inbox: bool = False
    ) -> Iterator[Lake]:
        """`reads`: tables whose named files the step reads; `inbox`: the manifest's files."""
        with self._step(f"batch {batch}") as (wc, clock):
            wc.pull_keys([f"batches/{batch}.json"])
            lake = wc.lake()
            if inbox:
                manifest = json.loads((lake.batches_dir / f"{batch}.json").read_text())
                wc.pull_keys(
                    f"inbox/{f['path']}" for f in manifest["files"] if f.get("root") is None
                )
            for table in reads:
                col = PATH_COLUMNS[table]
                wc.pull_keys(p for p in lake.read_table(table, batch).column(col).to_pylist() if p)
            clock.pulled()
            yield lake

    @contextmanager
    def dataset_session(self, needs: tuple[str, ...] = DATASET_NEEDS) -> Iterator[Lake]:
        """A dataset-wide step under the global lease, with what it `needs` of DATASET_NEEDS:
        - `stats`: the accumulator, the pending markers and the included copies of the
          pending batches only (`voxlake.features.dataset`), so a step lists and fetches
          O(changed batches), not O(batches); the first update takes all of `stats/`;
        - `index`: the index's state files (`INDEX_STATE`); its Lance data is read and
          written in place on the store (`voxlake.embed.index_table.location`), so a step
          neither lists nor fetches it;
        - `snapshots`: the recorded snapshots (what compaction must keep)."""
        unknown = set(needs) - set(DATASET_NEEDS)
        if unknown:
            raise ValueError(f"unknown dataset needs {sorted(unknown)}: {DATASET_NEEDS}")
        with self._step("dataset", lease="global") as (wc, clock):
            if "stats" in needs:
                _pull_stats(wc)
            if "index" in needs:  # the Lance data is read and written in place
                wc.pull_objects(INDEX_STATE)
            if "snapshots" in needs:
                wc.pull_prefix("snapshots/")
            clock.pulled()
            yield wc.lake()

    @contextmanager
    def inbox_session(self) -> Iterator[Lake]:
        with self._step("inbox", lease="batches") as (wc, clock):
            wc.pull_prefix("batches/")
            wc.pull_prefix("inbox/")
            clock.pulled()
            yield wc.lake()

    @contextmanager
    def read_session(self) -> Iterator[StoreReading]:
        """A step that only reads the lake (an export's plan or write step): no lease, the
        tables read in place, the recorded snapshots pulled, the files it names fetched on
        demand (`StoreReading.fetch`). Nothing is pushed but the snapshots it recorded
        (immutable, named by their content); a store that refuses them gets a warning."""
        with self._copy() as wc:
            wc.pull_prefix("snapshots/")
            reading = StoreReading(wc, wc.lake())
            yield reading
            try:
                wc.push_new("snapshots/")
            except StoreFailed as e:
                print(
                    f"voxlake: warning: {self.uri} did not take the snapshot record ({e}); "
                    "`voxlake compact` may expire that snapshot",
                    file=sys.stderr,
                )
                wc.discard()
            wc.save()

    def snapshot(self, folder: Path, audio: bool = False) -> Lake:
        """A local copy of the lake's committed state (tables, stats, index, manifests; the
        audio and features too with `audio`): for `verify --export-manifest`, `doctor`."""
        wc = WorkingCopy(self.store(), folder, store_tables(self.config))
        if audio:
            wc.pull_prefix("audio/")
            wc.pull_prefix("features/")
        wc.pull_prefix("batches/", keep=lambda rel: not rel.rsplit("/", 1)[-1].startswith("_s"))
        wc.pull_prefix("stats/")
        wc.pull_prefix("index/")
        wc.save()
        local = Lake(folder, lease_uri="").ensure()
        copy_tables(store_tables(self.config), local.tables)
        return local

    def publish(self, lake: Lake) -> int:
        """Push a local lake to the store: its files, then its tables, each in one commit;
        returns the files sent and the tables committed."""
        tables = store_tables(self.config)
        sent = WorkingCopy(self.store(), lake.root, tables).push().uploaded
        return sent + copy_tables(lake.tables, tables)
