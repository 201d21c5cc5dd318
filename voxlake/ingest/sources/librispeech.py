"""LibriSpeech as published: `<speaker>/<chapter>/<speaker>-<chapter>.trans.txt` beside
`<utterance>.flac`, and `SPEAKERS.TXT` (`ID | SEX | SUBSET | MINUTES | NAME`) at the root
for the speakers' sex. The corpus is English: `language` is "en"."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from voxlake.ingest.sources.item import ManifestError, SourceItem, text_lines
from voxlake.ingest.sources.registry import register

AUDIO_SUFFIXES = (".flac", ".wav")


def _speakers(root: Path) -> dict[str, str]:
    """Speaker id -> sex (F/M), from SPEAKERS.TXT in the folder or the one above it."""
    for folder in (root, root.parent):
        table = folder / "SPEAKERS.TXT"
        if table.exists():
            out = {}
            with text_lines(table) as lines:
                for line in lines:
                    parts = [p.strip() for p in line.split("|")]
                    if line.startswith(";") or len(parts) < 2:
                        continue
                    out[parts[0]] = parts[1]
            return out
    return {}


@register("librispeech")
def read_librispeech(path: Path) -> Iterator[SourceItem]:
    sexes = _speakers(path)
    for trans in sorted(path.rglob("*.trans.txt")):
        with text_lines(trans) as lines:
            for n, line in enumerate(lines, start=1):
                parts = line.rstrip("\n").split(" ", 1)
                if not parts[0]:
                    continue
                utt = parts[0]
                fields = utt.split("-")
                if len(fields) != 3:
                    raise ManifestError(trans, n, f"not a `speaker-chapter-n` id: {utt[:60]!r}")
                audio = next(
                    (
                        trans.parent / f"{utt}{s}"
                        for s in AUDIO_SUFFIXES
                        if (trans.parent / f"{utt}{s}").exists()
                    ),
                    trans.parent / f"{utt}.flac",
                )
                yield SourceItem(
                    where=f"{trans}:{n}",
                    utterance=utt,
                    path=str(audio.absolute()),
                    text=parts[1] if len(parts) > 1 else None,
                    speaker=fields[0],
                    language="en",
                    gender=sexes.get(fields[0]),
                    labels={"chapter": fields[1]},
                )
