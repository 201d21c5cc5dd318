"""What a corpus manifest says of a voice: its `voices` labels and its `transcripts` row.

`voices` keeps `speaker`, `source` and the JSON `labels` of every other column, as for a
sidecar; the `transcripts` table (joined on `voice_id`) holds the text as given, the
language (the manifest's, else `--language`), the gender where the source has it, the
manifest's own utterance id, and a segment's provenance: its recording's content hash and
its bounds in seconds (the sample bounds over the recording's rate).
"""

from __future__ import annotations

import json
from typing import Any

from voxlake.ingest.inbox import InboxFile
from voxlake.ingest.sidecar import Labels, valid_label


def manifest_labels(meta_json: str) -> tuple[Labels, dict[str, Any]]:
    """The voice's labels, and the manifest's whole account of it."""
    meta = json.loads(meta_json)
    extra = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
    return Labels(valid_label(meta.get("speaker")), valid_label(meta.get("source")), extra), meta


def transcript_row(
    entry: InboxFile, meta: dict[str, Any], batch: str, voice_id: str, rate: int
) -> dict[str, Any]:
    segment = entry.start is not None and entry.end is not None
    return {
        "voice_id": voice_id,
        "batch": batch,
        "utterance_id": entry.utterance,
        "text": meta.get("text"),
        "language": meta.get("language"),
        "gender": meta.get("gender"),
        "recording_id": entry.recording_id or voice_id,
        "segment_start_s": entry.start / rate if segment and entry.start is not None else None,
        "segment_end_s": entry.end / rate if segment and entry.end is not None else None,
    }
