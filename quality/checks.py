"""The asset-check factory: a GX suite run as a (blocking) Dagster asset check.

Checks are declared on the asset with `gx_check_spec` and evaluated inside the
materialisation by `gx_check`, which also stores the results in `quality_results`.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pyarrow as pa

from voxlake.audio.decode import AudioLimits
from voxlake.lake.store import Lake
from voxlake.quality.docs_index import write_docs_index
from voxlake.quality.suites import docs_page, validate_table


def data_docs_dir(lake: Lake) -> Path:
    """GX Data Docs (HTML) of the lake's validations: <lake>/quality/data_docs/index.html.

    Each validation writes its own pages; the index is rewritten by the dataset's checks
    (once per dataset run, not per batch: it lists every batch)."""
    return lake.root / "quality" / "data_docs"


def check_name(table: str) -> str:
    return f"gx_{table}"


def gx_check_spec(asset: str, table: str, blocking: bool = True) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        check_name(table),
        asset=asset,
        blocking=blocking,
        description=f"Great Expectations suite for the `{table}` table",
    )


def gx_check(
    lake: Lake,
    asset: str,
    table: str,
    rows: pa.Table,
    batch: str = "",
    expected_rows: int | None = None,
    limits: AudioLimits = AudioLimits(),
) -> dg.AssetCheckResult:
    docs = data_docs_dir(lake)
    results = validate_table(table, rows, batch, expected_rows, limits, docs)
    lake.write_table("quality_results", results, batch or None, part=f"quality-{table}")
    if not batch:
        write_docs_index(docs)
    failed = [r for r in results if not r["success"]]
    return dg.AssetCheckResult(
        asset_key=asset,
        check_name=check_name(table),
        passed=not failed,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "expectations": len(results),
            "failed": len(failed),
            "data_docs": dg.MetadataValue.path(str(docs_page(docs, table, batch))),
            "data_docs_index": dg.MetadataValue.path(str(docs / "index.html")),
            "failures": dg.MetadataValue.json(
                [{k: r[k] for k in ("expectation", "column_name", "observed")} for r in failed]
            ),
        },
    )
