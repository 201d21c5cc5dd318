"""Why a batch failed, kept in the lake: `batch_failures` holds each batch's latest failure.

The run that fails writes it (a Dagster failure hook on the batch job), so a failure is
visible in `batch_summary` and `voxlake run` whether the CLI or the daemon started the run.
A later run that completes the batch supersedes it (the summary compares the times).
"""

from __future__ import annotations

from voxlake.lake.lineage import now_iso
from voxlake.lake.store import Lake

PART = "failure"


def one_line(error: BaseException | str | None) -> str:
    if error is None:
        return "failed"
    text = str(error) if isinstance(error, str) else f"{type(error).__name__}: {error}"
    lines = [x.strip() for x in text.splitlines() if x.strip()]
    return " ".join(lines[:2])[:300] or "failed"


def record_failure(lake: Lake, batch: str, step: str, error: BaseException | str | None) -> None:
    """Replace the batch's failure row with this one."""
    row = {"batch": batch, "step": step, "error": one_line(error), "failed_at": now_iso()}
    lake.write_table("batch_failures", [row], batch, part=PART)
