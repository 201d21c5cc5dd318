"""The lake's maintenance, as `voxlake compact` and its nightly schedule run it: fold the
mel sums per speaker and source, compact every table (merge small files, expire old
snapshots), then catch the duplicate check's index up with the merged files."""

from __future__ import annotations

from dataclasses import dataclass

from voxlake.features import slices
from voxlake.ingest import voice_keys
from voxlake.lake.compaction import DEFAULT_RETENTION_HOURS, Compacted, compact
from voxlake.lake.store import Lake


@dataclass(frozen=True)
class Maintained:
    compacted: list[Compacted]
    slice_rows: tuple[int, int] | None  # slice_mel_sums' rows before and after the fold


def maintain(lake: Lake, retention_hours: float = DEFAULT_RETENTION_HOURS) -> Maintained:
    folded = slices.fold(lake)  # first: the compaction then merges what it wrote
    done = compact(lake, retention_hours)
    voice_keys.refresh(lake)  # the duplicate check's index reads the merged files now
    return Maintained(done, folded)
