"""A lake on an object store, worked on through a local copy of what one step touches.

Every stage, check and table write runs on a local folder, as in the embedded lake (the
same code, atomic renames, fast reads). On a store a step goes:

1. **pull** the objects it reads into this machine's working copy, by e_tag (an object
   already held with the same e_tag is not fetched again);
2. **work** on the copy;
3. **push** what changed, in an order that lets nothing half-written be trusted:
   content-addressed audio and features first (a name is its content, so a stray one is
   harmless), then everything else, then tables, and last one commit object per batch
   it wrote, `commits/batch=<key>.json`, naming each of the batch's table parts with its
   e_tag. The commit replaces the old one only if that is unchanged (If-Match), so two
   writers of one batch cannot both win.

Readers of the store trust a batch only where every part matches its commit
(`consistent_parts`): a worker killed between two parts leaves the batch invisible to
them until a rerun commits it again, never half old and half new.

Nothing is pushed that is derived per machine: the Dagster home, scratch lakes, the
DuckDB catalog, lock files and the inbox-seen index (rebuilt from the manifests).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import obstore
from obstore.exceptions import BaseError

from voxlake.lake.objectstore import Conflict, ObjectStore, create_json, read_json, replace_json
from voxlake.lake.store import Lake, atomic_write_bytes, atomic_write_json, file_signature

COMMITS = "commits"
RECORD = ".mirror/record.json"
TRANSFER_THREADS = 8
NOT_PUSHED_TOP = frozenset({"dagster", "scratch", "inbox", "demo", "catalog.duckdb", ".mirror"})
NOT_PUSHED = frozenset({"batches/_seen.sqlite", "batches/_voices.sqlite"})  # derived here
FIRST = ("audio/", "features/")  # content-addressed: pushed before anything names them


class StoreFailed(RuntimeError):
    """The store failed in the middle of a step's pull or push (unreachable, refused). The
    step fails and is retried; nothing it had pushed is trusted, its batch's commit being
    unchanged."""


@contextmanager
def _store_errors(action: str) -> Iterator[None]:
    try:
        yield
    except (Conflict, FileNotFoundError):
        raise
    except (BaseError, OSError, TimeoutError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        raise StoreFailed(
            f"the store failed while {action} ({first}); nothing of this step is trusted "
            "until a rerun commits it"
        ) from e


class CommitConflict(RuntimeError):
    """Another writer committed the same batch since this one read it."""


@dataclass(frozen=True)
class Pushed:
    uploaded: int
    deleted: int
    bytes: int
    commits: tuple[str, ...]


def _batch_of(rel: str) -> str | None:
    """The batch a table part belongs to (tables/<t>/batch=<key>/...), else None."""
    parts = rel.split("/")
    if len(parts) >= 4 and parts[0] == "tables" and parts[2].startswith("batch="):
        return parts[2].split("=", 1)[1]
    return None


def _pushed(rel: str) -> bool:
    top = rel.split("/", 1)[0]
    name = rel.rsplit("/", 1)[-1]
    return (
        top not in NOT_PUSHED_TOP
        and rel not in NOT_PUSHED
        and not name.startswith(".")
        and not top.startswith(".")
    )


def commit_key(batch: str) -> str:
    return f"{COMMITS}/batch={batch}.json"


def consistent_parts(
    listing: Iterable[tuple[str, str]], commits: dict[str, dict[str, str]]
) -> tuple[list[str], list[str]]:
    """(trusted paths, batches held back) from (path, e_tag) pairs under tables/ and each
    batch's committed parts. A global table's file is trusted as it is (one object);
    a batch's parts only when they are exactly the committed set with the committed e_tags."""
    by_batch: dict[str, dict[str, str]] = {}
    trusted: list[str] = []
    for path, etag in listing:
        batch = _batch_of(path)
        if batch is None:
            trusted.append(path)
        else:
            by_batch.setdefault(batch, {})[path] = etag
    held: list[str] = []
    for batch, parts in sorted(by_batch.items()):
        if commits.get(batch) == parts:
            trusted += sorted(parts)
        else:
            held.append(batch)
    return sorted(trusted), held


class WorkingCopy:
    """This machine's copy of part of a store lake, and what it knows of each object."""

    def __init__(self, store: ObjectStore, folder: Path):
        self.store = store
        self.root = folder.absolute()
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / RECORD
        # rel -> [e_tag on the store, local signature when fetched or pushed]
        self.record: dict[str, list[str | None]] = (
            json.loads(path.read_text()) if path.exists() else {}
        )

    def lake(self) -> Lake:
        # Private to this machine: the store-wide lease is taken by the session around it.
        return Lake(self.root, lease_uri="").ensure()

    def save(self) -> None:
        atomic_write_json(self.root / RECORD, self.record)

    # pull
    def listing(self, prefix: str) -> list[tuple[str, str]]:
        """(path, e_tag) of every object under `prefix`."""
        chunks = obstore.list(self.store, prefix=prefix, chunk_size=1000)
        return [(m["path"], m["e_tag"] or "") for chunk in chunks for m in chunk]

    def _held(self, rel: str, etag: str | None) -> bool:
        got = self.record.get(rel)
        return bool(
            got and (etag is None or got[0] == etag) and got[1] == file_signature(self.root / rel)
        )

    def _fetch(self, rel: str) -> bool:
        try:
            got = obstore.get(self.store, rel)
        except FileNotFoundError:
            return False
        dst = self.root / rel
        atomic_write_bytes(dst, bytes(got.bytes()))
        # The store's time becomes the file's, so a mirrored inbox file has the same
        # (path, size, mtime) key on every machine that pulls it.
        ns = int(got.meta["last_modified"].timestamp() * 1_000_000) * 1000
        os.utime(dst, ns=(ns, ns))
        self.record[rel] = [got.meta["e_tag"], file_signature(dst)]
        return True

    def pull_prefix(self, prefix: str, keep: Callable[[str], bool] = lambda rel: True) -> int:
        """Mirror everything under `prefix`: fetch what is new or changed, remove local
        copies of objects the store no longer has. Returns the number fetched."""
        with _store_errors(f"pulling {prefix}"):
            listed = {path: etag for path, etag in self.listing(prefix) if keep(path)}
        wanted = [rel for rel, etag in listed.items() if not self._held(rel, etag)]
        gone = [r for r in self.record if r.startswith(prefix) and r not in listed]
        for rel in gone:
            (self.root / rel).unlink(missing_ok=True)
            del self.record[rel]
        if any(r.startswith("batches/") for r in gone):  # derived from what is gone: rebuild
            for rel in NOT_PUSHED:
                (self.root / rel).unlink(missing_ok=True)
        with _store_errors(f"pulling {prefix}"), ThreadPoolExecutor(TRANSFER_THREADS) as pool:
            return sum(pool.map(self._fetch, sorted(wanted)))

    def pull_object(self, rel: str) -> bool:
        """Mirror one object: fetch it if changed, drop the local copy if the store has none."""
        try:
            etag = obstore.head(self.store, rel)["e_tag"]
        except FileNotFoundError:
            (self.root / rel).unlink(missing_ok=True)
            self.record.pop(rel, None)
            return False
        return self._held(rel, etag) or self._fetch(rel)

    def pull_committed(self, prefix: str) -> list[str]:
        """Mirror the table parts under `prefix` that readers may trust (every batch whose
        parts match its commit); returns the batches held back."""
        self.pull_prefix(f"{COMMITS}/")
        commits = {
            p.stem.split("=", 1)[1]: json.loads(p.read_text())["parts"]
            for p in sorted((self.root / COMMITS).glob("batch=*.json"))
        }
        trusted, held = consistent_parts(self.listing(prefix), commits)
        keep = set(trusted)
        self.pull_prefix(prefix, keep=keep.__contains__)
        return held

    def pull_keys(self, keys: Iterable[str]) -> int:
        """Fetch these objects unless held (content-addressed: a held copy is current);
        missing ones are skipped."""
        wanted = sorted({k for k in keys if not self._held(k, None)})
        with _store_errors("pulling a step's files"), ThreadPoolExecutor(TRANSFER_THREADS) as pool:
            return sum(pool.map(self._fetch, wanted))

    # push
    def _changed(self) -> tuple[list[str], list[str]]:
        changed: list[str] = []
        present: set[str] = set()
        for dirpath, dirnames, filenames in os.walk(self.root):
            rel_dir = Path(dirpath).relative_to(self.root).as_posix()
            if rel_dir == ".":
                dirnames[:] = [d for d in dirnames if d not in NOT_PUSHED_TOP]
            for name in filenames:
                rel = name if rel_dir == "." else f"{rel_dir}/{name}"
                if not _pushed(rel):
                    continue
                present.add(rel)
                got = self.record.get(rel)
                if not got or got[1] != file_signature(self.root / rel):
                    changed.append(rel)
        gone = [r for r in self.record if _pushed(r) and r not in present]
        return sorted(changed), sorted(gone)

    def discard(self) -> int:
        """Drop what this copy changed and never pushed (a step that raised, or a process
        killed mid-step): a later step in this slot must not push or commit it. Changed
        files go, and their record with them, so the next pull fetches the store's."""
        changed, gone = self._changed()
        for rel in changed:
            (self.root / rel).unlink(missing_ok=True)
            self.record.pop(rel, None)
        for rel in gone:
            self.record.pop(rel, None)
        if changed or gone:
            self.save()
        return len(changed) + len(gone)

    def _upload(self, rel: str) -> int:
        data = (self.root / rel).read_bytes()
        put = obstore.put(self.store, rel, data)
        self.record[rel] = [put["e_tag"], file_signature(self.root / rel)]
        return len(data)

    def push(self) -> Pushed:
        changed, gone = self._changed()
        first = [r for r in changed if r.startswith(FIRST)]
        tables = [r for r in changed if r.startswith("tables/")]
        rest = [r for r in changed if r not in set(first) | set(tables)]
        sent = 0
        with _store_errors("pushing"), ThreadPoolExecutor(TRANSFER_THREADS) as pool:
            for group in (first, rest, tables):
                sent += sum(pool.map(self._upload, group))
            if gone:
                obstore.delete(self.store, gone)
                for rel in gone:
                    del self.record[rel]
        touched = sorted({b for r in [*tables, *gone] if (b := _batch_of(r)) is not None})
        commits = tuple(self._commit(b) for b in touched)
        self.save()
        return Pushed(len(changed), len(gone), sent, commits)

    def _commit(self, batch: str) -> str:
        parts = {
            rel: str(v[0]) for rel, v in sorted(self.record.items()) if _batch_of(rel) == batch
        }
        key = commit_key(batch)
        seen = self.record.get(key)
        try:
            if seen is None:
                etag = create_json(self.store, key, {"batch": batch, "parts": parts})
            else:
                etag = replace_json(self.store, key, {"batch": batch, "parts": parts}, str(seen[0]))
        except Conflict as e:
            raise CommitConflict(
                f"batch {batch} was committed by another writer since this one read it: "
                "its run must start again"
            ) from e
        atomic_write_json(self.root / key, {"batch": batch, "parts": parts})
        self.record[key] = [etag, file_signature(self.root / key)]
        return key


def committed(store: ObjectStore, batches: Iterable[str]) -> dict[str, dict[str, str]]:
    """Each batch's committed parts (absent batches are left out)."""
    out: dict[str, dict[str, str]] = {}
    for b in batches:
        got = read_json(store, commit_key(b))
        if got is not None:
            out[b] = dict(got[0]["parts"])
    return out


def trusted_listing_on_store(
    store: ObjectStore, prefix: str = "tables/"
) -> tuple[list[tuple[str, str]], list[str]]:
    """(trusted paths with their e_tags as listed, batches held back) under `prefix`, read
    from the store itself: what a reader without a working copy (`voxlake sql` on a store)
    may read."""
    chunks = obstore.list(store, prefix=prefix, chunk_size=1000)
    listing = [(m["path"], m["e_tag"] or "") for chunk in chunks for m in chunk]
    batches = sorted({b for path, _ in listing if (b := _batch_of(path)) is not None})
    trusted, held = consistent_parts(listing, committed(store, batches))
    etags = dict(listing)
    return [(path, etags[path]) for path in trusted], held
