"""A lake on an object store: the files one step touches, copied to this machine.

The lake's tables are Delta tables read and written on the store in place (their own
commits make a batch's rows appear whole or not at all). What a step copies is the rest:
the content-addressed audio and features it reads, batch manifests, the inbox, and for
the dataset-wide steps the stats accumulator and the LanceDB index. A step goes:

1. **pull** the objects it reads into this machine's working copy, by e_tag (an object
   already held with the same e_tag is not fetched again);
2. **work** on the copy (its tables on the store);
3. **push** what changed: content-addressed audio and features first (a name is its
   content, so a stray one is harmless), then everything else. The step's table commits
   come after its files, so no committed row names a file the store lacks.

Nothing is pushed that is derived per machine: the Dagster home, scratch lakes, lock
files and the inbox-seen index (rebuilt from the manifests).
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

from voxlake.lake.objectstore.client import Conflict, ObjectStore
from voxlake.lake.store import Lake, atomic_write_bytes, atomic_write_json, file_signature
from voxlake.lake.tables import Tables

RECORD = ".mirror/record.json"
TRANSFER_THREADS = 8
NOT_PUSHED_TOP = frozenset({"dagster", "scratch", "inbox", "demo", "tables", ".mirror", "sources"})
NOT_PUSHED = frozenset({"batches/_seen.sqlite", "batches/_voices.sqlite"})  # derived here
FIRST = ("audio/", "features/")  # content-addressed: pushed before anything names them
# What says what else holds: the stats accumulator's sums (which partials are in them is
# included/ and pending/) and the index's record of its batches. Pushed after the rest of
# a step's files, so a step cut off mid-push never leaves sums that count a partial its
# included/ copy does not show (a retry would add it again).
LAST = ("stats/dataset.json", "index/_state.json")


class StoreFailed(RuntimeError):
    """The store failed in the middle of a step's pull or push (unreachable, refused). The
    step fails and is retried; its tables are not committed, so nothing it pushed is named
    by a row."""


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


@dataclass(frozen=True)
class Pushed:
    uploaded: int
    deleted: int
    bytes: int


def _pushed(rel: str) -> bool:
    top = rel.split("/", 1)[0]
    name = rel.rsplit("/", 1)[-1]
    return (
        top not in NOT_PUSHED_TOP
        and rel not in NOT_PUSHED
        and not name.startswith(".")
        and not top.startswith(".")
    )


class WorkingCopy:
    """This machine's copy of part of a store lake, and what it knows of each object."""

    def __init__(self, store: ObjectStore, folder: Path, tables: Tables):
        self.store = store
        # Before a table commit, the audio and features its rows may name reach the store.
        self.tables = Tables(tables.location, tables.storage_options, self.push_content)
        self.root = folder.absolute()
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / RECORD
        # rel -> [e_tag on the store, local signature when fetched or pushed]
        self.record: dict[str, list[str | None]] = (
            json.loads(path.read_text()) if path.exists() else {}
        )
        self.bytes_moved = 0  # fetched and uploaded by this copy object (a step's transfer)

    def lake(self) -> Lake:
        # Private to this machine: the store-wide lease is taken by the session around it.
        return Lake(self.root, lease_uri="", tables=self.tables).ensure()

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
        data = bytes(got.bytes())
        self.bytes_moved += len(data)
        atomic_write_bytes(dst, data)
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

    def pull_objects(self, rels: Iterable[str]) -> int:
        """`pull_object` for each (in parallel); the number present on the store."""
        wanted = sorted(set(rels))
        with _store_errors("pulling a step's files"), ThreadPoolExecutor(TRANSFER_THREADS) as pool:
            return sum(pool.map(self.pull_object, wanted))

    def pull_keys(self, keys: Iterable[str]) -> int:
        """Fetch these objects unless held (content-addressed: a held copy is current);
        missing ones are skipped."""
        wanted = sorted({k for k in keys if not self._held(k, None)})
        with _store_errors("pulling a step's files"), ThreadPoolExecutor(TRANSFER_THREADS) as pool:
            return sum(pool.map(self._fetch, wanted))

    def sizes(self, rels: list[str]) -> list[int]:
        """Bytes of each object, from one listing per folder they sit in (content-addressed
        folders: at most 256 per kind, however many objects); a missing one is an error."""
        folders = sorted({rel.rsplit("/", 1)[0] + "/" for rel in rels})

        def listed(folder: str) -> dict[str, int]:
            chunks = obstore.list(self.store, prefix=folder, chunk_size=1000)
            return {m["path"]: int(m["size"]) for chunk in chunks for m in chunk}

        found: dict[str, int] = {}
        with _store_errors("listing a step's files"), ThreadPoolExecutor(TRANSFER_THREADS) as pool:
            for part in pool.map(listed, folders):
                found.update(part)
        missing = [rel for rel in rels if rel not in found]
        if missing:
            raise FileNotFoundError(
                f"{len(missing)} file(s) missing on the store, first {missing[0]}"
            )
        return [found[rel] for rel in rels]

    def drop(self, rels: list[str]) -> None:
        """Forget the local copies of these objects (the store keeps them)."""
        for rel in rels:
            (self.root / rel).unlink(missing_ok=True)
            self.record.pop(rel, None)

    # push
    def _push_changed(self, prefixes: str | tuple[str, ...]) -> int:
        """Upload the files under `prefixes` this copy added or changed (nothing is
        deleted); bytes sent."""
        changed, _gone = self._changed()
        wanted = [r for r in changed if r.startswith(prefixes)]
        with _store_errors("pushing"), ThreadPoolExecutor(TRANSFER_THREADS) as pool:
            return sum(pool.map(self._upload, wanted))

    def push_new(self, prefix: str) -> int:
        """`_push_changed` under `prefix`, and the record saved: for a step that only
        reads, yet records immutable objects such as snapshots."""
        sent = self._push_changed(prefix)
        self.save()
        return sent

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
        self.bytes_moved += len(data)
        return len(data)

    def push_content(self) -> int:
        """Upload the changed content-addressed files (audio, features); bytes sent."""
        return self._push_changed(FIRST)

    def push(self) -> Pushed:
        changed, gone = self._changed()
        first = [r for r in changed if r.startswith(FIRST)]
        last = [r for r in changed if r in LAST]
        rest = [r for r in changed if r not in set(first) | set(last)]
        sent = 0
        with _store_errors("pushing"), ThreadPoolExecutor(TRANSFER_THREADS) as pool:
            for group in (first, rest, last):
                sent += sum(pool.map(self._upload, group))
            if gone:
                obstore.delete(self.store, gone)
                for rel in gone:
                    del self.record[rel]
        self.save()
        return Pushed(len(changed), len(gone), sent)
