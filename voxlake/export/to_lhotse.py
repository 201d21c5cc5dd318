"""lhotse: a RecordingSet and a SupervisionSet (jsonl.gz) over the denoised audio.

The manifests are built with lhotse's own classes and written as gzip with a zero
timestamp, so the same selection gives the same bytes every time.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from voxlake.export.selection import Selection

RECORDINGS = "recordings.jsonl.gz"
SUPERVISIONS = "supervisions.jsonl.gz"


def _write_jsonl_gz(path: Path, items: Iterable[dict[str, Any]]) -> None:
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        for item in items:
            gz.write((json.dumps(item, ensure_ascii=False, sort_keys=True) + "\n").encode())


def write_lhotse(selection: Selection, out: Path, audio: str = "denoised") -> list[Path]:
    from lhotse import AudioSource, Recording, SupervisionSegment

    recordings, supervisions = [], []
    for v in selection.voices:
        rate, frames, channels = v.layout(audio)
        rec = Recording(
            id=v.voice_id,
            sources=[
                AudioSource(type="file", channels=list(range(channels)), source=v.audio(audio))
            ],
            sampling_rate=rate,
            num_samples=frames,
            duration=frames / rate,
        )
        sup = SupervisionSegment(
            id=v.voice_id,
            recording_id=v.voice_id,
            start=0.0,
            duration=rec.duration,
            channel=0,
            text=v.text,
            speaker=v.speaker,
            language=v.columns.get("language"),
            gender=v.columns.get("gender"),
            custom={"batch": v.batch, "labels": v.labels, **v.measures},
        )
        recordings.append(rec.to_dict())
        supervisions.append(sup.to_dict())
    paths = [out / RECORDINGS, out / SUPERVISIONS]
    _write_jsonl_gz(paths[0], recordings)
    _write_jsonl_gz(paths[1], supervisions)
    return paths
