"""VCTK as published: `wav48/<speaker>/<speaker>_<n>.wav` (0.80) or
`wav48_silence_trimmed/<speaker>/<speaker>_<n>_mic1.flac` (0.92), transcripts in
`txt/<speaker>/<speaker>_<n>.txt`, and `speaker-info.txt` (ID AGE GENDER ACCENTS REGION).
The corpus is English: `language` is "en". An utterance without a transcript (as some
have) is ingested without text."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from voxlake.ingest.sources.item import ManifestError, SourceItem, text_lines
from voxlake.ingest.sources.registry import register

AUDIO_DIRS = ("wav48", "wav48_silence_trimmed")
MIC = re.compile(r"_mic(\d)$")


def _speaker_info(root: Path) -> dict[str, dict[str, str]]:
    table = root / "speaker-info.txt"
    if not table.exists():
        return {}
    out = {}
    with text_lines(table) as lines:
        header = next(lines, "").split()
        for line in lines:
            parts = line.strip().split(maxsplit=len(header) - 1) if header else []
            if not parts:
                continue
            row = dict(zip([h.lower() for h in header], parts, strict=False))
            sid = row.get("id", parts[0])
            out[sid if sid.startswith("p") or sid.startswith("s") else f"p{sid}"] = row
    return out


def _text(root: Path, speaker: str, stem: str) -> str | None:
    path = root / "txt" / speaker / f"{stem}.txt"
    if not path.exists():
        return None
    with text_lines(path) as lines:
        return " ".join(line.strip() for line in lines).strip() or None


@register("vctk")
def read_vctk(path: Path) -> Iterator[SourceItem]:
    audio_root = next((path / d for d in AUDIO_DIRS if (path / d).is_dir()), None)
    if audio_root is None:
        raise ManifestError(path, None, f"not a VCTK folder: no {' or '.join(AUDIO_DIRS)}/")
    info = _speaker_info(path)
    for audio in sorted(p for p in audio_root.rglob("*") if p.suffix in (".wav", ".flac")):
        speaker = audio.parent.name
        stem = MIC.sub("", audio.stem)
        mic = MIC.search(audio.stem)
        row = info.get(speaker, {})
        labels: dict[str, object] = {
            k: v for k, v in row.items() if k not in ("id", "gender") and v
        }
        if mic:
            labels["mic"] = mic.group(1)
        gender = row.get("gender")
        yield SourceItem(
            where=str(audio),
            utterance=audio.stem,
            path=str(audio.absolute()),
            text=_text(path, speaker, stem),
            speaker=speaker,
            language="en",
            gender=gender,
            labels=labels,
        )
