"""The inbox: scan for new files, group them into batches, write batch manifests.

A file is new when its (path, size, mtime) has not been seen by an earlier scan. New files
are hashed (BLAKE3 of the bytes: the voice identity). A scan whose new files all carry
content the lake already has adds no batch; those re-sent files are logged in
batches/_resent.jsonl so that the next scan does not hash them again.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from voxlake.hashing import hash_file, hash_json
from voxlake.lake import Lake, atomic_write_json

SIDECAR_SUFFIX = ".json"
RESENT_LOG = "_resent.jsonl"
DEFAULT_BATCH_SIZE = 500


@dataclass(frozen=True)
class InboxFile:
    path: str  # relative to the inbox, POSIX
    size: int
    mtime_ns: int
    voice_id: str | None  # None when the file could not be read

    def key(self) -> tuple[str, int, int]:
        return (self.path, self.size, self.mtime_ns)


@dataclass(frozen=True)
class Manifest:
    batch: str
    files: tuple[InboxFile, ...]
    created_at: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "batch": self.batch,
            "created_at": self.created_at,
            "files": [f.__dict__ for f in self.files],
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
    """Every regular, non-hidden file is an input except the JSON label sidecars."""
    name = path.name
    return not (name.startswith(".") or name.endswith(SIDECAR_SUFFIX))


def walk_inbox(inbox: Path) -> Iterator[Path]:
    """Files under the inbox in sorted order; symlink loops and unreadable folders skipped."""
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
        raise FileNotFoundError(f"no manifest for batch {batch!r} at {path}")
    return Manifest.from_json(json.loads(path.read_text()))


def list_batches(lake: Lake) -> list[str]:
    if not lake.batches_dir.exists():
        return []
    return sorted(p.stem for p in lake.batches_dir.glob("*.json") if not p.name.startswith("."))


def _resent_entries(lake: Lake) -> list[InboxFile]:
    log = lake.batches_dir / RESENT_LOG
    if not log.exists():
        return []
    return [InboxFile(**json.loads(line)) for line in log.read_text().splitlines() if line]


@contextmanager
def batches_lock(lake: Lake) -> Iterator[None]:
    lake.batches_dir.mkdir(parents=True, exist_ok=True)
    with open(lake.batches_dir / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _stat_file(inbox: Path, p: Path) -> InboxFile | None:
    try:
        st = p.stat()
    except OSError:  # dangling link, vanished file
        return None
    rel = p.relative_to(inbox).as_posix()
    try:
        voice_id: str | None = hash_file(p)
    except OSError:
        voice_id = None
    return InboxFile(rel, int(st.st_size), int(st.st_mtime_ns), voice_id)


def scan_inbox(lake: Lake, batch_size: int = DEFAULT_BATCH_SIZE) -> ScanResult:
    """Find new inbox files, write manifests for new batches, return what was found."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    lake.ensure()
    with batches_lock(lake):
        existing = [read_manifest(lake, b) for b in list_batches(lake)]
        seen = {f.key() for m in existing for f in m.files}
        seen |= {f.key() for f in _resent_entries(lake)}
        known_ids = {f.voice_id for m in existing for f in m.files if f.voice_id}
        result = ScanResult()
        new: list[InboxFile] = []
        for p in walk_inbox(lake.inbox):
            try:
                st = p.stat()
            except OSError:
                continue
            rel = p.relative_to(lake.inbox).as_posix()
            if (rel, int(st.st_size), int(st.st_mtime_ns)) in seen:
                result.unchanged += 1
                continue
            entry = _stat_file(lake.inbox, p)
            if entry is not None:
                new.append(entry)
        if not any(f.voice_id is None or f.voice_id not in known_ids for f in new):
            result.resent = new
            _log_resent(lake, new)
            return result
        seq = len(existing)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        for start in range(0, len(new), batch_size):
            chunk = tuple(new[start : start + batch_size])
            seq += 1
            digest = hash_json([[f.path, f.voice_id] for f in chunk])[:8]
            manifest = Manifest(f"{seq:06d}-{digest}", chunk, now)
            atomic_write_json(manifest_path(lake, manifest.batch), manifest.to_json())
            result.new_batches.append(manifest)
        return result


def _log_resent(lake: Lake, entries: list[InboxFile]) -> None:
    if not entries:
        return
    with open(lake.batches_dir / RESENT_LOG, "a") as fh:
        for e in entries:
            fh.write(json.dumps(e.__dict__, sort_keys=True) + "\n")


def read_sidecar(audio_path: Path) -> dict[str, str]:
    """Labels from `<stem>.json` beside an audio file: string values of speaker/source."""
    sidecar = audio_path.with_suffix(SIDECAR_SUFFIX)
    if sidecar == audio_path or not sidecar.is_file():
        return {}
    try:
        data = json.loads(sidecar.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: str(data[k]) for k in ("speaker", "source") if isinstance(data.get(k), str | int)}
