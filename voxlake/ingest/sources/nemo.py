"""NeMo manifests: JSON lines with `audio_filepath`, `duration`, `text` (and `offset` for a
segment, `lang`, `speaker`, `gender`; any other key is kept as a label)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from voxlake.ingest.sources.item import ManifestError, SourceItem, resolve, text_lines
from voxlake.ingest.sources.registry import register

KNOWN = {"audio_filepath", "duration", "offset", "text", "lang", "language", "speaker", "gender"}
KNOWN |= {"voice_id"}  # voxlake's own export names the voice: the lake's key, not a label


def _str(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


@register("nemo")
def read_nemo(path: Path) -> Iterator[SourceItem]:
    """One manifest file, or every `*.json`/`*.jsonl` (gzipped or not) in a folder."""
    files = [path] if path.is_file() else sorted(path.glob("*.json*"))
    for manifest in files:
        base = manifest.parent
        with text_lines(manifest) as lines:
            for n, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    raise ManifestError(manifest, n, f"not a JSON object ({e.msg})") from None
                if not isinstance(row, dict) or not isinstance(row.get("audio_filepath"), str):
                    raise ManifestError(manifest, n, "a row needs an `audio_filepath` string")
                offset = row.get("offset")
                duration = row.get("duration")
                start = end = None
                if offset is not None:  # a segment: offset and duration in seconds
                    start = float(offset)
                    end = start + float(duration) if duration is not None else None
                yield SourceItem(
                    where=f"{manifest}:{n}",
                    utterance=_str(row.get("utterance_id") or row.get("id")),
                    path=resolve(base, row["audio_filepath"]),
                    start_s=start,
                    end_s=end,
                    text=_str(row.get("text")),
                    speaker=_str(row.get("speaker")),
                    language=_str(row.get("lang") or row.get("language")),
                    gender=_str(row.get("gender")),
                    labels={k: v for k, v in row.items() if k not in KNOWN},
                )
