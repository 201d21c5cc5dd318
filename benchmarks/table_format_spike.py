"""Open table formats side by side on the lake's own table shape: the measurements behind
docs/decisions/0001-table-format.md.

    python benchmarks/table_format_spike.py --sizes 10000 1000000 \
        --ducklake-python /path/to/venv-with-duckdb-1.5/bin/python

Candidates: Delta Lake (deltalake), Apache Iceberg (pyiceberg, SQL catalog on SQLite),
Lance (pylance) and DuckLake (DuckDB 1.5 with the `duckdb-extension-ducklake` wheel; it
runs under --ducklake-python because its extension exists for DuckDB 1.5 only). None of
them is a dependency of voxlake; install them beside it to rerun this:
`pip install deltalake pyiceberg[sql-sqlite] pylance moto[server]`, and for DuckLake a
second environment with `duckdb==1.5.* duckdb-extension-ducklake==1.5.5`.

The table is a `voices`-like table of N voices in batches of 500, unpartitioned: each
batch is one commit of one file, so min/max statistics on `batch` prune a batch's read,
and compaction merges neighbouring batches. The history is realistic at its end: all but
the last 50 batches are bulk-loaded 100 batches a commit, and the last 50 are committed one
by one. Each candidate, at each size, in a fresh folder:

- `open_s`: opening the table, as each step (a fresh process) does; every figure below
  includes it, because voxlake commits each table once per step;
- `commit_batch_s`: median of those 50 commits (append one batch);
- `replace_batch_s`: median of 5 atomic replacements of one batch (one commit each);
- `read_batch_s`: median of 5 reads of one batch through DuckDB SQL;
- `aggregate_s`: median of 3 whole-table aggregates through DuckDB SQL;
- `files_before` / `files_after` and `compact_s`: data files, and the compaction between;
- `time_travel_ok`: the version before the last commit reads N - 500 rows;
- `fork_child_commit`: a forked child commits after its parent used the library (Celery's
  prefork pool forks);
- `concurrent_s3`: two processes append 20 batches each at once to the same table on the
  S3 emulator (moto in server mode): rows present and commits lost.

Writes benchmarks/results/table_format_spike.json (one object per format and size) and
prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

RESULTS = Path(__file__).resolve().parent / "results"
BATCH = 500
TAIL = 50  # batches committed one by one at the end of the history
BULK = 100  # batches per commit before that
FORMATS = ("delta", "delta_ckpt10", "iceberg", "lance", "ducklake")

SCHEMA = pa.schema(
    [
        ("voice_id", pa.string()),
        ("batch", pa.string()),
        ("speaker", pa.string()),
        ("source", pa.string()),
        ("sample_rate", pa.int32()),
        ("duration_s", pa.float64()),
        ("rms_dbfs", pa.float64()),
        ("labels", pa.string()),
        ("raw_path", pa.string()),
    ]
)


def batch_key(i: int) -> str:
    return f"{i + 1:06d}-{i * 2654435761 % 2**32:08x}"


def make_batch(i: int, version: int = 0) -> pa.Table:
    rng = np.random.default_rng([i, version])
    ids = [f"{x:064x}" for x in rng.integers(0, 2**62, BATCH, dtype=np.int64)]
    return pa.table(
        {
            "voice_id": ids,
            "batch": [batch_key(i)] * BATCH,
            "speaker": [f"spk{x:04d}" for x in rng.integers(0, 2000, BATCH)],
            "source": ["librispeech"] * BATCH,
            "sample_rate": pa.array(np.full(BATCH, 16000, dtype=np.int32)),
            "duration_s": rng.uniform(1, 20, BATCH),
            "rms_dbfs": rng.normal(-25, 5, BATCH),
            "labels": ['{"text": "a sentence of some length"}'] * BATCH,
            "raw_path": [f"audio/raw/{v[:2]}/{v}.flac" for v in ids],
        },
        schema=SCHEMA,
    )


def timed(fn: Callable[[], Any], repeat: int = 1) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return round(statistics.median(times), 4)


# --- the candidates: each opens a table at `root`, and answers the same calls ------------


class Candidate:
    def __init__(self, root: str, storage: dict[str, str] | None = None) -> None:
        self.root, self.storage = root, storage or {}

    def create(self, first: pa.Table) -> None: ...
    def append(self, t: pa.Table) -> None: ...
    def replace(self, batch: str, t: pa.Table) -> None: ...
    def version(self) -> int: ...
    def count_at(self, version: int) -> int:  # rows at the version before `version`
        ...

    def open(self) -> None:  # what every step, a fresh process, pays to open the table
        self.version()

    def files(self) -> int: ...
    def compact(self) -> None: ...
    def sql(self, query: str) -> list[tuple[Any, ...]]:  # over a view named `voices`
        ...


class Delta(Candidate):
    checkpoint_interval: int | None = None  # delta-rs' default: a checkpoint every 100 commits

    def _dt(self, version: int | None = None) -> Any:
        from deltalake import DeltaTable

        return DeltaTable(self.root, version=version, storage_options=self.storage or None)

    def create(self, first: pa.Table) -> None:
        from deltalake import write_deltalake

        every = self.checkpoint_interval
        config = {"delta.checkpointInterval": str(every)} if every else None
        write_deltalake(
            self.root, first, configuration=config, storage_options=self.storage or None
        )

    def append(self, t: pa.Table) -> None:
        from deltalake import write_deltalake

        write_deltalake(self.root, t, mode="append", storage_options=self.storage or None)

    def replace(self, batch: str, t: pa.Table) -> None:
        from deltalake import write_deltalake

        write_deltalake(
            self.root,
            t,
            mode="overwrite",
            predicate=f"batch = '{batch}'",
            storage_options=self.storage or None,
        )

    def version(self) -> int:
        return int(self._dt().version())

    def count_at(self, version: int) -> int:
        return int(self._dt(version - 1).to_pyarrow_dataset().count_rows())

    def files(self) -> int:
        return len(self._dt().file_uris())

    def compact(self) -> None:
        dt = self._dt()
        dt.optimize.compact(target_size=256 * 2**20)
        dt.create_checkpoint()
        dt.vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False)

    def sql(self, query: str) -> list[tuple[Any, ...]]:
        import duckdb

        voices = self._dt().to_pyarrow_dataset()  # noqa: F841 - DuckDB's replacement scan
        return duckdb.sql(query).fetchall()


class Iceberg(Candidate):
    def _catalog(self) -> Any:
        from pyiceberg.catalog.sql import SqlCatalog

        return SqlCatalog(
            "lake", uri=f"sqlite:///{self.root}/catalog.db", warehouse=f"file://{self.root}/wh"
        )

    def _table(self) -> Any:
        return self._catalog().load_table("lake.voices")

    def create(self, first: pa.Table) -> None:
        Path(self.root).mkdir(parents=True, exist_ok=True)
        cat = self._catalog()
        cat.create_namespace("lake")
        cat.create_table("lake.voices", schema=SCHEMA).append(first)

    def append(self, t: pa.Table) -> None:
        self._table().append(t)

    def replace(self, batch: str, t: pa.Table) -> None:
        from pyiceberg.expressions import EqualTo

        self._table().overwrite(t, overwrite_filter=EqualTo("batch", batch))

    def version(self) -> int:
        return int(self._table().current_snapshot().snapshot_id)

    def count_at(self, version: int) -> int:
        table = self._table()
        snaps = [s.snapshot_id for s in table.snapshots()]
        before = snaps[snaps.index(version) - 1]
        return sum(t.file.record_count for t in table.scan(snapshot_id=before).plan_files())

    def files(self) -> int:
        return len(list(self._table().scan().plan_files()))

    def compact(self) -> None:  # pyiceberg has no data-file compaction: expire only
        import datetime as dt

        table = self._table()
        now = int(dt.datetime.now(dt.UTC).timestamp() * 1000) + 1
        table.maintenance.expire_snapshots().older_than(
            dt.datetime.fromtimestamp(now / 1000, dt.UTC)
        ).commit()

    def sql(self, query: str) -> list[tuple[Any, ...]]:
        import duckdb

        files = [
            t.file.file_path.removeprefix("file://") for t in self._table().scan().plan_files()
        ]
        listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        con = duckdb.connect()
        con.execute(f"create view voices as select * from read_parquet([{listed}])")
        return con.execute(query).fetchall()


class Lance(Candidate):
    def _ds(self, version: int | None = None) -> Any:
        import lance

        return lance.dataset(self.root, version=version, storage_options=self.storage or None)

    def create(self, first: pa.Table) -> None:
        self.append(first)

    def append(self, t: pa.Table) -> None:
        import lance

        lance.write_dataset(t, self.root, mode="append", storage_options=self.storage or None)

    def replace(self, batch: str, t: pa.Table) -> None:  # one commit: merge, delete the rest
        (
            self._ds()
            .merge_insert("voice_id")
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .when_not_matched_by_source_delete(f"batch = '{batch}'")
            .execute(t)
        )

    def version(self) -> int:
        return int(self._ds().version)

    def count_at(self, version: int) -> int:
        return int(self._ds(version - 1).count_rows())

    def files(self) -> int:
        return sum(len(f.data_files()) for f in self._ds().get_fragments())

    def compact(self) -> None:
        import datetime as dt

        ds = self._ds()
        ds.optimize.compact_files(target_rows_per_fragment=1024 * 1024)
        ds.cleanup_old_versions(older_than=dt.timedelta(0))

    def sql(self, query: str) -> list[tuple[Any, ...]]:
        import duckdb

        voices = self._ds()  # noqa: F841 - a pyarrow Dataset: DuckDB scans it
        return duckdb.sql(query).fetchall()


class DuckLake(Candidate):
    def _con(self) -> Any:
        import duckdb
        import duckdb_extension_ducklake as ext

        path = next(Path(ext.__file__).parent.rglob("ducklake.duckdb_extension"))
        con = duckdb.connect(config={"autoinstall_known_extensions": False})
        con.execute(f"load '{path}'")
        Path(self.root).mkdir(parents=True, exist_ok=True)
        con.execute(
            f"attach 'ducklake:{self.root}/meta.ducklake' as dl (data_path '{self.root}/data/')"
        )
        return con

    def create(self, first: pa.Table) -> None:
        with self._con() as con:
            con.execute("create table dl.voices as select * from first")

    def append(self, t: pa.Table) -> None:
        with self._con() as con:
            con.execute("insert into dl.voices select * from t")

    def replace(self, batch: str, t: pa.Table) -> None:
        with self._con() as con:
            con.execute("begin")
            con.execute("delete from dl.voices where batch = ?", [batch])
            con.execute("insert into dl.voices select * from t")
            con.execute("commit")

    def version(self) -> int:
        with self._con() as con:
            return int(con.execute("select max(snapshot_id) from dl.snapshots()").fetchone()[0])

    def count_at(self, version: int) -> int:
        with self._con() as con:
            q = f"select count(*) from dl.voices at (version => {version - 1})"
            return int(con.execute(q).fetchone()[0])

    def files(self) -> int:
        with self._con() as con:
            return len(con.execute("from ducklake_list_files('dl', 'voices')").fetchall())

    def compact(self) -> None:
        with self._con() as con:
            con.execute("call ducklake_merge_adjacent_files('dl')")
            con.execute("call ducklake_expire_snapshots('dl', older_than => now())")
            con.execute("call ducklake_cleanup_old_files('dl', cleanup_all => true)")

    def sql(self, query: str) -> list[tuple[Any, ...]]:
        with self._con() as con:
            con.execute("use dl")
            return con.execute(query).fetchall()


class DeltaCheckpoints(Delta):
    """Delta with a checkpoint every 10 commits: a commit then replays at most 10 JSON
    entries after the last checkpoint, where the default replays up to 100."""

    checkpoint_interval = 10


CANDIDATES: dict[str, type[Candidate]] = {
    "delta": Delta,
    "delta_ckpt10": DeltaCheckpoints,
    "iceberg": Iceberg,
    "lance": Lance,
    "ducklake": DuckLake,
}


# --- one candidate at one size, in this process ------------------------------------------


def _fork_child_commit(c: Candidate, n_batches: int) -> str:
    """A forked child commits after the parent used the library (Celery's prefork pool)."""
    c.version()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: commit, report by exit status and its error's first line
        os.close(read)
        try:
            c.append(make_batch(n_batches + 10_000))
            os._exit(0)
        except BaseException as e:
            os.write(write, f"{type(e).__name__}: {e}".splitlines()[0][:200].encode())
            os._exit(3)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    with os.fdopen(read) as f:
        said = f.read()
    if os.WIFSIGNALED(status):
        return f"child killed by signal {os.WTERMSIG(status)}"
    return "ok" if os.WEXITSTATUS(status) == 0 else f"child failed: {said}"


def measure(fmt: str, voices: int, root: Path) -> dict[str, Any]:
    n = voices // BATCH
    c = CANDIDATES[fmt](str(root))
    out: dict[str, Any] = {"format": fmt, "voices": voices, "batches": n}
    bulk_end = max(n - TAIL, 1)
    t0 = time.perf_counter()
    c.create(make_batch(0))
    for start in range(1, bulk_end, BULK):
        c.append(pa.concat_tables(make_batch(i) for i in range(start, min(start + BULK, bulk_end))))
    out["bulk_load_s"] = round(time.perf_counter() - t0, 2)
    commits = [timed(lambda i=i: c.append(make_batch(i))) for i in range(bulk_end, n)]
    last_append = c.version()
    out["open_s"] = timed(c.open, 5)
    out["commit_batch_s"] = statistics.median(commits)
    out["commit_first_last_s"] = [commits[0], commits[-1]]
    victim = batch_key(n // 2)
    out["replace_batch_s"] = statistics.median(
        timed(lambda v=v: c.replace(victim, make_batch(n // 2, v))) for v in range(1, 6)
    )
    q_batch = f"select count(*), avg(duration_s) from voices where batch = '{batch_key(n - 3)}'"
    q_all = "select speaker, count(*), avg(duration_s) from voices group by speaker"
    out["read_batch_s"] = timed(lambda: c.sql(q_batch), 5)
    out["aggregate_s"] = timed(lambda: c.sql(q_all), 3)
    total = c.sql("select count(*), count(distinct batch) from voices")[0]
    out["duckdb_reads_committed"] = list(total) == [n * BATCH, n]
    out["time_travel_ok"] = c.count_at(last_append) == n * BATCH - BATCH
    out["files_before"] = c.files()
    out["compact_s"] = timed(c.compact)
    out["files_after"] = c.files()
    out["aggregate_after_compact_s"] = timed(lambda: c.sql(q_all), 3)
    out["rows_after_compact_ok"] = c.sql("select count(*) from voices")[0][0] == n * BATCH
    out["fork_child_commit"] = _fork_child_commit(c, n)
    out["bytes"] = sum(f.stat().st_size for f in root.rglob("*") if f.is_file())
    return out


# --- two writers at once on the S3 emulator ----------------------------------------------


def _writer(fmt: str, uri: str, storage: dict[str, str], who: int, count: int) -> None:
    c = CANDIDATES[fmt](uri, storage)
    for i in range(count):
        for attempt in range(20):
            try:
                c.append(make_batch(who * 1000 + i))
                break
            except Exception:
                if attempt == 19:
                    raise
                time.sleep(0.05 * (attempt + 1))


def concurrent_s3(fmt: str, endpoint: str, count: int = 20) -> dict[str, Any]:
    storage = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ALLOW_HTTP": "true",
        "aws_conditional_put": "etag",
    }
    uri = f"s3://spike/{fmt}-{int(time.time())}"
    CANDIDATES[fmt](uri, storage).create(make_batch(999_999))
    code = (
        "import sys, json; sys.path.insert(0, sys.argv[1]); import table_format_spike as s; "
        "s._writer(sys.argv[2], sys.argv[3], json.loads(sys.argv[4]), int(sys.argv[5]), "
        "int(sys.argv[6]))"
    )
    here = str(Path(__file__).resolve().parent)
    args = [here, fmt, uri, json.dumps(storage)]
    t0 = time.perf_counter()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, *args, str(w), str(count)], stderr=subprocess.PIPE
        )
        for w in (1, 2)
    ]
    errors = [p.communicate()[1].decode()[-300:] for p in procs]
    wall = time.perf_counter() - t0
    rows = CANDIDATES[fmt](uri, storage).sql("select count(*) from voices")[0][0]
    expected = (2 * count + 1) * BATCH
    return {
        "writers": 2,
        "appends_each": count,
        "wall_s": round(wall, 2),
        "rows": rows,
        "expected_rows": expected,
        "lost_commits": (expected - rows) // BATCH,
        "writer_errors": [e for e, p in zip(errors, procs, strict=True) if p.returncode],
    }


def _moto() -> tuple[subprocess.Popen[bytes], str]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    import urllib.request

    for _ in range(100):
        try:
            req = urllib.request.Request(f"{endpoint}/spike", method="PUT")
            urllib.request.urlopen(req, timeout=2)
            break
        except OSError:
            time.sleep(0.2)
    return proc, endpoint


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    ap.add_argument("--formats", nargs="+", default=list(FORMATS))
    ap.add_argument("--ducklake-python", help="a Python with duckdb 1.5 and its ducklake wheel")
    ap.add_argument("--one", nargs=2, metavar=("FORMAT", "VOICES"), help=argparse.SUPPRESS)
    ap.add_argument("--no-s3", action="store_true", help="skip the two-writer test on moto")
    ap.add_argument("--out", default=str(RESULTS / "table_format_spike.json"))
    args = ap.parse_args()
    if args.one:  # a child: one candidate, one size, one JSON line
        root = Path(tempfile.mkdtemp(prefix=f"spike-{args.one[0]}-"))
        try:
            print(json.dumps(measure(args.one[0], int(args.one[1]), root)))
        finally:
            shutil.rmtree(root, ignore_errors=True)
        return 0
    results: dict[str, Any] = {"batch_size": BATCH, "runs": [], "concurrent_s3": {}}
    for voices in args.sizes:
        for fmt in args.formats:
            python = args.ducklake_python if fmt == "ducklake" else sys.executable
            if python is None:
                continue
            done = subprocess.run(
                [python, __file__, "--one", fmt, str(voices)], capture_output=True, text=True
            )
            if done.returncode:
                row = {"format": fmt, "voices": voices, "error": done.stderr.strip()[-500:]}
            else:
                row = json.loads(done.stdout.strip().splitlines()[-1])
            print(json.dumps(row), flush=True)
            results["runs"].append(row)
    if not args.no_s3:
        proc, endpoint = _moto()
        try:
            for fmt in ("delta", "lance"):
                if fmt in args.formats:
                    try:
                        results["concurrent_s3"][fmt] = concurrent_s3(fmt, endpoint)
                    except Exception as e:  # a candidate that cannot commit there at all
                        results["concurrent_s3"][fmt] = {"error": f"{type(e).__name__}: {e}"[:400]}
                    print(fmt, json.dumps(results["concurrent_s3"][fmt]), flush=True)
        finally:
            proc.terminate()
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
