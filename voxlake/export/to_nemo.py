"""NeMo: one JSONL manifest line per voice (`audio_filepath`, `duration`, labels)."""

from __future__ import annotations

import json
from pathlib import Path

from voxlake.export.selection import Selection

MANIFEST = "manifest.jsonl"


def write_nemo(selection: Selection, out: Path, audio: str = "denoised") -> list[Path]:
    lines = []
    for v in selection.voices:
        entry = {
            **{k: val for k, val in v.labels.items() if k not in ("audio_filepath", "duration")},
            "audio_filepath": v.audio(audio),
            "duration": v.duration_s,
            "voice_id": v.voice_id,
            "speaker": v.speaker,
        }
        if v.text is not None:
            entry["text"] = v.text
        if v.columns.get("language"):
            entry["lang"] = v.columns["language"]
        lines.append(json.dumps(entry, ensure_ascii=False, sort_keys=True))
    path = out / MANIFEST
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [path]
