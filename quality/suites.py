"""One Great Expectations (1.x) suite per lake table, validated on an ephemeral context.

`validate_table` runs a table's suite on its rows and returns one result row per
expectation (the `quality_results` table). Derived columns that GX cannot compute on
list columns (embedding norms, std minima) are added before validation.

Data Docs: each validation renders its own two pages (the suite and the result), at a
path fixed by the table and batch (`docs_page`), so a rerun replaces its batch's page and
no page depends on the process that wrote it. GX's own site index is never built: it
lists the validations this process holds in memory (an ephemeral context) and deletes
every other page, so each run would wipe the pages of all earlier runs, and it renders
every page's link at every validation. `voxlake.quality.docs_index` writes the index.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from voxlake.audio.decode import AudioLimits
from voxlake.ingest.sources.item import MANIFEST_REFUSALS
from voxlake.lake.lineage import now_iso
from voxlake.lake.schemas import TABLES
from voxlake.quality.docs_templates import compile_templates_once

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
    "too_loud",
    "stage_error",
    "not_regular",
    "outside_inbox",
    "bad_sidecar",
]
REJECT_REASONS += [r for r in MANIFEST_REFUSALS if r not in REJECT_REASONS]


FULL_FRAMES = ("voices", "rejected", "denoise_metrics", "batch_mel_stats", "dataset_mel_stats")


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
                column="rms_dbfs",
                min_value=limits.silence_dbfs,
                max_value=limits.max_rms_dbfs + 0.01,
            ),
        ],
        "accounted": rows,  # voices + rejected + duplicates against the manifest
        "rejected": [
            gxe.ExpectColumnValuesToBeInSet(column="reason", value_set=REJECT_REASONS),
            gxe.ExpectColumnValuesToNotBeNull(column="source_path"),
        ],
        "denoise_metrics": unique_id()
        + [
            gxe.ExpectColumnValuesToBeBetween(  # the source's rate, or the model's
                column="sample_rate", min_value=1000, max_value=768_000
            ),
            gxe.ExpectColumnValuesToBeBetween(
                column="out_rms_dbfs", min_value=-240, max_value=0.01
            ),
            gxe.ExpectColumnValuesToBeBetween(
                column="out_clip_fraction",
                min_value=0,
                max_value=1,  # a flag, not a gate
            ),
            gxe.ExpectColumnValuesToNotBeNull(column="content_hash"),
            # NaN reads as null: every measured float must be finite
            *[
                gxe.ExpectColumnValuesToNotBeNull(column=c)
                for c in ("in_rms_dbfs", "out_rms_dbfs", "out_peak_dbfs", "local_snr_db")
            ],
        ]
        + rows,
        "voice_mel_stats": unique_id()
        + [
            gxe.ExpectColumnValuesToBeBetween(column="n_frames", min_value=1),
            gxe.ExpectColumnValuesToBeBetween(column="max_std", min_value=0, strict_min=True),
        ]
        + rows,
        "batch_mel_stats": [
            gxe.ExpectColumnValuesToBeBetween(column="n_voices", min_value=0),
            gxe.ExpectColumnValuesToBeBetween(column="n_frames", min_value=0),
            gxe.ExpectColumnValuesToNotBeNull(column="partial_hash"),
            gxe.ExpectColumnValuesToNotBeNull(column="fingerprint"),
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
    expectations = suites[table]
    if table in FULL_FRAMES:  # the frame is the stored table: its columns are the schema's
        expectations = [
            gxe.ExpectTableColumnsToMatchSet(column_set=TABLES[table].names, exact_match=True),
            *expectations,
        ]
    return expectations


def _frame(table: str, t: pa.Table) -> pd.DataFrame:
    if table == "embeddings":
        vectors = np.zeros((0, 1))  # a batch whose every file was refused: no vectors
        if t.num_rows:
            vectors = np.asarray(t["vector"].to_pylist(), dtype=np.float64).reshape(t.num_rows, -1)
        df = t.drop_columns(["vector"]).to_pandas()
        df["vector_norm"] = np.linalg.norm(vectors, axis=1) if t.num_rows else []
        df["vector_finite"] = np.isfinite(vectors).all(axis=1) if t.num_rows else []
        return df
    if table == "voice_mel_stats":
        df = t.select(["voice_id", "n_frames"]).to_pandas()
        # a narrowband voice has constant (floored) high bins: only a voice constant in
        # every bin is suspect
        df["max_std"] = [max(s) if s else 0.0 for s in t["std"].to_pylist()]
        return df
    return t.to_pandas()


DOCS_SITE = "voxlake"
# every validation's run id: its Data Docs page sits at a path known from (table, batch)
# alone; when it ran is `quality_results.checked_at`
RUN_NAME = "current"
RUN_TIME = datetime(2000, 1, 1, tzinfo=UTC)


def _run_id() -> Any:
    from great_expectations.core.run_identifier import RunIdentifier

    return RunIdentifier(run_name=RUN_NAME, run_time=RUN_TIME)


def validation_name(table: str, batch: str) -> str:
    return f"{table}.{batch or 'dataset'}"


def docs_page(docs_dir: Path, table: str, batch: str) -> Path:
    """The Data Docs page of `table`'s latest validation in `batch` ("" for the dataset)."""
    name = validation_name(table, batch)
    run_dir = RUN_TIME.strftime("%Y%m%dT%H%M%S.%fZ")
    return (
        docs_dir
        / "validations"
        / table
        / (batch or "dataset")
        / RUN_NAME
        / run_dir
        / (f"{name}-{table}.html")
    )


@lru_cache(maxsize=8)
def _context(docs_dir: str) -> Any:
    """An ephemeral GX context per process; with docs_dir, Data Docs are built there."""
    import great_expectations as gx

    ctx = gx.get_context(mode="ephemeral")
    try:
        from great_expectations.data_context.types.base import ProgressBarsConfig

        ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    except (ImportError, AttributeError):
        pass
    if docs_dir:
        compile_templates_once()
        ctx.add_data_docs_site(
            site_name=DOCS_SITE,
            site_config={
                "class_name": "SiteBuilder",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": docs_dir,
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
    return ctx


def validate_table(
    table: str,
    rows: pa.Table,
    batch: str = "",
    expected_rows: int | None = None,
    limits: AudioLimits = AudioLimits(),
    docs_dir: Path | None = None,
) -> list[dict[str, Any]]:
    """Run `table`'s suite on `rows` (a GX checkpoint; its Data Docs pages into docs_dir if
    given, at `docs_page`). Returns one quality_results row per expectation.
    """
    import great_expectations as gx
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
    )

    ctx = _context(str(docs_dir or ""))
    name = validation_name(table, batch)
    source = ctx.data_sources.add_or_update_pandas(name)
    definition = source.add_dataframe_asset(table).add_batch_definition_whole_dataframe("whole")
    suite = ctx.suites.add_or_update(
        gx.ExpectationSuite(name=name, expectations=_suite(table, expected_rows, limits))
    )
    validation = ctx.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=name, data=definition, suite=suite)
    )
    checkpoint = ctx.checkpoints.add_or_update(
        gx.Checkpoint(name=name, validation_definitions=[validation], actions=[])
    )
    run = checkpoint.run(batch_parameters={"dataframe": _frame(table, rows)}, run_id=_run_id())
    if docs_dir:  # this validation's pages only; build_index would delete the others
        ctx.build_data_docs(
            site_names=[DOCS_SITE],
            resource_identifiers=[*run.run_results, ExpectationSuiteIdentifier(name)],
            build_index=False,
        )
    # forget it all: an ephemeral context keeps every entity, and each add_or_update and
    # docs build scans them, so a process that validates 10^5 batches would slow down
    for key in run.run_results:
        ctx.validation_results_store.remove_key(key)
    ctx.checkpoints.delete(name)
    ctx.validation_definitions.delete(name)
    ctx.suites.delete(name)
    ctx.data_sources.delete(name)
    when = now_iso()
    out = []
    for result in run.run_results.values():
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
