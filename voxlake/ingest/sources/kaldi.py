"""Kaldi data directories: `wav.scp`, and where present `segments`, `text`, `utt2spk`,
`spk2gender` and `utt2lang`.

An entry of `wav.scp` that is a pipe command (`rec sox in.flac -t wav - |`) is never run:
its utterances are rejected with the reason `pipe_command`. Archive offsets
(`foo.ark:123`) are rejected as `unsupported_source`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from voxlake.ingest.sources.item import ManifestError, SourceItem, resolve, text_lines
from voxlake.ingest.sources.registry import register


def _table(path: Path, required: bool = False) -> dict[str, str]:
    """A Kaldi `key value...` file as a dict (first field: the key, the rest: the value)."""
    if not path.exists():
        if required:
            raise ManifestError(path, None, "missing: a Kaldi data directory needs wav.scp")
        return {}
    out: dict[str, str] = {}
    with text_lines(path) as lines:
        for n, line in enumerate(lines, start=1):
            parts = line.rstrip("\n").split(maxsplit=1)
            if not parts:
                continue
            if len(parts) == 1 and path.name in ("wav.scp", "segments", "utt2spk"):
                raise ManifestError(path, n, f"a key without a value: {parts[0][:60]!r}")
            out[parts[0]] = parts[1] if len(parts) > 1 else ""
    return out


def _audio(scp_value: str, base: Path) -> tuple[str | None, tuple[str, str] | None]:
    """The file a wav.scp value names, or the reason it cannot be read."""
    value = scp_value.strip()
    if value.endswith("|"):
        return None, ("pipe_command", f"wav.scp entry is a command, never run: {value[:120]}")
    if value == "-" or " " in value:
        return None, ("unsupported_source", f"wav.scp entry is not a file path: {value[:120]}")
    if ".ark:" in value:
        return None, ("unsupported_source", f"a Kaldi archive offset: {value[:120]}")
    return resolve(base, value), None


@register("kaldi")
def read_kaldi(path: Path) -> Iterator[SourceItem]:
    folder = path if path.is_dir() else path.parent
    wav = _table(folder / "wav.scp", required=True)
    text = _table(folder / "text")
    utt2spk = _table(folder / "utt2spk")
    spk2gender = _table(folder / "spk2gender")
    utt2lang = _table(folder / "utt2lang")
    segments_file = folder / "segments"
    if segments_file.exists():
        with text_lines(segments_file) as lines:
            rows = []
            for n, line in enumerate(lines, start=1):
                parts = line.split()
                if not parts:
                    continue
                if len(parts) != 4:
                    raise ManifestError(segments_file, n, "expected `utt rec start end`")
                try:
                    start, end = float(parts[2]), float(parts[3])
                except ValueError:
                    raise ManifestError(segments_file, n, "start and end must be numbers") from None
                rows.append((n, parts[0], parts[1], start, end))
        units: list[tuple[str, str, str, float | None, float | None]] = [
            (f"{segments_file}:{n}", u, r, s, e) for n, u, r, s, e in rows
        ]
    else:
        units = [(f"{folder / 'wav.scp'}:{i}", r, r, None, None) for i, r in enumerate(wav, 1)]
    for where, utt, rec, begin, stop in units:
        speaker = utt2spk.get(utt)
        item = SourceItem(
            where=where,
            utterance=utt,
            start_s=begin,
            end_s=None if stop is not None and stop < 0 else stop,  # -1: to the end
            text=text.get(utt),
            speaker=speaker,
            language=utt2lang.get(utt),
            gender=spk2gender.get(speaker) if speaker else None,
            labels={"kaldi_recording": rec},
        )
        if rec not in wav:
            yield replace(item, problem=("missing", f"recording {rec!r} is not in wav.scp"))
            continue
        audio, problem = _audio(wav[rec], folder)
        yield replace(item, path=audio, problem=problem)
