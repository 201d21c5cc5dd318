"""The asset of a per-voice batch stage, made from its core `Stage` declaration.

Name, upstream dependency and code version come from the declaration, so the asset graph
and the core's stage order are one. The body runs the stage for the partition, validates
its tables with their GX suites (blocking checks) and returns the result.
"""

from collections.abc import Callable
from typing import Any

import dagster as dg

from voxlake import descriptions, pipeline
from voxlake.lake.store import Lake
from voxlake.orchestration.partitions import voice_batches
from voxlake.pipeline import PipelineConfig
from voxlake.progress import stage_progress
from voxlake.quality.checks import gx_check, gx_check_spec
from voxlake.resources import (
    ComputeResource,
    DenoiserResource,
    EmbedderResource,
    LakeResource,
    MelResource,
    pipeline_config,
)
from voxlake.stage import Stage

from .results import BATCH_SCOPE, materialize_result


def batch_stage_asset(
    stage: Stage[PipelineConfig],
    group: str,
    summary_tables: tuple[str, ...] = (),
    metadata: Callable[[Lake, str], dict[str, Any]] = lambda lake, batch: {},
    priority: int = 0,
) -> dg.AssetsDefinition:
    """`summary_tables`: one-row-per-batch tables the stage also writes and checks;
    `metadata(lake, batch)`: what else the materialisation shows (a picture, the model);
    `priority`: of the steps a run can take next, Dagster takes the highest first."""
    tables = (stage.output_table, *summary_tables)

    @dg.asset(
        name=stage.name,
        partitions_def=voice_batches,
        code_version=stage.code_version,
        group_name=group,
        deps=[stage.after],
        tags=BATCH_SCOPE,
        op_tags={"dagster/priority": str(priority)},
        check_specs=[gx_check_spec(stage.name, t) for t in tables],
        description=descriptions.ASSETS[stage.name],
    )
    def _asset(
        context: dg.AssetExecutionContext,
        lake: LakeResource,
        compute: ComputeResource,
        denoiser: DenoiserResource,
        mel: MelResource,
        embedder: EmbedderResource,
    ) -> dg.MaterializeResult:
        batch = context.partition_key
        cfg = pipeline_config(compute, denoiser, mel, embedder)
        with lake.batch_session(batch, reads=(stage.input_table,)) as lk:
            with stage_progress(f"{stage.name} {batch}", context.log.info) as progress:
                result = pipeline.run(lk, batch, stage, cfg, progress)
            checks = [
                gx_check(
                    lk,
                    stage.name,
                    t,
                    lk.read_table(t, batch),
                    batch,
                    expected_rows=result.rows if t == stage.output_table else 1,
                )
                for t in tables
            ]
            shown = metadata(lk, batch)
        return materialize_result(result, checks, **shown)

    return _asset
