"""Lake snapshots: each table's Delta version, named by one id.

A snapshot is the map from every lake table to the version of it that was read (None for
a table not written yet). Its id is `s` and the first 16 hex digits of the BLAKE3 of that
map, so the same versions always have the same id. Exports and hash manifests record the
snapshot they read under `snapshots/<id>.json`, which is how an id is resolved later,
and what `voxlake compact` keeps from expiry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from voxlake.lake.hashing import hash_json
from voxlake.lake.schemas import TABLES
from voxlake.lake.tables import Tables


class UnknownSnapshot(ValueError):
    """An --as-of that names no recorded snapshot and is no timestamp."""


@dataclass(frozen=True)
class Snapshot:
    versions: dict[str, int | None]

    @property
    def id(self) -> str:
        return "s" + hash_json(dict(sorted(self.versions.items())))[:16]

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "versions": dict(sorted(self.versions.items()))}


def current(tables: Tables) -> Snapshot:
    return Snapshot({name: tables.version(name) for name in TABLES})


def at_time(tables: Tables, when: datetime) -> Snapshot:
    """Each table's version as it stood at `when` (None where it did not exist yet)."""
    versions: dict[str, int | None] = {}
    for name in TABLES:
        dt = tables.open(name)
        if dt is None:
            versions[name] = None
            continue
        try:
            dt.load_as_version(when)
            versions[name] = int(dt.version())
        except Exception:  # delta-rs: no version at or before `when`
            versions[name] = None
    return Snapshot(versions)


def record(folder: Path, snapshot: Snapshot) -> Path:
    """Write `snapshots/<id>.json` (the same id is the same content: idempotent)."""
    from voxlake.lake.store import atomic_write_json

    path = folder / f"{snapshot.id}.json"
    if not path.exists():
        atomic_write_json(path, snapshot.to_json())
    return path


def record_if_writable(folder: Path, snapshot: Snapshot) -> Path | None:
    """`record`, or a warning where the lake cannot be written (read-only media or
    credentials): retention then does not protect the snapshot."""
    import sys

    try:
        return record(folder, snapshot)
    except OSError:
        print(
            f"voxlake: warning: the lake is read-only, so snapshot {snapshot.id} is not "
            "recorded in it and `voxlake compact` may expire it; keep the export's own "
            "record of its versions",
            file=sys.stderr,
        )
        return None


def recorded(folder: Path) -> list[Snapshot]:
    if not folder.is_dir():
        return []
    return [load(folder, p.stem) for p in sorted(folder.glob("s*.json"))]


def load(folder: Path, snapshot_id: str) -> Snapshot:
    path = folder / f"{snapshot_id}.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise UnknownSnapshot(
            f"no snapshot {snapshot_id} is recorded in {folder} (exports and hash manifests "
            "record the snapshots they read)"
        ) from None
    return Snapshot({k: v for k, v in data["versions"].items() if k in TABLES})


def parse_time(text: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def resolve(
    tables: Tables, folder: Path | None, as_of: str | None, store_uri: str | None = None
) -> Snapshot:
    """The snapshot `as_of` names: None is the current one, `s...` a recorded id, anything
    else an ISO timestamp (UTC unless it says)."""
    if not as_of:
        return current(tables)
    if as_of.startswith("s") and len(as_of) == 17:
        if store_uri is not None:
            return _load_from_store(store_uri, as_of)
        if folder is None:
            raise UnknownSnapshot(f"no snapshot folder to resolve {as_of} in")
        return load(folder, as_of)
    when = parse_time(as_of)
    if when is None:
        raise UnknownSnapshot(
            f"--as-of {as_of!r} is neither a snapshot id (s + 16 hex digits) nor an ISO "
            "timestamp such as 2026-12-06T10:00:00"
        )
    return at_time(tables, when)


def _load_from_store(uri: str, snapshot_id: str) -> Snapshot:
    from voxlake.lake.objectstore import open_store, read_json

    got = read_json(open_store(uri), f"snapshots/{snapshot_id}.json")
    if got is None:
        raise UnknownSnapshot(f"no snapshot {snapshot_id} is recorded in {uri}/snapshots")
    data = got[0]
    return Snapshot({k: v for k, v in data["versions"].items() if k in TABLES})
