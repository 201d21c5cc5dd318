"""One Great Expectations (1.x) suite per lake table, validated on an ephemeral context.

`validate_table` runs a table's suite on its rows and returns one result row per
expectation (the `quality_results` table). Derived columns that GX cannot compute on
list columns (embedding norms, std minima) are added before validation.
"""

from __future__ import annotations

import logging
import os
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from voxlake.audio import AudioLimits
from voxlake.lineage import now_iso

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
logging.getLogger("great_expectations").setLevel(logging.ERROR)

REJECT_REASONS = [
    "missing",
    "unreadable",
    "changed",
    "empty",
    "undecodable",
    "non_finite",
    "too_short",
    "too_long",
    "silent",
    "stage_error",
]


def _suite(table: str, expected_rows: int | None, limits: AudioLimits) -> list[Any]:
    import great_expectations.expectations as gxe

    def unique_id() -> list[Any]:
        return [
            gxe.ExpectColumnValuesToNotBeNull(column="voice_id"),
            gxe.ExpectColumnValuesToBeUnique(column="voice_id"),
        ]

    rows = (
        [gxe.ExpectTableRowCountToEqual(value=expected_rows)] if expected_rows is not None else []
    )
    suites: dict[str, list[Any]] = {
        "voices": unique_id()
        + [
            gxe.ExpectColumnValuesToBeBetween(
                column="sample_rate", min_value=1000, max_value=768_000
            ),
            gxe.ExpectColumnValuesToBeBetween(column="channels", min_value=1, max_value=64),
            gxe.ExpectColumnValuesToBeBetween(
                column="duration_s",
                min_value=limits.min_duration_s,
                max_value=limits.max_duration_s,
            ),
            gxe.ExpectColumnValuesToBeBetween(
                column="rms_dbfs", min_value=limits.silence_dbfs, max_value=0.01
            ),
        ],
        "accounted": rows,  # voices + rejected + duplicates against the manifest
        "rejected": [
            gxe.ExpectColumnValuesToBeInSet(column="reason", value_set=REJECT_REASONS),
            gxe.ExpectColumnValuesToNotBeNull(column="source_path"),
        ],
        "denoise_metrics": unique_id()
        + [
            gxe.ExpectColumnValuesToBeInSet(column="sample_rate", value_set=[48_000]),
            gxe.ExpectColumnValuesToBeBetween(
                column="out_rms_dbfs", min_value=-240, max_value=0.01
            ),
            gxe.ExpectColumnValuesToBeBetween(
                column="out_clip_fraction", min_value=0, max_value=0.01
            ),
            gxe.ExpectColumnValuesToNotBeNull(column="content_hash"),
        ]
        + rows,
        "voice_mel_stats": unique_id()
        + [
            gxe.ExpectColumnValuesToBeBetween(column="n_frames", min_value=1),
            gxe.ExpectColumnValuesToBeBetween(column="min_std", min_value=0, strict_min=True),
        ]
        + rows,
        "dataset_mel_stats": [
            gxe.ExpectColumnValuesToBeBetween(column="std", min_value=0, strict_min=True),
            gxe.ExpectColumnValuesToNotBeNull(column="mean"),
            gxe.ExpectColumnValuesToBeUnique(column="bin"),
        ]
        + rows,
        "embeddings": unique_id()
        + [
            gxe.ExpectColumnValuesToBeBetween(
                column="vector_norm", min_value=0.999, max_value=1.001
            ),
            gxe.ExpectColumnValuesToBeInSet(column="vector_finite", value_set=[True]),
        ]
        + rows,
        "index": [
            gxe.ExpectColumnValuesToBeUnique(column="voice_id"),
            gxe.ExpectColumnValuesToNotBeNull(column="voice_id"),
        ]
        + rows,
    }
    return suites[table]


def _frame(table: str, t: pa.Table) -> pd.DataFrame:
    if table == "embeddings":
        vectors = np.asarray(t["vector"].to_pylist(), dtype=np.float64).reshape(t.num_rows, -1)
        df = t.drop_columns(["vector"]).to_pandas()
        df["vector_norm"] = np.linalg.norm(vectors, axis=1) if t.num_rows else []
        df["vector_finite"] = np.isfinite(vectors).all(axis=1) if t.num_rows else []
        return df
    if table == "voice_mel_stats":
        df = t.select(["voice_id", "n_frames"]).to_pandas()
        df["min_std"] = [min(s) if s else 0.0 for s in t["std"].to_pylist()]
        return df
    return t.to_pandas()


@lru_cache(maxsize=1)
def _context() -> Any:
    import great_expectations as gx

    ctx = gx.get_context(mode="ephemeral")
    try:
        from great_expectations.data_context.types.base import ProgressBarsConfig

        ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    except (ImportError, AttributeError):
        pass
    return ctx


def validate_table(
    table: str,
    rows: pa.Table,
    batch: str = "",
    expected_rows: int | None = None,
    limits: AudioLimits = AudioLimits(),
) -> list[dict[str, Any]]:
    """Run `table`'s suite on `rows`; one quality_results row per expectation."""
    import great_expectations as gx

    ctx = _context()
    name = f"{table}-{batch or 'all'}"
    source = ctx.data_sources.add_or_update_pandas(name)
    asset = source.add_dataframe_asset(table)
    definition = asset.add_batch_definition_whole_dataframe("whole")
    gx_batch = definition.get_batch(batch_parameters={"dataframe": _frame(table, rows)})
    suite = gx.ExpectationSuite(name=name)
    for e in _suite(table, expected_rows, limits):
        suite.add_expectation(e)
    result = gx_batch.validate(suite)
    when = now_iso()
    out = []
    for r in result.results:
        cfg = r.expectation_config
        res = r.result or {}
        observed = res.get("observed_value")
        out.append(
            {
                "batch": batch,
                "table_name": table,
                "expectation": cfg.type,
                "column_name": cfg.kwargs.get("column"),
                "success": bool(r.success),
                "unexpected_count": int(res.get("unexpected_count") or 0),
                "observed": None if observed is None else str(observed)[:200],
                "checked_at": when,
            }
        )
    return out
