"""One shard's files in each format, holding the audio bytes as the lake stores them.

- `webdataset`: an uncompressed tar, `<voice_id>.<ext>` (the audio) then `<voice_id>.json`
  (its metadata) per voice, read by `webdataset.WebDataset`;
- `hf-parquet`: Parquet with an `audio` column in the `datasets.Audio` layout ({bytes,
  path}) and the feature types in the schema's `huggingface` metadata, read by
  `datasets.load_dataset("parquet")`;
- `lhotse-shar`: `cuts.NNNNNN.jsonl.gz` and `recording.NNNNNN.tar` (audio then the
  recording's manifest per cut), read by `CutSet.from_shar`.

Every byte is a function of the shard's voices: tar headers carry no time, owner or mode
of this machine (`tar_stream`), gzip carries mtime 0, and rows keep the plan's order.
Streams are written through `HashingWriter`, so their BLAKE3 costs no second read;
Parquet is written by pyarrow to the file itself and hashed after.
Writing needs none of the reading libraries.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import blake3
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from voxlake.export.selection import ExportVoice
from voxlake.export.tar_stream import TarStream

PARQUET_ROW_GROUP = 100  # voices per row group (what `datasets` writes for audio)
PARQUET_GROUP_BYTES = 1 << 30  # and at most this much audio in one
# Values a column writer takes before it checks its page against the page size (1 MB).
# pyarrow's default, 1,024, is more than a row group holds, so the audio column's whole
# chunk (about 30 MB) would grow as one page, reallocated as it doubles; every 4 clips
# keeps a page near 1 MB and the writer at about the speed of a tar's (export_shards).
PARQUET_WRITE_BATCH = 4


@dataclass(frozen=True)
class ShardVoice:
    voice: ExportVoice
    split: str
    audio: str  # the stored file whose bytes go in
    sample_rate: int
    frames: int
    channels: int
    size: int  # bytes of the stored file, read once when the export is planned

    @property
    def ext(self) -> str:
        return Path(self.audio).suffix.lstrip(".").lower() or "audio"

    @property
    def member(self) -> str:
        return f"{self.voice.voice_id}.{self.ext}"

    def metadata(self) -> dict[str, Any]:
        v = self.voice
        return {
            "voice_id": v.voice_id,
            "split": self.split,
            "batch": v.batch,
            "speaker": v.speaker,
            "text": v.text,
            "duration": self.frames / self.sample_rate,
            "sample_rate": self.sample_rate,
            "num_samples": self.frames,
            "labels": v.labels,
            "measures": _finite(v.measures),
        }


class HashingWriter(io.RawIOBase):
    """A write-only file that hashes what passes through it (BLAKE3) and counts it."""

    def __init__(self, out: BinaryIO):
        self._out = out
        self._hash = blake3.blake3(max_threads=1)
        self.bytes = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self._hash.update(view)
        self._out.write(view)
        self.bytes += len(view)
        return len(view)

    def tell(self) -> int:
        return self.bytes

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def _finite(measures: dict[str, Any]) -> dict[str, Any]:
    """Measures without NaN or infinity (they become null), so any JSON reader takes them;
    labels came from JSON and hold none."""
    return {
        k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in measures.items()
    }


class ShardFile:
    """One file of a shard being written at `path`: through `stream` (hashed on the way),
    or by a native writer to `path` itself (hashed after, from the page cache)."""

    def __init__(self, path: Path):
        self.path = path
        self._file: BinaryIO | None = None
        self._hashing: HashingWriter | None = None

    @property
    def stream(self) -> HashingWriter:
        if self._hashing is None:
            self._file = open(self.path, "wb")  # noqa: SIM115 - closed in done()
            self._hashing = HashingWriter(self._file)
        return self._hashing

    def close(self) -> None:
        if self._file is not None:
            self._file.close()

    def done(self) -> tuple[str, int]:
        """(BLAKE3, bytes) of the finished file."""
        if self._hashing is not None and self._file is not None:
            self._file.close()
            return self._hashing.hexdigest(), self._hashing.bytes
        h = blake3.blake3(max_threads=1)
        size = 0
        with open(self.path, "rb") as fh:
            while chunk := fh.read(1 << 22):
                h.update(chunk)
                size += len(chunk)
        return h.hexdigest(), size


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, sort_keys=True) + "\n").encode()


def _read(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def write_webdataset(voices: list[ShardVoice], files: dict[str, ShardFile]) -> None:
    with TarStream(files["tar"].stream) as tar:
        for sv in voices:
            tar.add(sv.member, _read(sv.audio))
            tar.add(f"{sv.voice.voice_id}.json", _json_bytes(sv.metadata()))


HF_FEATURES = {
    "audio": {"_type": "Audio"},
    "voice_id": {"dtype": "string", "_type": "Value"},
    "split": {"dtype": "string", "_type": "Value"},
    "batch": {"dtype": "string", "_type": "Value"},
    "speaker": {"dtype": "string", "_type": "Value"},
    "text": {"dtype": "string", "_type": "Value"},
    "duration": {"dtype": "float64", "_type": "Value"},
    "sample_rate": {"dtype": "int32", "_type": "Value"},
    "labels": {"dtype": "string", "_type": "Value"},
    "measures": {"dtype": "string", "_type": "Value"},
}
HF_SCHEMA = pa.schema(
    [
        ("audio", pa.struct([("bytes", pa.binary()), ("path", pa.string())])),
        ("voice_id", pa.string()),
        ("split", pa.string()),
        ("batch", pa.string()),
        ("speaker", pa.string()),
        ("text", pa.string()),
        ("duration", pa.float64()),
        ("sample_rate", pa.int32()),
        ("labels", pa.string()),
        ("measures", pa.string()),
    ],
    metadata={"huggingface": json.dumps({"info": {"features": HF_FEATURES}})},
)


def _audio_column(voices: list[ShardVoice]) -> pa.Array:
    """The clips' bytes read straight into one Arrow buffer (no copy through Python bytes,
    and Arrow's pool, not a zero-filled bytearray: about 20 % of the shard's time), with
    their member names, as the `Audio` feature's {bytes, path} struct."""
    sizes = [sv.size for sv in voices]
    offsets = np.zeros(len(voices) + 1, dtype=np.int32)
    offsets[1:] = np.cumsum(sizes)
    data = pa.allocate_buffer(int(offsets[-1]))
    view = memoryview(data)
    for sv, start, size in zip(voices, offsets[:-1], sizes, strict=True):
        with open(sv.audio, "rb") as fh:
            if fh.readinto(view[start : start + size]) != size or fh.read(1):
                raise OSError(f"{sv.audio} changed size while it was exported")
    clips = pa.Array.from_buffers(pa.binary(), len(voices), [None, pa.py_buffer(offsets), data])
    names = pa.array([sv.member for sv in voices], pa.string())
    return pa.StructArray.from_arrays([clips, names], fields=list(HF_SCHEMA.field("audio").type))


def _hf_rows(voices: list[ShardVoice]) -> pa.Table:
    rows: dict[str, list[Any]] = {name: [] for name in HF_SCHEMA.names[1:]}
    for sv in voices:
        meta = sv.metadata()
        for name in rows:
            value = meta[name]
            rows[name].append(
                json.dumps(value, ensure_ascii=False, sort_keys=True)
                if name in ("labels", "measures")
                else value
            )
    columns = [_audio_column(voices)] + [
        pa.array(rows[name], HF_SCHEMA.field(name).type) for name in HF_SCHEMA.names[1:]
    ]
    return pa.Table.from_arrays(columns, schema=HF_SCHEMA)


def _row_groups(voices: list[ShardVoice]) -> list[list[ShardVoice]]:
    """Row groups of PARQUET_ROW_GROUP voices, or fewer where their clips pass
    PARQUET_GROUP_BYTES (a binary column's offsets are 32-bit)."""
    groups: list[list[ShardVoice]] = [[]]
    held = 0
    for sv in voices:
        size = sv.size
        if groups[-1] and (
            len(groups[-1]) >= PARQUET_ROW_GROUP or held + size > PARQUET_GROUP_BYTES
        ):
            groups.append([])
            held = 0
        groups[-1].append(sv)
        held += size
    return [g for g in groups if g]


def write_hf_parquet(voices: list[ShardVoice], files: dict[str, ShardFile]) -> None:
    # The audio column is neither dictionary-encoded nor given min/max statistics: both
    # would hash or compare every clip's bytes for nothing.
    small = [n for n in HF_SCHEMA.names if n != "audio"]
    with pq.ParquetWriter(
        str(files["parquet"].path),  # a native file: no Python, so no GIL, per write
        HF_SCHEMA,
        compression="none",
        use_dictionary=small,
        write_statistics=small,
        write_batch_size=PARQUET_WRITE_BATCH,
    ) as writer:
        for group in _row_groups(voices):
            writer.write_table(_hf_rows(group))


def _shar_recording(sv: ShardVoice) -> dict[str, Any]:
    channels = list(range(sv.channels))
    return {
        "id": sv.voice.voice_id,
        "sources": [{"type": "shar", "channels": channels, "source": ""}],
        "sampling_rate": sv.sample_rate,
        "num_samples": sv.frames,
        "duration": sv.frames / sv.sample_rate,
        "channel_ids": channels,
    }


def _shar_cut(sv: ShardVoice) -> dict[str, Any]:
    meta = sv.metadata()
    duration = meta["duration"]
    supervision = {
        "id": sv.voice.voice_id,
        "recording_id": sv.voice.voice_id,
        "start": 0,
        "duration": duration,
        "channel": 0,
        "text": meta["text"],
        "speaker": meta["speaker"],
        "language": sv.voice.columns.get("language"),
        "gender": sv.voice.columns.get("gender"),
    }
    return {
        "id": sv.voice.voice_id,
        "start": 0,
        "duration": duration,
        "channel": 0,
        "supervisions": [{k: v for k, v in supervision.items() if v is not None}],
        "recording": _shar_recording(sv),
        "custom": {
            "split": sv.split,
            "batch": meta["batch"],
            "labels": meta["labels"],
            **meta["measures"],
        },
        "type": "MonoCut",
    }


def write_lhotse_shar(voices: list[ShardVoice], files: dict[str, ShardFile]) -> None:
    with gzip.GzipFile(fileobj=files["cuts"].stream, mode="wb", mtime=0) as gz:
        for sv in voices:
            gz.write(_json_bytes(_shar_cut(sv)))
    with TarStream(files["recording"].stream) as tar:
        for sv in voices:
            tar.add(sv.member, _read(sv.audio))
            tar.add(f"{sv.voice.voice_id}.json", _json_bytes(_shar_recording(sv)))


@dataclass(frozen=True)
class ShardFormat:
    """A format's writer and the names of a shard's files (role -> name for shard i)."""

    write: Callable[[list[ShardVoice], dict[str, ShardFile]], None]
    names: Callable[[int], dict[str, str]]


SHARD_FORMATS: dict[str, ShardFormat] = {
    "webdataset": ShardFormat(write_webdataset, lambda i: {"tar": f"shard-{i:06d}.tar"}),
    "hf-parquet": ShardFormat(write_hf_parquet, lambda i: {"parquet": f"shard-{i:06d}.parquet"}),
    "lhotse-shar": ShardFormat(
        write_lhotse_shar,
        lambda i: {"cuts": f"cuts.{i:06d}.jsonl.gz", "recording": f"recording.{i:06d}.tar"},
    ),
}


def count_voices(fmt: str, role: str, data: BinaryIO) -> int | None:
    """How many voices one stored shard file holds, read from the file (None: the role
    does not say)."""
    if fmt == "hf-parquet":
        return int(pq.ParquetFile(data).metadata.num_rows)
    if role == "cuts":
        with gzip.GzipFile(fileobj=data) as gz:
            return sum(1 for line in gz if line.strip())
    if role in ("tar", "recording"):
        with tarfile.open(fileobj=data, mode="r|") as tar:
            return sum(1 for m in tar if m.isfile() and not m.name.endswith(".json"))
    return None
