"""Hugging Face audio datasets: Parquet (one file, or every `*.parquet` under a folder, as
in a hub-style `data/` tree), the Arrow files of `Dataset.save_to_disk`, or an
`audiofolder` (clips beside a `metadata.csv`/`metadata.jsonl` with a `file_name` column). The audio
column is the `Audio` feature's {bytes, path} struct; its bytes are content-addressed into
the lake (a row with only a path reads that file). Rows are read a record batch at a time:
a manifest of any size streams."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from voxlake.ingest.sources.item import (
    ManifestError,
    SourceItem,
    resolve,
    sniff_suffix,
    text_lines,
)
from voxlake.ingest.sources.registry import register

TEXT = ("text", "transcription", "sentence", "transcript", "normalized_text")
SPEAKER = ("speaker", "speaker_id", "client_id")
LANGUAGE = ("language", "locale", "lang")
GENDER = ("gender", "sex")
UTTERANCE = ("id", "utterance_id", "segment_id", "key")
RECOMPUTED = ("duration", "sample_rate", "num_samples")  # the lake measures these itself
# Columns of voxlake's own hf-parquet export that are the lake's, not labels: an export
# ingested again gives the labels it was made from.
EXPORTED = ("voice_id", "batch", "split", "measures")
BATCH_ROWS = 64
METADATA = ("metadata.csv", "metadata.jsonl")  # an audiofolder's


def _audio_column(schema: pa.Schema) -> str | None:
    for f in schema:
        if pa.types.is_struct(f.type) and f.type.get_field_index("bytes") >= 0:
            return f.name
    return None


def _first(row: dict[str, Any], names: tuple[str, ...]) -> tuple[str | None, str | None]:
    for name in names:
        if row.get(name) not in (None, ""):
            return name, str(row[name])
    return None, None


def _labels(row: dict[str, Any], used: set[str | None], exported: bool) -> dict[str, object]:
    out: dict[str, object] = {}
    for k, v in row.items():
        if k in used or k in RECOMPUTED or v is None or (exported and k in EXPORTED):
            continue
        if exported and k == "labels" and isinstance(v, str):
            out.update(json.loads(v))
            continue
        out[k] = v if isinstance(v, str | int | float | bool) else json.dumps(v, default=str)
    return out


def _record_batches(path: Path) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """The file's schema and its rows, a record batch at a time."""
    try:
        if path.suffix == ".arrow":
            reader = pa.ipc.open_stream(path)
            return reader.schema, iter(reader)
        pf = pq.ParquetFile(path)
        return pf.schema_arrow, pf.iter_batches(batch_size=BATCH_ROWS)
    except (pa.ArrowInvalid, OSError) as e:
        raise ManifestError(path, None, f"not a Parquet or Arrow file ({e})") from None


def _row_item(
    row: dict[str, Any], where: str, name: str | None, audio: str, exported: bool
) -> SourceItem:
    """A row's utterance, its audio not yet said: the known columns, the rest as labels."""
    t, text = _first(row, TEXT)
    s, speaker = _first(row, SPEAKER)
    la, language = _first(row, LANGUAGE)
    g, gender = _first(row, GENDER)
    u, utterance = _first(row, UTTERANCE)
    return SourceItem(
        where=where,
        utterance=utterance or name,  # else the clip's own name
        text=text,
        speaker=speaker,
        language=language,
        gender=gender,
        labels=_labels(row, {audio, t, s, la, g, u}, exported),
    )


def _audiofolder_items(metadata: Path) -> Iterator[SourceItem]:
    """An `audiofolder` dataset: `metadata.csv` or `metadata.jsonl` whose `file_name`
    column names each clip, relative to the metadata file's folder."""
    with text_lines(metadata) as lines:
        if metadata.suffix == ".csv":
            rows: Iterator[tuple[int, Any]] = enumerate(csv.DictReader(lines), start=2)
        else:
            rows = ((n, line) for n, line in enumerate(lines, start=1) if line.strip())
        for n, row in rows:
            if isinstance(row, str):
                try:
                    row = json.loads(row)
                except json.JSONDecodeError as e:
                    raise ManifestError(metadata, n, f"not a JSON object ({e.msg})") from None
            name = row.get("file_name") if isinstance(row, dict) else None
            if not isinstance(name, str) or not name:
                raise ManifestError(metadata, n, "a row needs a `file_name`")
            item = _row_item(row, f"{metadata}:{n}", name, "file_name", False)
            yield replace(item, path=resolve(metadata.parent, name))


def _file_items(path: Path) -> Iterator[SourceItem]:
    schema, batches = _record_batches(path)
    audio = _audio_column(schema)
    if audio is None:
        raise ManifestError(path, None, "no audio column (a struct with `bytes` and `path`)")
    exported = {"voice_id", "batch", "labels"} <= set(schema.names)  # voxlake's own export
    n = 0
    for batch in batches:
        for row in batch.to_pylist():
            n += 1
            clip = row[audio] or {}
            data, name = clip.get("bytes"), clip.get("path")
            item = _row_item(row, f"{path}:{n}", name, audio, exported)
            if data:
                yield replace(item, data=data, suffix=sniff_suffix(data, name))
            elif name:
                yield replace(item, path=resolve(path.parent, name))
            else:
                yield replace(item, problem=("missing", "the audio column holds no bytes"))


@register("hf")
def read_hf(path: Path) -> Iterator[SourceItem]:
    if path.name in METADATA:
        yield from _audiofolder_items(path)
        return
    files = [path] if path.is_file() else sorted(path.rglob("*.parquet"))
    files = files or sorted(path.rglob("*.arrow"))  # a dataset saved to disk
    for f in files:
        yield from _file_items(f)
    if files:
        return
    folders = sorted(p for p in path.rglob("metadata.*") if p.name in METADATA)
    if not folders:
        raise ManifestError(path, None, "no *.parquet, *.arrow or metadata.csv/jsonl file")
    for metadata in folders:  # audiofolders
        yield from _audiofolder_items(metadata)
