"""`export`: select, write one format's files, and record the lake state they came from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from voxlake.export.selection import Selection, select
from voxlake.export.to_hf import write_hf
from voxlake.export.to_lhotse import write_lhotse
from voxlake.export.to_nemo import write_nemo
from voxlake.lake import snapshots
from voxlake.lake.store import Lake, atomic_write_json

RECORD = "voxlake_export.json"
Writer = Callable[[Selection, Path, str], list[Path]]
FORMATS: dict[str, Writer] = {"lhotse": write_lhotse, "hf": write_hf, "nemo": write_nemo}


@dataclass(frozen=True)
class Exported:
    voices: int
    hours: float
    files: list[Path]


def export(
    lake: Lake,
    fmt: str,
    out: Path,
    where: str | None = None,
    as_of: str | None = None,
    audio: str = "denoised",
) -> Exported:
    """Write the voices that match `where` to `out` in `fmt`, naming their `audio`
    (denoised, or raw: what was ingested); the same snapshot gives the same bytes. The
    snapshot it read is recorded in the lake (so `compact` keeps it and
    `--as-of` reproduces the export) and in the export's own record."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")
    selection = select(lake, where, as_of)  # EmptySelection before anything is written
    snapshots.record_if_writable(lake.root / "snapshots", selection.snapshot)
    out.mkdir(parents=True, exist_ok=True)
    files = FORMATS[fmt](selection, out, audio)
    record = {
        "format": fmt,
        "audio": audio,
        "where": where,
        "voices": len(selection.voices),
        "voice_ids": [v.voice_id for v in selection.voices],
        "lake_state": selection.state,
        "snapshot": selection.snapshot.to_json(),
    }
    atomic_write_json(out / RECORD, record)
    (out / RECORD).chmod(0o644)
    seconds = sum(v.duration_s for v in selection.voices)
    return Exported(len(selection.voices), seconds / 3600, [*files, out / RECORD])
