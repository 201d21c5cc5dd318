"""From a core StageResult to a Dagster MaterializeResult (metadata + data version)."""

from __future__ import annotations

from typing import Any

import dagster as dg

from voxlake.lake.lineage import StageResult

# The jobs select assets by scope: one batch's stages, or the dataset-wide assets.
BATCH_SCOPE = {"voxlake/scope": "batch"}
DATASET_SCOPE = {"voxlake/scope": "dataset"}


def materialize_result(
    result: StageResult,
    checks: list[dg.AssetCheckResult] | None = None,
    **metadata: Any,
) -> dg.MaterializeResult:
    meta: dict[str, Any] = {
        "rows": result.rows,
        "rejected": result.rejected,
        "content_hash": result.stage_hash,
        "fingerprint": result.fingerprint,
        **{k: v for k, v in result.extra.items() if isinstance(v, int | float | str)},
        **metadata,
    }
    return dg.MaterializeResult(
        metadata=meta,
        data_version=dg.DataVersion(result.stage_hash or "empty"),
        check_results=checks or [],
    )
