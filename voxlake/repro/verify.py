"""The one reproducibility check of a batch, which the `reproducibility` asset and
`voxlake verify` both run: N reruns, and with `cross` the other worker count, the batch's
voices regrouped, and the dataset statistics merged in other orders.
"""

from __future__ import annotations

from collections.abc import Callable

from voxlake.lake.store import Lake
from voxlake.pipeline import PipelineConfig
from voxlake.repro.checks import (
    BATCH_ORDER,
    REGROUP,
    RERUN,
    Check,
    read_checks,
    read_dataset_checks,
)
from voxlake.repro.merge_orders import verify_merge_orders
from voxlake.repro.recompute import verify_batch, verify_regroup, verify_workers


def verify(
    lake: Lake,
    batch: str,
    runs: int = 1,
    cfg: PipelineConfig = PipelineConfig(),
    cross: bool = False,
    echo: Callable[[str], None] | None = None,
) -> list[Check]:
    """Recompute the batch and compare every stage hash; the checks are stored in the lake."""
    checks = verify_batch(lake, batch, runs, cfg)
    if cross:
        if echo:
            echo("cross-checks: the other worker count, regrouped voices, merge orders ...")
        checks += verify_workers(lake, batch, cfg)
        checks += verify_regroup(lake, batch, cfg)
        if lake.read_table("dataset_mel_stats").num_rows:
            checks += verify_merge_orders(lake)
    return checks


def stored_checks(lake: Lake, batches: list[str], cross: bool) -> list[Check]:
    """The latest stored checks of these batches: reruns, and the cross checks if asked."""
    wanted = {RERUN} | ({REGROUP, BATCH_ORDER} if cross else set())
    found = [c for b in batches for c in read_checks(lake, b)]
    if cross:
        found += read_dataset_checks(lake)
    return [c for c in found if c.check in wanted or (cross and c.check.startswith("workers="))]
