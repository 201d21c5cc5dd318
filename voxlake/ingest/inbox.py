"""The inbox: scan for new files, group them into batches, write batch manifests.

A file is new when its (path, size, mtime) has not been seen by an earlier scan. New files
are hashed (BLAKE3 of the bytes: the voice identity). A scan whose new files all carry
content the lake already has adds no batch; those re-sent files are logged in
batches/_resent.jsonl so that the next scan does not hash them again.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from voxlake.ingest.seen import Key, seen_index
from voxlake.lake.hashing import hash_file, hash_json
from voxlake.lake.store import Lake, atomic_write_bytes, atomic_write_json

SIDECAR_SUFFIXES = (".json", ".csv")
RESENT_LOG = "_resent.jsonl"
REFERENCES_LOG = "_references.jsonl"  # files ingested by reference (voxlake ingest)
DROPPED_LOG = "_dropped.jsonl"  # inputs of batches removed with `voxlake drop-batch`
DEFAULT_BATCH_SIZE = 500


@dataclass(frozen=True)
class InboxFile:
    path: str  # relative to the inbox, POSIX; for a referenced file, its absolute path
    size: int
    mtime_ns: int
    voice_id: str | None  # None when the file could not be read
    root: str | None = None  # a referenced file: the folder it was ingested from
    # An entry of a corpus manifest (`voxlake ingest --from`, voxlake.ingest.from_source):
    audio: str | None = None  # the file that holds its bytes, where `path` names a segment
    start: int | None = None  # a segment's first sample in that file
    end: int | None = None  # and the sample after its last
    recording_id: str | None = None  # BLAKE3 of that file: a segment's recording
    utterance: str | None = None  # the manifest's own id of it
    meta: str | None = None  # JSON: speaker, source, text, language, gender, labels
    reject: str | None = None  # a reason found while reading the manifest (never ingested)
    reject_detail: str | None = None

    def key(self) -> tuple[str, int, int]:
        return (self.path, self.size, self.mtime_ns)

    def to_json(self) -> dict[str, Any]:
        # inbox files keep the manifest layout they always had: unset fields are left out
        return {k: v for k, v in self.__dict__.items() if v is not None or k == "voice_id"}


def source_of(lake: Lake, f: InboxFile) -> Path:
    """Where a manifest file's bytes are: in the inbox, or where it was referenced."""
    if f.audio is not None:
        return Path(f.audio)
    return Path(f.path) if f.root is not None else lake.inbox / f.path


@dataclass(frozen=True)
class Manifest:
    batch: str
    files: tuple[InboxFile, ...]
    created_at: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "batch": self.batch,
            "created_at": self.created_at,
            "files": [f.to_json() for f in self.files],
        }

    @staticmethod
    def from_json(d: dict[str, Any]) -> Manifest:
        files = tuple(InboxFile(**f) for f in d["files"])
        return Manifest(d["batch"], files, d.get("created_at", ""))


@dataclass
class ScanResult:
    new_batches: list[Manifest] = field(default_factory=list)
    resent: list[InboxFile] = field(default_factory=list)
    unchanged: int = 0


def is_candidate(path: Path) -> bool:
    """Every non-hidden file is an input except the label sidecars (.json, .csv)."""
    name = path.name
    return not (name.startswith(".") or name.lower().endswith(SIDECAR_SUFFIXES))


def walk_inbox(inbox: Path) -> Iterator[Path]:
    """Inputs under the inbox in sorted order (symlinked folders are not followed)."""
    for dirpath, dirnames, filenames in os.walk(inbox, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames):
            p = Path(dirpath) / name
            if is_candidate(p):
                yield p


def manifest_path(lake: Lake, batch: str) -> Path:
    return lake.batches_dir / f"{batch}.json"


def read_manifest(lake: Lake, batch: str) -> Manifest:
    path = manifest_path(lake, batch)
    if not path.exists():
        raise FileNotFoundError(
            f"no manifest for batch {batch!r} ({path}): batches are made from the inbox by "
            "the voice_inbox sensor or `voxlake run`; a partition added by hand has none "
            f"and is refused (`voxlake drop-batch {batch}` removes it)"
        )
    return Manifest.from_json(json.loads(path.read_text()))


def list_batches(lake: Lake) -> list[str]:
    if not lake.batches_dir.exists():
        return []
    return sorted(p.stem for p in lake.batches_dir.glob("*.json") if not p.name.startswith("."))


def _lines(entries: list[InboxFile]) -> str:
    return "".join(json.dumps(e.to_json(), sort_keys=True) + "\n" for e in entries)


def append_log(lake: Lake, name: str, entries: list[InboxFile]) -> None:
    """Add entries to one of the batches folder's logs (call under the batches lock)."""
    if entries:
        with open(lake.batches_dir / name, "a") as fh:
            fh.write(_lines(entries))


def rewrite_log(lake: Lake, name: str, entries: list[InboxFile]) -> None:
    """Replace one of the logs with `entries`, atomically (call under the batches lock)."""
    atomic_write_bytes(lake.batches_dir / name, _lines(entries).encode())


def log_entries(lake: Lake, name: str) -> list[InboxFile]:
    """The entries of one of the batches folder's logs (re-sent files, references)."""
    log = lake.batches_dir / name
    if not log.exists():
        return []
    return [InboxFile(**json.loads(line)) for line in log.read_text().splitlines() if line]


def _key(inbox: Path, p: Path) -> tuple[str, int, int]:
    rel = p.relative_to(inbox).as_posix()
    try:
        st = p.stat()
    except OSError:  # symlink loop, dangling link, vanished
        return (rel, -1, 0)
    return (rel, int(st.st_size), int(st.st_mtime_ns))


def _inspect(inbox: Path, p: Path, key: tuple[str, int, int]) -> InboxFile:
    """Hash a regular file inside the inbox; anything else gets no voice_id (ingest says why)."""
    voice_id: str | None = None
    try:
        st = p.stat()
        inside = p.resolve().is_relative_to(inbox.resolve())
        if stat.S_ISREG(st.st_mode) and inside:
            voice_id = hash_file(p)
    except (OSError, RuntimeError):
        voice_id = None
    return InboxFile(key[0], key[1], key[2], voice_id)


def scan_inbox(lake: Lake, batch_size: int = DEFAULT_BATCH_SIZE) -> ScanResult:
    """Find new inbox files, write manifests for new batches, return what was found."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    lake.ensure()
    with lake.lock("batches"), seen_index(lake) as index:
        result = ScanResult()
        found = [(p, _key(lake.inbox, p)) for p in walk_inbox(lake.inbox)]
        refs = log_entries(lake, REFERENCES_LOG)
        already = index.seen([k for _, k in found] + [r.key() for r in refs])
        new: list[InboxFile] = []
        for p, key in found:
            if key in already:
                result.unchanged += 1
                continue
            new.append(_inspect(lake.inbox, p, key))
        taken = set(already)
        for ref in refs:  # hashed when they were referenced
            if ref.key() not in taken:
                taken.add(ref.key())
                new.append(ref)
        known_ids = index.known(f.voice_id for f in new if f.voice_id)
        if not any(f.voice_id is None or f.voice_id not in known_ids for f in new):
            result.resent = new
            append_log(lake, RESENT_LOG, new)
            return result
        names = list_batches(lake)
        seq = max((int(n) for b in names if (n := b.split("-")[0]).isdigit()), default=0)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        for start in range(0, len(new), batch_size):
            chunk = tuple(new[start : start + batch_size])
            seq += 1
            digest = hash_json([[f.path, f.voice_id] for f in chunk])[:8]
            manifest = Manifest(f"{seq:06d}-{digest}", chunk, now)
            atomic_write_json(manifest_path(lake, manifest.batch), manifest.to_json())
            index.fold(manifest.batch, ((f.path, f.size, f.mtime_ns, f.voice_id) for f in chunk))
            result.new_batches.append(manifest)
        _keep_pending_references(lake, refs, taken)
        return result


def _keep_pending_references(lake: Lake, refs: list[InboxFile], batched: set[Key]) -> None:
    """References in a batch leave the log (the index has them): the log stays small."""
    pending = [r for r in refs if r.key() not in batched]
    if len(pending) != len(refs):
        rewrite_log(lake, REFERENCES_LOG, pending)


def copy_into_inbox(lake: Lake, paths: list[Path]) -> int:
    """Copy files, or folders (kept under their own name), into the inbox; files copied."""
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise FileNotFoundError(f"no such file or folder: {missing[0]}")
    copied = 0
    for p in paths:
        files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
        for f in files:
            dst = lake.inbox / p.name / f.relative_to(p) if p.is_dir() else lake.inbox / f.name
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, dst)
            copied += 1
    return copied
