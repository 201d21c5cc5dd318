"""`export_shards`: the selection as shards, pinned to a snapshot, resumable, in parallel.

The plan is a pure function of the snapshot, the filter, the split spec, the format, the
audio kind and the shard size: voices go to their split (`splits`), each split's voices are
taken in voice_id order and cut into shards by size. Each shard's bytes are a function of
its voices alone, so the same command against the same snapshot writes bit-identical
shards whatever the worker count, the destination or the clock.

A destination holds, while an export runs, `.voxlake-export/plan.json` (the plan's id)
and one record per finished shard (its files' BLAKE3 hashes). A run with the same plan
skips the finished shards and goes on; a different plan is refused unless asked to
overwrite. `manifest.json` is written last, so its presence means a complete export.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import blake3

from voxlake.export.destination import Destination, destination
from voxlake.export.lake_files import LakeFiles, LocalFiles
from voxlake.export.selection import Selection, select
from voxlake.export.shard_formats import (
    SHARD_FORMATS,
    ShardFile,
    ShardVoice,
    count_voices,
)
from voxlake.export.splits import SplitSpec, check_by
from voxlake.lake import snapshots
from voxlake.lake.hashing import hash_json
from voxlake.lake.store import Lake

MANIFEST = "manifest.json"
PROGRESS = ".voxlake-export"
AUDIO_KINDS = ("denoised", "raw")
DEFAULT_SHARD_SIZE = "500MB"
# shards written at once: twice the cores, as a writer spends part of each shard in its fsync
DEFAULT_WORKERS = min(8, 2 * (os.cpu_count() or 1))
_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9}


class DestinationTaken(FileExistsError):
    """The destination holds another export (or other files) and --overwrite was not given."""


@dataclass(frozen=True)
class ShardSize:
    """A shard's target: bytes of audio (a shard ends once it reaches them), or voices."""

    bytes: int | None = 500 * 10**6
    voices: int | None = None

    def __str__(self) -> str:
        return f"{self.voices} voices" if self.voices else f"{self.bytes} bytes"


def parse_shard_size(text: str) -> ShardSize:
    """`500MB`, `2GB`, `64KB` (bytes of audio) or `1000` / `1000voices` (voices)."""
    m = re.fullmatch(r"\s*(\d+)\s*(voices|[KMG]?B)?\s*", text, flags=re.IGNORECASE)
    if not m or int(m.group(1)) < 1:
        raise ValueError(f"--shard-size: {text!r} is not N, NKB, NMB, NGB or Nvoices")
    unit = (m.group(2) or "voices").upper()
    if unit == "VOICES":
        return ShardSize(bytes=None, voices=int(m.group(1)))
    return ShardSize(bytes=int(m.group(1)) * _UNITS[unit])


@dataclass(frozen=True)
class ShardRequest:
    """What an export is asked for: the format, the destination (a folder or an s3://
    prefix), the filter, the snapshot (None: the latest), the split, the audio kind and the
    shard size. The CLI, the `export_shards` job and every worker of a spread-out export
    hand the same request to `prepare_export`."""

    fmt: str
    out: str | Path
    where: str | None = None
    as_of: str | None = None
    spec: SplitSpec = field(default_factory=SplitSpec)
    kind: str = "denoised"
    size: ShardSize = field(default_factory=lambda: parse_shard_size(DEFAULT_SHARD_SIZE))
    overwrite: bool = False


@dataclass(frozen=True)
class Shard:
    split: str
    index: int
    voices: tuple[ShardVoice, ...]
    files: dict[str, str]  # role -> path relative to the destination

    @property
    def key(self) -> str:
        return f"{self.split}.{self.index:06d}"


@dataclass(frozen=True)
class ShardExport:
    voices: int
    shards: int
    written: int  # shards written by this run (the rest were already there)
    manifest: dict[str, Any]
    warnings: list[str]


def _shard_voices(
    selection: Selection, spec: SplitSpec, kind: str, files: LakeFiles
) -> list[ShardVoice]:
    audio = [v.audio(kind) for v in selection.voices]
    out = []
    for v, path, size in zip(selection.voices, audio, files.sizes(audio), strict=True):
        split = spec.split_of(spec.key_of(v.voice_id, v.columns, v.labels))
        out.append(ShardVoice(v, split, path, *v.layout(kind), size))
    return out


def _groups(members: list[ShardVoice], size: ShardSize) -> list[list[ShardVoice]]:
    """Cut voices into consecutive groups: a group ends once it reaches `size`."""
    groups: list[list[ShardVoice]] = [[]]
    held = 0
    target = size.bytes or size.voices or 1
    for sv in members:
        if held >= target:
            groups.append([])
            held = 0
        groups[-1].append(sv)
        held += sv.size if size.bytes else 1
    return [g for g in groups if g]


def plan_shards(
    voices: list[ShardVoice], fmt: str, spec: SplitSpec, size: ShardSize
) -> list[Shard]:
    """Each split's voices in voice_id order, cut into shards of `size`."""
    names = SHARD_FORMATS[fmt].names
    shards: list[Shard] = []
    for split in spec.names:
        members = sorted((sv for sv in voices if sv.split == split), key=lambda s: s.voice.voice_id)
        for index, group in enumerate(_groups(members, size)):
            files = {role: f"{split}/{name}" for role, name in names(index).items()}
            shards.append(Shard(split, index, tuple(group), files))
    return shards


def _header(
    selection: Selection, fmt: str, kind: str, spec: SplitSpec, size: ShardSize, shards: list[Shard]
) -> dict[str, Any]:
    splits = {
        name: {
            "voices": sum(len(s.voices) for s in shards if s.split == name),
            "shards": sum(1 for s in shards if s.split == name),
        }
        for name in spec.names
    }
    header: dict[str, Any] = {
        "format": fmt,
        "audio": kind,
        "where": selection.where,
        "split": spec.to_json(),
        "shard_size": {"bytes": size.bytes, "voices": size.voices},
        "snapshot": selection.snapshot.to_json(),
        "lake_state": selection.state,
        "voices": len(selection.voices),
        "splits": splits,
    }
    layout = [[s.key, [sv.voice.voice_id for sv in s.voices]] for s in shards]
    header["plan"] = hash_json({"header": header, "layout": layout})[:32]
    return header


def _write_shard(fmt: str, shard: Shard, dest: Destination) -> dict[str, Any]:
    write = SHARD_FORMATS[fmt].write
    files: dict[str, Any] = {}
    # Every file of the shard is written, then each is published; a shard is complete once
    # its record (below) exists, so a crash between two files only repeats this shard.
    with contextlib.ExitStack() as stack:
        outs = {
            role: ShardFile(stack.enter_context(dest.writing(rel)))
            for role, rel in shard.files.items()
        }
        for out in outs.values():
            stack.callback(out.close)  # on an error too (before the temporary goes)
        write(list(shard.voices), outs)
        for role, rel in shard.files.items():
            digest, size = outs[role].done()
            files[role] = {"path": rel, "blake3": digest, "bytes": size}
    ordered = [files[role] for role in shard.files]
    digest = (
        ordered[0]["blake3"]
        if len(ordered) == 1
        else blake3.blake3("".join(f["blake3"] for f in ordered).encode()).hexdigest()
    )
    record = {
        "split": shard.split,
        "index": shard.index,
        "voices": len(shard.voices),
        "blake3": digest,
        "files": ordered,
    }
    dest.write_json(f"{PROGRESS}/{shard.key}.json", record)
    return record


def _claim(dest: Destination, plan: str, overwrite: bool) -> dict[str, Any] | None:
    """Check the destination is free for this plan; the finished manifest if this very
    export is already complete there."""
    existing = dest.read_json(MANIFEST)
    progress = dest.read_json(f"{PROGRESS}/plan.json")
    if existing is not None and existing.get("plan") == plan:
        return dict(existing)
    other = existing or (progress if progress and progress.get("plan") != plan else None)
    if other is not None or (progress is None and not dest.is_empty()):
        if not overwrite:
            what = (
                f"another export (snapshot {other.get('snapshot', {}).get('id')}, "
                f"{other.get('voices')} voices)"
                if other is not None
                else "other files"
            )
            raise DestinationTaken(f"{dest} holds {what}; --overwrite replaces it")
        dest.remove(MANIFEST)  # first: the folder no longer claims a complete export
        for shard in (other or {}).get("shards", []):
            for f in shard.get("files", []):
                dest.remove(f["path"])
    return None


@dataclass
class PreparedExport:
    """An export planned and its destination claimed: what is left is writing shards
    (here, or spread over workers: `write_shards` with their keys) and `finish`."""

    header: dict[str, Any]
    shards: list[Shard]
    dest: Destination
    warnings: list[str]
    complete: dict[str, Any] | None  # the manifest, where this export is already done
    files: LakeFiles = field(default_factory=LocalFiles)  # how a writer reaches the audio

    @property
    def snapshot_id(self) -> str:
        return str(self.header["snapshot"]["id"])

    def record(self, shard: Shard) -> dict[str, Any] | None:
        """The finished shard's record, or None (missing, or a file is not all there)."""
        record = self.dest.read_json(f"{PROGRESS}/{shard.key}.json")
        if record is None or any(
            self.dest.size(f["path"]) != f["bytes"] for f in record.get("files", [])
        ):
            return None
        return dict(record)

    def pending(self) -> list[str]:
        """The keys of the shards still to write, in plan order."""
        return [s.key for s in self.shards if self.record(s) is None]


def prepare_export(
    lake: Lake, request: ShardRequest, files: LakeFiles | None = None
) -> PreparedExport:
    """Select, plan and claim the destination. The same request on the same snapshot
    gives the same plan, so every worker of a spread-out export prepares it alike.
    `files`: how the lake's audio is reached (a local lake's by default; a store lake's
    through its read session)."""
    files = files or LocalFiles()
    fmt, kind, spec, size = request.fmt, request.kind, request.spec, request.size
    if fmt not in SHARD_FORMATS:
        raise ValueError(f"unknown shard format {fmt!r}: one of {', '.join(SHARD_FORMATS)}")
    if kind not in AUDIO_KINDS:
        raise ValueError(f"unknown audio {kind!r}: one of {', '.join(AUDIO_KINDS)}")
    selection = select(lake, request.where, request.as_of)  # EmptySelection: nothing written
    columns = selection.voices[0].columns.keys()
    check_by(spec, columns, (v.labels for v in selection.voices))
    voices = _shard_voices(selection, spec, kind, files)
    shards = plan_shards(voices, fmt, spec, size)
    header = _header(selection, fmt, kind, spec, size, shards)
    warnings = [
        f"split {name!r} is empty on this selection ({len(voices)} voices)"
        for name, counts in header["splits"].items()
        if counts["voices"] == 0
    ]
    dest = destination(request.out)
    done = _claim(dest, header["plan"], request.overwrite)
    if done is None:
        snapshots.record_if_writable(lake.root / "snapshots", selection.snapshot)
        dest.write_json(f"{PROGRESS}/plan.json", {"plan": header["plan"]})
    return PreparedExport(header, shards, dest, warnings, done, files)


def write_shards(
    prepared: PreparedExport,
    keys: list[str] | None = None,
    workers: int = 1,
    on_shard: Callable[[dict[str, Any]], None] | None = None,
) -> int:
    """Write the pending shards (of `keys` only, if given), `workers` at a time; the
    number written. Each shard's record is kept at the destination."""
    wanted = set(keys) if keys is not None else None
    todo = [
        s
        for s in prepared.shards
        if (wanted is None or s.key in wanted) and prepared.record(s) is None
    ]
    lock = threading.Lock()
    fmt = prepared.header["format"]

    def run(shard: Shard) -> None:
        audio = [sv.audio for sv in shard.voices]
        prepared.files.fetch(audio)
        try:
            record = _write_shard(fmt, shard, prepared.dest)
        finally:
            prepared.files.release(audio)
        if on_shard is not None:
            with lock:
                on_shard(record)

    pool = ThreadPoolExecutor(max_workers=max(1, workers))
    try:
        for future in [pool.submit(run, s) for s in todo]:
            future.result()
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)  # what is finished stays finished
        raise
    pool.shutdown()
    return len(todo)


class UnfinishedExport(RuntimeError):
    """`finish` was asked for while some shard has no record yet."""


def finish_export(prepared: PreparedExport) -> dict[str, Any]:
    """Write `manifest.json` from every shard's record, then drop the records."""
    if prepared.complete is not None:
        return prepared.complete
    records = [prepared.record(s) for s in prepared.shards]
    missing = [s.key for s, r in zip(prepared.shards, records, strict=True) if r is None]
    if missing:
        raise UnfinishedExport(f"{len(missing)} shard(s) not written yet, first {missing[0]}")
    manifest = {**prepared.header, "shards": records}
    dest = prepared.dest
    dest.write_json(MANIFEST, manifest)
    for shard in prepared.shards:
        dest.remove(f"{PROGRESS}/{shard.key}.json")
    dest.remove(f"{PROGRESS}/plan.json")
    _remove_empty(dest)
    return manifest


def export_shards(
    lake: Lake,
    request: ShardRequest,
    workers: int = 1,
    on_shard: Callable[[dict[str, Any]], None] | None = None,
    files: LakeFiles | None = None,
) -> ShardExport:
    """Write the voices the request selects as shards under its destination, `workers`
    shards at a time, with `manifest.json` at its root."""
    prepared = prepare_export(lake, request, files)
    voices = prepared.header["voices"]
    if prepared.complete is not None:
        return ShardExport(voices, len(prepared.shards), 0, prepared.complete, prepared.warnings)
    written = write_shards(prepared, None, workers, on_shard)
    manifest = finish_export(prepared)
    return ShardExport(voices, len(prepared.shards), written, manifest, prepared.warnings)


def _remove_empty(dest: Destination) -> None:
    dest.finish()
    if type(dest) is Destination:
        folder = dest.root / PROGRESS
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


@dataclass(frozen=True)
class Verified:
    shards: int
    voices: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def _hash_and_count(
    dest: Destination, fmt: str, role: str, rel: str
) -> tuple[str, int, int | None]:
    h = blake3.blake3(max_threads=1)
    size = 0
    with dest.open_bytes(rel) as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    with dest.open_bytes(rel) as fh:
        count = count_voices(fmt, role, fh)
    return h.hexdigest(), size, count


def verify_shards(manifest_at: str | Path) -> Verified:
    """Check the shard set beside a manifest against it: every file's BLAKE3 and size,
    and every shard's voice count read from its files. Needs nothing but the manifest."""
    text = str(manifest_at)
    root = text.rsplit("/", 1)[0] if text.endswith(MANIFEST) else text
    dest = destination(root)
    manifest = dest.read_json(MANIFEST)
    if manifest is None:
        return Verified(0, 0, [f"no {MANIFEST} at {root}"])
    fmt = manifest["format"]
    roles = list(SHARD_FORMATS[fmt].names(0))
    problems: list[str] = []
    voices = 0
    for shard in manifest["shards"]:
        for role, f in zip(roles, shard["files"], strict=True):
            if dest.size(f["path"]) is None:
                problems.append(f"{f['path']}: missing")
                continue
            digest, size, count = _hash_and_count(dest, fmt, role, f["path"])
            if digest != f["blake3"] or size != f["bytes"]:
                problems.append(f"{f['path']}: BLAKE3 {digest[:16]}… is not {f['blake3'][:16]}…")
            if count is not None and count != shard["voices"]:
                problems.append(f"{f['path']}: {count} voices, the manifest says {shard['voices']}")
        voices += shard["voices"]
    if voices != manifest["voices"]:
        problems.append(f"the shards hold {voices} voices, the manifest says {manifest['voices']}")
    return Verified(len(manifest["shards"]), voices, problems)
