"""The verify report: one line per (batch, check, stage) over any number of runs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from voxlake import pipeline
from voxlake.features.dataset import ASSET as DATASET_STATS
from voxlake.repro.checks import Check

STAGE_RANK = {s: i for i, s in enumerate((*pipeline.STAGE_ORDER, DATASET_STATS))}
COLUMNS = ("batch", "check", "stage", "runs", "match", "first_voice", "max_abs_diff")


@dataclass(frozen=True)
class ReportLine:
    batch: str
    check: str
    stage: str
    runs: int
    match: bool
    first_voice: str
    max_abs_diff: float

    def row(self) -> tuple[object, ...]:
        return tuple(getattr(self, c) for c in COLUMNS)


def summarize(checks: Iterable[Check]) -> list[ReportLine]:
    """Runs grouped; all matched; the first diverging voice; the largest difference."""
    groups: dict[tuple[str, str, str], list[Check]] = {}
    for c in checks:
        groups.setdefault((c.batch, c.check, c.stage), []).append(c)
    lines = []
    for (batch, check, stage), cs in sorted(
        groups.items(), key=lambda kv: (kv[0][0], kv[0][1], STAGE_RANK.get(kv[0][2], 99))
    ):
        firsts = [c.first_voice for c in cs if c.first_voice]
        diffs = [c.max_abs_diff for c in cs if c.max_abs_diff is not None]
        lines.append(
            ReportLine(
                batch or "(dataset)",
                check,
                stage,
                len(cs),
                all(c.match for c in cs),
                firsts[0] if firsts else "",
                max(diffs) if diffs else 0.0,
            )
        )
    return lines


def mismatch_message(line: ReportLine) -> str:
    return (
        f"MISMATCH: {line.stage} diverged ({line.check}, batch {line.batch}), first voice "
        f"{line.first_voice or '?'}, largest difference {line.max_abs_diff}"
    )
