"""One shard's files in each format, holding the audio bytes as the lake stores them.

- `webdataset`: an uncompressed tar, `<voice_id>.<ext>` (the audio) then `<voice_id>.json`
  (its metadata) per voice, read by `webdataset.WebDataset`;
- `hf-parquet`: Parquet with an `audio` column in the `datasets.Audio` layout ({bytes,
  path}) and the feature types in the schema's `huggingface` metadata, read by
  `datasets.load_dataset("parquet")`;
- `lhotse-shar`: `cuts.NNNNNN.jsonl.gz` and `recording.NNNNNN.tar` (audio then the
  recording's manifest per cut), read by `CutSet.from_shar`.

Every byte is a function of the shard's voices: tar headers carry no time, owner or mode
of this machine, gzip carries mtime 0, and rows keep the plan's order. Files are written
through `HashingWriter`, so a shard's BLAKE3 costs no second read. Writing needs none of
the reading libraries.
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
import pyarrow as pa
import pyarrow.parquet as pq

from voxlake.export.selection import ExportVoice

COPY_BUFFER = 1 << 20
PARQUET_ROW_GROUP = 100  # voices per row group (what `datasets` writes for audio)


@dataclass(frozen=True)
class ShardVoice:
    voice: ExportVoice
    split: str
    audio: str  # the stored file whose bytes go in
    sample_rate: int
    frames: int
    channels: int

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
            "measures": v.measures,
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


def _info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = 0
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _plain(value: Any) -> Any:
    """JSON without NaN or infinity (they become null), so any JSON reader takes it."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(_plain(value), ensure_ascii=False, sort_keys=True) + "\n").encode()


def _add_file(tar: tarfile.TarFile, name: str, path: str) -> None:
    with open(path, "rb") as fh:
        size = fh.seek(0, io.SEEK_END)
        fh.seek(0)
        tar.addfile(_info(name, size), fh)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    tar.addfile(_info(name, len(data)), io.BytesIO(data))


def _tar(out: BinaryIO) -> tarfile.TarFile:
    return tarfile.TarFile(
        fileobj=out, mode="w", format=tarfile.PAX_FORMAT, copybufsize=COPY_BUFFER
    )


def write_webdataset(voices: list[ShardVoice], files: dict[str, BinaryIO]) -> None:
    with _tar(files["tar"]) as tar:
        for sv in voices:
            _add_file(tar, sv.member, sv.audio)
            _add_bytes(tar, f"{sv.voice.voice_id}.json", _json_bytes(sv.metadata()))


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


def _hf_rows(voices: list[ShardVoice]) -> pa.Table:
    rows: dict[str, list[Any]] = {name: [] for name in HF_SCHEMA.names}
    for sv in voices:
        meta = sv.metadata()
        with open(sv.audio, "rb") as fh:
            rows["audio"].append({"bytes": fh.read(), "path": sv.member})
        for name in HF_SCHEMA.names[1:]:
            value = meta[name]
            rows[name].append(
                json.dumps(_plain(value), ensure_ascii=False, sort_keys=True)
                if name in ("labels", "measures")
                else value
            )
    return pa.Table.from_pydict(rows, schema=HF_SCHEMA)


def write_hf_parquet(voices: list[ShardVoice], files: dict[str, BinaryIO]) -> None:
    with pq.ParquetWriter(files["parquet"], HF_SCHEMA, compression="none") as writer:
        for start in range(0, len(voices), PARQUET_ROW_GROUP):
            writer.write_table(_hf_rows(voices[start : start + PARQUET_ROW_GROUP]))


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


def write_lhotse_shar(voices: list[ShardVoice], files: dict[str, BinaryIO]) -> None:
    with gzip.GzipFile(fileobj=files["cuts"], mode="wb", mtime=0) as gz:
        for sv in voices:
            gz.write(_json_bytes(_shar_cut(sv)))
    with _tar(files["recording"]) as tar:
        for sv in voices:
            _add_file(tar, sv.member, sv.audio)
            _add_bytes(tar, f"{sv.voice.voice_id}.json", _json_bytes(_shar_recording(sv)))


@dataclass(frozen=True)
class ShardFormat:
    """A format's writer and the names of a shard's files (role -> name for shard i)."""

    write: Callable[[list[ShardVoice], dict[str, BinaryIO]], None]
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
