"""The raw stage: copy a batch's inbox files into the lake by content hash.

Every manifest file ends in exactly one of three tables: `voices` (accepted), `rejected`
(with a reason) or `duplicates` (content the lake already holds).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path, PurePosixPath
from typing import Any

import pyarrow as pa
import soundfile as sf

from voxlake.audio import decode
from voxlake.audio.decode import DECODE_ERRORS, AudioLimits, RejectedAudio, measure_audio
from voxlake.ingest import segments, sidecar
from voxlake.ingest import transcripts as transcript_rows
from voxlake.ingest.inbox import InboxFile, read_manifest, source_of
from voxlake.ingest.segments import cut_segment, segment_suffix
from voxlake.ingest.sidecar import Labels, SidecarIssue, labels_for
from voxlake.ingest.sources.item import escaped
from voxlake.ingest.transcripts import manifest_labels, transcript_row
from voxlake.ingest.voice_keys import voices_elsewhere
from voxlake.lake.fingerprint import code_version, fingerprint
from voxlake.lake.hashing import hash_file, hash_json
from voxlake.lake.lineage import StageResult, record_stage
from voxlake.lake.schemas import REJECTED
from voxlake.lake.store import Lake

ASSET = "raw_voices"


def raw_fingerprint(limits: AudioLimits) -> str:
    return fingerprint(asdict(limits), {}, CODE_VERSION)


def _copy_into_lake(src: Path, dst: Path) -> None:
    if dst.exists():
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".tmp-{dst.name}")
    shutil.copyfile(src, tmp)
    tmp.replace(dst)


def raw_pairs(
    voices: list[dict[str, Any]],
    rejected: list[dict[str, Any]],
    duplicates: list[dict[str, Any]],
    transcripts: Sequence[dict[str, Any]] = (),
) -> list[tuple[str, str]]:
    """The raw stage's content: accepted voices (id = hash of bytes), each refusal, and
    what a manifest said of its voices (their transcripts and segment bounds)."""
    pairs = [(v["voice_id"], v["voice_id"]) for v in voices]
    pairs += [(f"rejected:{r['source_path']}", r["reason"]) for r in rejected]
    pairs += [(f"duplicate:{d['source_path']}", d["voice_id"]) for d in duplicates]
    pairs += [
        (f"transcript:{t['voice_id']}", hash_json({k: v for k, v in t.items() if k != "batch"}))
        for t in transcripts
    ]
    return pairs


def _cut(lake: Lake, src: Path, start: int, end: int, voice_id: str) -> Path:
    """A segment's own file in the lake, named by its own hash as every raw file is (the
    cut is deterministic: a rerun makes the same file)."""
    try:
        subtype = sf.info(str(src)).subtype
    except DECODE_ERRORS as e:
        raise RejectedAudio("undecodable", str(e).strip()[:200]) from None
    suffix = segment_suffix(subtype)
    cut = lake.raw_audio(voice_id, suffix).with_name(f".cut-{voice_id}{suffix}")
    cut_segment(src, start, end, cut)
    dst = lake.raw_audio(hash_file(cut), suffix)
    dst.parent.mkdir(parents=True, exist_ok=True)
    cut.replace(dst)
    return dst


def check_source(inbox: Path, src: Path, referenced: bool = False) -> None:
    """Refuse what is not a regular file inside the inbox (or referenced), with the reason."""
    if not os.path.lexists(src):
        raise RejectedAudio("missing", "the file vanished after the inbox scan")
    if src.is_symlink() and not referenced:
        try:
            target = src.resolve(strict=True)
        except (OSError, RuntimeError):
            raise RejectedAudio("unreadable", "a symlink loop or a dangling link") from None
        if not target.is_relative_to(inbox.resolve()):
            raise RejectedAudio("outside_inbox", "a symlink to a file outside the inbox")
    try:
        st = src.stat()
    except OSError as e:
        raise RejectedAudio("unreadable", e.strerror or str(e)) from None
    if not stat.S_ISREG(st.st_mode):
        raise RejectedAudio("not_regular", "not a regular file")


def _labels(lake: Lake, files: list[InboxFile]) -> tuple[dict[str, Labels], list[SidecarIssue]]:
    """Sidecar labels of inbox files, and of referenced files from the folder they came from."""
    by_root: dict[str | None, list[InboxFile]] = {}
    for f in files:
        by_root.setdefault(f.root, []).append(f)
    labels: dict[str, Labels] = {}
    issues: list[SidecarIssue] = []
    for root, group in by_root.items():
        if root is None:
            found, problems = labels_for(lake.inbox, [f.path for f in group])
            labels.update(found)
            issues += problems
            continue
        base = PurePosixPath(root)
        rels = {PurePosixPath(f.path).relative_to(base).as_posix(): f.path for f in group}
        found, problems = labels_for(Path(root), list(rels))
        labels.update({rels[rel]: lab for rel, lab in found.items()})
        issues += [replace(i, sidecar=(base / i.sidecar).as_posix()) for i in problems]
    return labels, issues


def _suffix(src: Path) -> str:
    """The raw copy keeps a plain extension (letters and digits), else .bin."""
    ext = src.suffix.lower()
    return ext if re.fullmatch(r"\.[a-z0-9]{1,6}", ext) else ".bin"


def ingest_batch(
    lake: Lake,
    batch: str,
    limits: AudioLimits = AudioLimits(),
    progress: Callable[[int, int], None] | None = None,
    accepted: Callable[[dict[str, Any]], None] | None = None,
) -> StageResult:
    """The batch's inbox files into `voices`, `rejected` or `duplicates`. `accepted` is
    called with each voice's row as soon as its file is in the lake (the pipeline hands
    the voice to the pool there, while this goes on with the batch)."""
    manifest = read_manifest(lake, batch)
    elsewhere = voices_elsewhere(lake, batch, (f.voice_id for f in manifest.files if f.voice_id))
    voices: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    duplicates: list[dict[str, Any]] = []
    transcripts: list[dict[str, Any]] = []
    first_seen: dict[str, str] = {}
    files = sorted(manifest.files, key=lambda f: f.path)
    labels, issues = _labels(lake, [f for f in files if f.meta is None])
    recordings: dict[str, str] = {}  # a segmented recording's hash, read once per batch
    for i, entry in enumerate(files):
        src = source_of(lake, entry)
        base = {  # a name's bytes that are not UTF-8 are kept as \xNN
            "batch": batch,
            "source_path": escaped(entry.path),
            "file_name": escaped(PurePosixPath(src).name),
        }
        voice_id: str | None = None
        stored: Path | None = None  # a segment's own file, cut here
        try:
            if entry.reject is not None:  # found while its manifest was read
                raise RejectedAudio(entry.reject, entry.reject_detail or "")
            check_source(lake.inbox, src, referenced=entry.root is not None)
            try:
                if entry.start is None:
                    voice_id = hash_file(src)
                else:
                    if str(src) not in recordings:
                        recordings[str(src)] = hash_file(src)
                    voice_id = entry.voice_id
            except OSError as e:
                raise RejectedAudio("unreadable", e.strerror or str(e)) from None
            if entry.start is not None and recordings[str(src)] != entry.recording_id:
                raise RejectedAudio("changed", "the recording changed after it was ingested")
            if entry.voice_id is not None and voice_id != entry.voice_id:
                raise RejectedAudio("changed", "content changed after the inbox scan")
            assert voice_id is not None
            if entry.voice_id is None:  # unreadable at the scan: not looked up yet
                elsewhere |= voices_elsewhere(lake, batch, [voice_id])
            if voice_id in first_seen or voice_id in elsewhere:
                first = first_seen.get(voice_id) or elsewhere[voice_id]
                duplicates.append({**base, "voice_id": voice_id, "first_batch": first})
                continue
            if entry.start is not None and entry.end is not None:
                stored = _cut(lake, src, entry.start, entry.end, str(voice_id))
            info, rms_db, peak_db = measure_audio(stored or src, limits)  # bounded memory
        except RejectedAudio as r:
            if stored is not None and voice_id not in first_seen:
                stored.unlink(missing_ok=True)
            if entry.utterance is not None:  # a manifest's utterance: named by its id
                base["file_name"] = entry.utterance
            rejected.append(
                {
                    **base,
                    "voice_id": voice_id,
                    "stage": ASSET,
                    "reason": r.reason,
                    "detail": r.detail,
                }
            )
            continue
        finally:
            if progress:
                progress(i + 1, len(files))
        assert voice_id is not None
        first_seen[voice_id] = batch
        dst = stored or lake.raw_audio(voice_id, _suffix(src))
        _copy_into_lake(src, dst)
        lab = labels.get(entry.path, Labels())
        if entry.meta is not None:
            lab, said = manifest_labels(entry.meta)
            transcripts.append(transcript_row(entry, said, batch, voice_id, info.sample_rate))
        voices.append(
            {
                **base,
                "voice_id": voice_id,
                "format": info.format,
                "subtype": info.subtype,
                "sample_rate": info.sample_rate,
                "channels": info.channels,
                "frames": info.frames,
                "duration_s": info.duration_s,
                "bytes": dst.stat().st_size,
                "rms_dbfs": rms_db,
                "peak_dbfs": peak_db,
                "speaker": lab.speaker,
                "source": lab.source,
                "labels": json.dumps(lab.extra, sort_keys=True) if lab.extra else None,
                "raw_path": lake.relative(dst),
            }
        )
        if accepted:
            accepted(voices[-1])
    voices.sort(key=lambda r: r["voice_id"])
    transcripts.sort(key=lambda r: r["voice_id"])
    sidecar_rows = [
        {
            "batch": batch,
            "source_path": i.sidecar,
            "file_name": PurePosixPath(i.sidecar).name,
            "voice_id": None,
            "stage": "sidecar",
            "reason": i.reason,
            "detail": i.detail,
        }
        for i in issues
    ]
    lake.write_table("rejected", sidecar_rows, batch, part="sidecar")
    lake.write_table("voices", voices, batch)
    lake.write_table("rejected", rejected, batch, part=ASSET)
    lake.write_table("duplicates", duplicates, batch)
    lake.write_table("transcripts", transcripts, batch)
    pairs = raw_pairs(voices, rejected, duplicates, transcripts)
    return record_stage(
        lake,
        batch,
        ASSET,
        pairs,
        raw_fingerprint(limits),
        CODE_VERSION,
        rows=len(voices),
        rejected=len(rejected),
        extra={"inputs": len(files), "duplicates": len(duplicates)},
    )


def accounted(lake: Lake, batch: str) -> pa.Table:
    """Every manifest file's outcome for the batch: (source_path, outcome)."""
    parts = [
        (lake.read_table("voices", batch), "voice"),
        (
            pa.Table.from_pylist(
                [r for r in lake.read_table("rejected", batch).to_pylist() if r["stage"] == ASSET],
                schema=REJECTED,
            ),
            "rejected",
        ),
        (lake.read_table("duplicates", batch), "duplicate"),
    ]
    paths: list[str] = []
    outcomes: list[str] = []
    for table, outcome in parts:
        paths += table["source_path"].to_pylist()
        outcomes += [outcome] * table.num_rows
    return pa.table({"source_path": paths, "outcome": outcomes})


# Made from the code above when it is loaded (a later edit on disk does not change it).
CODE_VERSION = code_version(sys.modules[__name__], decode, sidecar, segments, transcript_rows)
