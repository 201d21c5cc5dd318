"""Hugging Face `datasets`: a Dataset saved to disk, with an `Audio` column.

The audio column holds the paths of the denoised FLAC files (not copies of their bytes),
in the Audio feature's own Arrow layout ({bytes, path}), so writing needs none of the
codecs that `datasets` uses to decode (torchcodec); reading the audio does, as with any
Audio column. The dataset's fingerprint is the selection's content hash, so the same
selection gives the same files every time.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa

from voxlake.export.selection import Selection
from voxlake.lake.hashing import hash_json


def write_hf(selection: Selection, out: Path, audio: str = "denoised") -> list[Path]:
    import datasets

    voices = selection.voices
    columns = {
        "audio": [{"bytes": None, "path": v.audio(audio)} for v in voices],
        "voice_id": [v.voice_id for v in voices],
        "batch": [v.batch for v in voices],
        "speaker": [v.speaker for v in voices],
        "text": [v.text for v in voices],
        "duration": [v.duration_s for v in voices],
        "labels": [json.dumps(v.labels, ensure_ascii=False, sort_keys=True) for v in voices],
    }
    features = datasets.Features(
        {
            "audio": datasets.Audio(sampling_rate=None, decode=True),
            "voice_id": datasets.Value("string"),
            "batch": datasets.Value("string"),
            "speaker": datasets.Value("string"),
            "text": datasets.Value("string"),
            "duration": datasets.Value("float64"),
            "labels": datasets.Value("string"),
        }
    )
    table = pa.Table.from_pydict(columns, schema=features.arrow_schema)
    fingerprint = hash_json({"voices": [v.voice_id for v in voices], "state": selection.state})
    info = datasets.DatasetInfo(features=features, description="voxlake export")
    ds = datasets.Dataset(table, info=info, fingerprint=fingerprint[:16])
    ds.save_to_disk(str(out), num_shards=1)
    return sorted(p for p in out.iterdir() if p.name != "voxlake_export.json")
