"""One reproducibility check's result: a typed row of the `reproducibility` table."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

from voxlake.lake.store import Lake

RERUN = "rerun"
REGROUP = "regroup"
BATCH_ORDER = "batch_order"


def workers_check(n: int) -> str:
    return f"workers={n}"


@dataclass(frozen=True)
class Check:
    """A recomputed hash compared with the stored one, and where they first differ."""

    batch: str  # "" for the dataset-wide statistics
    check: str  # rerun, workers=N, regroup, batch_order
    stage: str
    run: int
    stored_hash: str
    recomputed_hash: str
    match: bool
    first_voice: str | None
    max_abs_diff: float
    checked_at: str


def write_checks(lake: Lake, checks: Sequence[Check], batch: str | None, part: str) -> None:
    """Store checks in `reproducibility`, replacing the earlier ones of the same part."""
    lake.write_table("reproducibility", [asdict(c) for c in checks], batch, part=part)


def read_checks(lake: Lake, batch: str | None = None) -> list[Check]:
    return [Check(**r) for r in lake.read_table("reproducibility", batch).to_pylist()]


def read_dataset_checks(lake: Lake) -> list[Check]:
    """The dataset-wide checks (merge orders) only, without reading every batch's."""
    rows = lake.tables.read("reproducibility", None, part=part_of(BATCH_ORDER)).to_pylist()
    return [Check(**r) for r in rows]


def part_of(check: str) -> str:
    return check.replace("=", "-")


def mismatches(checks: Iterable[Check]) -> list[Check]:
    return [c for c in checks if not c.match]
