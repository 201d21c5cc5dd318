"""The lake: one root folder, its layout, atomic writes and table I/O.

Layout under the root (default ./.voxlake or $VOXLAKE_HOME):
    inbox/                 landing folder the sensor watches
    batches/<key>.json     batch manifests written by the sensor
    audio/raw/ab/<id>.ext  raw voices, content-addressed (id = BLAKE3 of the bytes)
    audio/denoised/ab/<id>.flac
    features/mel/ab/<id>.npy
    tables/<table>/        Delta tables (voxlake.lake.tables)
    snapshots/<id>.json    snapshots that exports and hash manifests read
    index/                 LanceDB
    stats/                 dataset mel-stats accumulator
    quality/  lineage/  scratch/
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from voxlake.lake.schemas import TABLES
from voxlake.lake.tables import Tables

if TYPE_CHECKING:
    from voxlake.lake.objectstore.lease import Lease

DEFAULT_ROOT = ".voxlake"
LEASE_ENV = "VOXLAKE_LEASE_URI"


def default_root() -> Path:
    return Path(os.environ.get("VOXLAKE_HOME", DEFAULT_ROOT)).absolute()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def file_signature(path: Path) -> str | None:
    """ "inode:size:mtime_ns" of a file (None if absent). A working copy's files are
    replaced atomically and never edited in place, so a changed file has a new signature."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"


def atomic_write_json(path: Path, value: Any) -> None:
    atomic_write_bytes(path, (json.dumps(value, indent=2, sort_keys=True) + "\n").encode())


class Lake:
    """A lake rooted at one folder. Paths, table reads and atomic table writes."""

    def __init__(
        self,
        root: str | Path | None = None,
        lease_uri: str | None = None,
        tables: Tables | None = None,
    ):
        self.root = Path(root).absolute() if root is not None else default_root()
        self._tables = tables  # where a store lake's working copy reads and writes them
        self.lease_uri = os.environ.get(LEASE_ENV, "") if lease_uri is None else lease_uri

    def __repr__(self) -> str:
        return f"Lake({str(self.root)!r})"

    # layout
    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def batches_dir(self) -> Path:
        return self.root / "batches"

    @property
    def index_dir(self) -> Path:
        return self.root / "index"

    @property
    def stats_dir(self) -> Path:
        return self.root / "stats"

    @property
    def scratch_dir(self) -> Path:
        return self.root / "scratch"

    def ensure(self) -> Lake:
        for d in (self.inbox, self.batches_dir, self.root / "tables", self.stats_dir):
            d.mkdir(parents=True, exist_ok=True)
        return self

    def raw_audio(self, voice_id: str, ext: str) -> Path:
        return self.root / "audio" / "raw" / voice_id[:2] / f"{voice_id}{ext}"

    def denoised_audio(self, voice_id: str) -> Path:
        return self.root / "audio" / "denoised" / voice_id[:2] / f"{voice_id}.flac"

    def mel_features(self, voice_id: str) -> Path:
        return self.root / "features" / "mel" / voice_id[:2] / f"{voice_id}.npy"

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    # tables: Delta tables under tables/ (voxlake.lake.tables)
    @property
    def tables(self) -> Tables:
        return self._tables or Tables((self.root / "tables").as_posix())

    def table_dir(self, table: str) -> Path:
        return self.root / "tables" / table

    def write_table(
        self,
        table: str,
        rows: pa.Table | list[dict[str, Any]],
        batch: str | None = None,
        part: str = "part",
    ) -> pa.Table:
        """Replace one batch's part of a table (or a global table's part) in one commit."""
        schema = TABLES[table]
        t = rows if isinstance(rows, pa.Table) else pa.Table.from_pylist(rows, schema=schema)
        t = t.select(schema.names).cast(schema)
        self.tables.write(table, t, batch, part)
        return t

    def read_table(self, table: str, batch: str | None = None) -> pa.Table:
        """All rows of a table (or of one batch), in the declared schema."""
        return self.tables.read(table, batch)

    def table_rows(self, table: str, batch: str | None = None) -> int:
        return self.tables.rows(table, batch)

    def drop_batch(self, table: str, batch: str) -> None:
        self.tables.delete(table, batch)

    def table_batches(self, table: str) -> list[str]:
        """The batches holding rows of `table`."""
        return self.tables.batches(table)

    @contextmanager
    def lock(self, name: str, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
        """An exclusive lock across processes on this machine (fcntl on <root>/.<name>.lock).

        "global" serialises the dataset-wide writers (mel stats, index), "batches" the
        inbox scans, "catalog" the DuckDB catalog, "runs" the CLI's runs. `on_wait` is
        called once if the lock is held by another process. With `lease_uri` set
        ($VOXLAKE_LEASE_URI, an s3:// prefix every machine reaches) the lock is also a
        lease on that store, so it holds across machines (`voxlake.lake.objectstore.lease`).
        """
        self.root.mkdir(parents=True, exist_ok=True)
        told = False

        def waiting() -> None:
            nonlocal told
            if on_wait and not told:
                on_wait()
            told = True

        with open(self.root / f".{name}.lock", "w") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                waiting()
                fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                if self.lease_uri:
                    with self._lease(name).hold(on_wait=waiting):
                        yield
                else:
                    yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _lease(self, name: str) -> Lease:
        from voxlake.lake.objectstore import open_store
        from voxlake.lake.objectstore.lease import Lease

        return Lease(open_store(self.lease_uri), name)

    def sweep_stale_temp(self, older_than_s: float = 3600.0) -> int:
        """Remove temp files left by killed writers (only old ones: a live writer's stay)."""
        cutoff = time.time() - older_than_s
        removed = 0
        for p in self.root.rglob(".tmp-*"):
            try:
                if p.is_file() and p.stat().st_mtime < cutoff:
                    p.unlink()
                    removed += 1
            except OSError:
                continue
        return removed

    @contextmanager
    def scratch(self, name: str) -> Iterator[Lake]:
        """A throw-away lake under scratch/ (removed afterwards)."""
        path = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self._mk(self.scratch_dir)))
        try:
            yield Lake(path, lease_uri="").ensure()  # private to this process: no lease
        finally:
            shutil.rmtree(path, ignore_errors=True)

    @staticmethod
    def _mk(p: Path) -> Path:
        p.mkdir(parents=True, exist_ok=True)
        return p
