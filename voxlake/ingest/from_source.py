"""`voxlake ingest --from FORMAT`: a corpus manifest's utterances, as entries for the next run.

Each utterance a reader yields (voxlake.ingest.sources) becomes one entry of the lake's
reference log, as a referenced file does; the next inbox scan puts them in batches and the
raw stage takes each one in. An entry carries what the manifest says of the utterance
(speaker, text, language, gender, labels) and, for a segment, its sample bounds:
- A file voice's id is the BLAKE3 of the file, as for any file.
- A segment's bounds are rounded to the nearest sample at the recording's rate; its id is
  the BLAKE3 of the recording's hash and the two sample indices (`segment_id`), so neither
  names nor how a bound is written change it. A segment that covers its whole recording
  is the recording itself.
- Audio carried inside the manifest (Parquet, Shar) is written into the lake by content
  hash at once: that copy is the entry's file.

What cannot enter is an entry too, with its reason (`reject`), so that it reaches the
`rejected` table with its batch and the rest goes on: a missing file, a segment beyond its
recording's end, a transcript that is not UTF-8, an utterance id that names other audio
than it did earlier in the manifest, a command in place of a file. Entries are written in
chunks as the manifest is read: memory does not grow with the manifest.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf

from voxlake.ingest.inbox import REFERENCES_LOG, InboxFile, append_log, log_entries
from voxlake.ingest.seen import seen_index
from voxlake.ingest.sources import SourceItem, read_source
from voxlake.ingest.sources.item import escaped
from voxlake.lake.hashing import hash_bytes, hash_file
from voxlake.lake.store import Lake, atomic_write_bytes

CHUNK = 2000  # entries written per lock
CACHED_RECORDINGS = 4096  # a recording's hash and header, kept while its segments pass


def segment_id(recording_id: str, start: int, end: int) -> str:
    """A segment's voice id: the BLAKE3 of its recording's hash and sample bounds."""
    return hash_bytes(f"{recording_id}:{start}:{end}".encode())


@dataclass(frozen=True)
class SourceIngested:
    new: int  # entries added for the next run
    known: int  # already referenced or ingested
    refused: int  # of the new ones, those that go to `rejected` with their reason


def _escaped(text: str | None) -> str | None:
    return None if text is None else escaped(text)


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:  # surrogates: bytes that were not UTF-8
        return False


class _Entries:
    """Turns a reader's items into reference-log entries (hashes and headers cached)."""

    def __init__(self, lake: Lake, fmt: str, language: str | None):
        self.lake = lake
        self.fmt = fmt
        self.language = language
        self.recordings: dict[tuple[str, int, int], tuple[str, int, int] | str] = {}
        self.utterances: dict[str, tuple[str, str]] = {}  # id -> (voice id, where first)

    def _meta(self, item: SourceItem) -> dict[str, object]:
        labels = {
            escaped(str(k))[:200]: escaped(str(v))[:1000]
            for k, v in item.labels.items()
            if v not in (None, "")
        }
        meta: dict[str, object] = {
            "speaker": _escaped(item.speaker),
            "source": labels.pop("source", None) or self.fmt,
            "text": item.text,
            "language": _escaped(item.language) or self.language,
            "gender": _escaped(item.gender),
            "labels": labels,
        }
        return {k: v for k, v in meta.items() if v not in (None, "", {})}

    def _refused(self, item: SourceItem, reason: str, detail: str) -> InboxFile:
        """An entry that goes to `rejected`; its key is its manifest line, so that the
        utterance is ingested once a re-read finds it whole."""
        meta = self._meta(item)
        if reason == "bad_text":
            meta.pop("text", None)
        return InboxFile(
            item.where,
            -1,
            0,
            None,
            root=str(Path(item.where.rsplit(":", 1)[0]).parent),
            utterance=_escaped(item.utterance),
            meta=json.dumps(meta, sort_keys=True, ensure_ascii=False),
            reject=reason,
            reject_detail=escaped(detail)[:1000],
        )

    def _embedded(self, data: bytes, suffix: str) -> Path:
        dst = self.lake.raw_audio(hash_bytes(data), suffix)
        if not dst.exists():
            atomic_write_bytes(dst, data)
        return dst

    def _recording(self, path: Path, size: int, mtime: int) -> tuple[str, int, int] | str:
        """(hash, sample rate, frames) of a recording, or why its header cannot be read."""
        key = (str(path), size, mtime)
        if key not in self.recordings:
            if len(self.recordings) >= CACHED_RECORDINGS:
                self.recordings.pop(next(iter(self.recordings)))
            try:
                info = sf.info(str(path))
                self.recordings[key] = (hash_file(path), int(info.samplerate), int(info.frames))
            except (sf.LibsndfileError, RuntimeError, ValueError) as e:
                self.recordings[key] = str(e).strip()[:200] or "unreadable"
        return self.recordings[key]

    def entry(self, item: SourceItem) -> InboxFile:
        if item.problem is not None:
            return self._refused(item, *item.problem)
        if item.text is not None and not _utf8(item.text):
            return self._refused(item, "bad_text", "the transcript is not valid UTF-8")
        if item.data is not None:
            audio = self._embedded(item.data, item.suffix)
        else:
            audio = Path(item.path or "")
            if not item.path or not audio.is_file():
                detail = f"no file {item.path}" if item.path else "no audio named"
                return self._refused(item, "missing", detail)
        st = audio.stat()
        whole = item.start_s is None and item.end_s is None
        start = end = None
        if whole:
            recording = hash_file(audio)
            voice_id = recording
        else:
            found = self._recording(audio, st.st_size, st.st_mtime_ns)
            if isinstance(found, str):
                return self._refused(item, "undecodable", found)
            recording, rate, frames = found
            start = round((item.start_s or 0.0) * rate)
            end = frames if item.end_s is None else round(item.end_s * rate)
            if not 0 <= start < end <= frames:
                return self._refused(
                    item,
                    "segment_out_of_range",
                    f"{item.start_s}-{item.end_s} s is samples {start}-{end} of a recording "
                    f"of {frames} at {rate} Hz",
                )
            if start == 0 and end == frames:
                start = end = None
                voice_id = recording
            else:
                voice_id = segment_id(recording, start, end)
        if item.utterance is not None:
            first = self.utterances.setdefault(item.utterance, (voice_id, item.where))
            if first[0] != voice_id:
                return self._refused(
                    item,
                    "duplicate_utterance",
                    f"utterance {item.utterance!r} names other audio at {first[1]}",
                )
        path = str(audio) if start is None else f"{audio}#{start}-{end}"
        return InboxFile(
            path,
            st.st_size,
            st.st_mtime_ns,
            voice_id,
            root=str(audio.parent),
            audio=None if start is None else str(audio),
            start=start,
            end=end,
            recording_id=recording,
            utterance=_escaped(item.utterance),
            meta=json.dumps(self._meta(item), sort_keys=True, ensure_ascii=False),
        )


def _append(
    lake: Lake, entries: list[InboxFile], logged: set[tuple[str, int, int]]
) -> list[InboxFile]:
    """Add the entries not yet referenced nor ingested; returns those added."""
    with lake.lock("batches"), seen_index(lake) as index:
        seen = index.seen(e.key() for e in entries)
        fresh = []
        for e in entries:
            if e.key() not in seen and e.key() not in logged:
                logged.add(e.key())
                fresh.append(e)
        append_log(lake, REFERENCES_LOG, fresh)
    return fresh


def _chunks(entries: Iterable[InboxFile]) -> Iterable[list[InboxFile]]:
    chunk: list[InboxFile] = []
    for e in entries:
        chunk.append(e)
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def ingest_source(
    lake: Lake, fmt: str, path: str | Path, language: str | None = None
) -> SourceIngested:
    """Reference a corpus manifest's utterances for the next run (ManifestError where the
    manifest cannot be read at all, naming the file and line). `path` is a file or folder,
    or an s3:// prefix, copied into the lake first (voxlake.ingest.source_copy)."""
    lake.ensure()
    if str(path).startswith("s3://"):
        from voxlake.ingest.source_copy import copy_prefix  # the object-store wing

        path = copy_prefix(lake, str(path))
    path = Path(path)
    with lake.lock("batches"):
        logged = {e.key() for e in log_entries(lake, REFERENCES_LOG)}
    maker = _Entries(lake, fmt, language)
    new = known = refused = 0
    for chunk in _chunks(maker.entry(item) for item in read_source(fmt, path)):
        added = _append(lake, chunk, logged)
        new += len(added)
        known += len(chunk) - len(added)
        refused += sum(1 for e in added if e.reject is not None)
    return SourceIngested(new, known, refused)
