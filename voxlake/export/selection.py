"""Which voices an export holds, and the lake state it came from.

The selection is a SQL predicate over the `voice_overview` view, run through the confined
catalog (read-only, lake-only), so a predicate can neither write nor read outside the lake.
Only voices with denoised audio are exported; rows come sorted by voice_id.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from voxlake.lake import catalog, snapshots
from voxlake.lake.snapshots import Snapshot
from voxlake.lake.store import Lake

MEASURES = (
    "duration_s",
    "rms_dbfs",
    "out_rms_dbfs",
    "local_snr_db",
    "floor_depth_db",
    "passthrough",
    "dnsmos_sig_out",
    "dnsmos_bak_out",
    "dnsmos_ovrl_out",
)


class EmptySelection(LookupError):
    """No voice matches: an export is never an empty file."""


@dataclass(frozen=True)
class ExportVoice:
    voice_id: str
    batch: str
    speaker: str | None
    audio_path: str  # absolute path of the denoised FLAC
    sample_rate: int
    frames: int
    labels: dict[str, Any]
    measures: dict[str, Any]
    raw_path: str = ""  # absolute path of the raw copy in the lake
    raw_bytes: int = 0
    raw_frames: int = 0
    columns: dict[str, Any] = field(default_factory=dict)  # its voice_overview row

    def audio(self, kind: str) -> str:
        """The stored file of `kind` (denoised or raw)."""
        return self.audio_path if kind == "denoised" else self.raw_path

    def layout(self, kind: str) -> tuple[int, int, int]:
        """(sample rate, frames, channels) of the stored file of `kind`."""
        if kind == "denoised":
            return self.sample_rate, self.frames, 1
        rate = int(self.columns.get("sample_rate") or self.sample_rate)
        return rate, self.raw_frames, int(self.columns.get("channels") or 1)

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate

    @property
    def text(self) -> str | None:
        """The transcript: the `transcripts` table's, else a label that holds one."""
        if self.columns.get("text"):
            return str(self.columns["text"])
        for key in ("text", "transcript", "sentence"):
            value = self.labels.get(key)
            if isinstance(value, str) and value:
                return value
        return None


@dataclass(frozen=True)
class Selection:
    voices: list[ExportVoice]
    where: str | None
    state: list[dict[str, Any]]  # stage hashes and fingerprints of the batches it came from
    snapshot: Snapshot  # the tables' versions it read


Run = Callable[[str], tuple[list[str], list[tuple[Any, ...]]]]


def _query(run: Run, where: str | None) -> tuple[list[str], list[tuple[Any, ...]]]:
    predicate = f"where ({where})" if where else ""
    return run(
        f"""
        select o.*, v.raw_path, v.bytes as raw_bytes, v.frames as raw_frames, d.denoised_path,
               d.sample_rate as denoised_rate, d.frames as denoised_frames
        from (select * from voice_overview {predicate}) o
        join voices v using (voice_id)
        join denoise_metrics d using (voice_id)
        where d.denoised_path is not null
        order by o.voice_id
        """
    )


def _state(run: Run, batches: list[str]) -> list[dict[str, Any]]:
    wanted = ", ".join("'" + b.replace("'", "''") + "'" for b in ["", *batches])
    cols, rows = run(
        "select batch, asset, stage_hash, fingerprint, code_version from stage_hashes "
        f"where batch in ({wanted}) order by batch, asset"
    )
    return [dict(zip(cols, r, strict=True)) for r in rows]


def select(lake: Lake, where: str | None = None, as_of: str | None = None) -> Selection:
    """The denoised voices that match `where` in the current snapshot (or the `as_of` one),
    with the lake state they came from."""
    snapshot = snapshots.resolve(lake.tables, lake.root / "snapshots", as_of)
    with catalog.snapshot_session(lake, snapshot) as run:
        cols, rows = _query(run, where)
        batches = sorted({r[cols.index("batch")] for r in rows})
        state = _state(run, batches) if rows else []
    overview = cols[: cols.index("raw_path")]
    root = lake.root.as_posix()  # paths joined as text: 10^6 Path joins cost seconds
    voices = []
    for row in rows:
        r = dict(zip(cols, row, strict=True))
        voices.append(
            ExportVoice(
                voice_id=r["voice_id"],
                batch=r["batch"],
                speaker=r["speaker"],
                audio_path=f"{root}/{r['denoised_path']}",
                sample_rate=int(r["denoised_rate"]),
                frames=int(r["denoised_frames"]),
                labels=json.loads(r["labels"]) if r["labels"] else {},
                measures={m: r[m] for m in MEASURES},
                raw_path=f"{root}/{r['raw_path']}" if r["raw_path"] else "",
                raw_bytes=int(r["raw_bytes"] or 0),
                raw_frames=int(r["raw_frames"] or 0),
                columns={c: r[c] for c in overview if c != "labels"},
            )
        )
    if not voices:
        raise EmptySelection(
            "no denoised voice matches"
            + (f" --where {where!r}" if where else "")
            + "; nothing was written"
        )
    return Selection(voices, where, state, snapshot)
