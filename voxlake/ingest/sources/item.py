"""What a corpus reader yields: one utterance of a manifest, before anything is checked."""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

# What an utterance of a corpus manifest is refused for (reaching `rejected` at the run);
# the raw stage's own reasons apply to it as to any file.
MANIFEST_REFUSALS = (
    "missing",
    "segment_out_of_range",
    "bad_text",
    "duplicate_utterance",
    "pipe_command",
    "unsupported_source",
    "undecodable",
)


class ManifestError(ValueError):
    """A manifest that cannot be read at all: one line naming the file and the line."""

    def __init__(self, path: str | Path, line: int | None, what: str):
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {what}")


@dataclass(frozen=True)
class SourceItem:
    """One utterance as a manifest gives it.

    Its audio is a file (`path`) or bytes carried inside the manifest (`data`, with the
    `suffix` its format goes by). `start_s`/`end_s` cut a segment out of it (None: from the
    start, to the end). Text may arrive as bytes that are not UTF-8: the ingest rejects it.
    A reader that already knows the utterance cannot enter (a pipe command, a missing
    file) says so in `problem` (reason, detail), and the rest goes on.
    """

    where: str  # "<manifest>:<line>": the rejection's source_path when there is no audio
    utterance: str | None = None
    path: str | None = None
    data: bytes | None = None
    suffix: str = ".bin"
    start_s: float | None = None
    end_s: float | None = None
    text: str | None = None
    speaker: str | None = None
    language: str | None = None
    gender: str | None = None
    labels: Mapping[str, object] = field(default_factory=dict)
    problem: tuple[str, str] | None = None


@contextmanager
def text_lines(path: Path) -> Iterator[IO[str]]:
    """A text manifest (gzipped or not) as lines; bytes that are not UTF-8 survive as
    surrogates, so that one bad transcript is rejected instead of the whole file."""
    raw: IO[bytes] = (
        gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")  # type: ignore[assignment]  # noqa: SIM115
    )
    with raw, io.TextIOWrapper(raw, encoding="utf-8", errors="surrogateescape") as fh:
        yield fh


def escaped(text: str) -> str:
    """Text whose bytes were not all UTF-8 (read with surrogateescape: a file name, an id,
    a speaker), with each such byte written as `\\xNN`: a table can hold it, and it still
    says what the byte was. Valid text is returned as it is."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def resolve(base: Path, name: str) -> str:
    """A manifest's audio path: absolute as given, else relative to the manifest's folder."""
    p = Path(name).expanduser()
    return str(p if p.is_absolute() else (base / p).absolute())


def sniff_suffix(data: bytes, name: str | None = None) -> str:
    """The extension embedded audio goes by: its name's, else its magic bytes'."""
    if name and Path(name).suffix:
        return Path(name).suffix.lower()
    for magic, ext in ((b"RIFF", ".wav"), (b"fLaC", ".flac"), (b"OggS", ".ogg"), (b"ID3", ".mp3")):
        if data.startswith(magic):
            return ext
    return ".bin"
