"""The reproducibility asset: the one verify implementation, for one batch."""

import sys

import dagster as dg

from voxlake import descriptions, pipeline
from voxlake.lake.fingerprint import code_version
from voxlake.orchestration.partitions import voice_batches
from voxlake.repro import checks as repro_checks
from voxlake.repro import merge_orders, recompute
from voxlake.repro.checks import Check, mismatches
from voxlake.repro.verify import verify
from voxlake.resources import (
    ComputeResource,
    DenoiserResource,
    EmbedderResource,
    LakeResource,
    MelResource,
    pipeline_config,
)


class ReproducibilityConfig(dg.Config):
    runs: int = 1
    cross: bool = False  # also: the other worker count, regrouped voices, merge orders


@dg.asset(
    description=descriptions.ASSETS["reproducibility"],
    partitions_def=voice_batches,
    code_version=code_version(recompute, merge_orders, repro_checks, sys.modules[__name__]),
    group_name="quality",
    deps=list(pipeline.FINAL_STAGES),
)
def reproducibility(
    context: dg.AssetExecutionContext,
    config: ReproducibilityConfig,
    lake: LakeResource,
    compute: ComputeResource,
    denoiser: DenoiserResource,
    mel: MelResource,
    embedder: EmbedderResource,
) -> dg.MaterializeResult:
    """Recompute the batch from its raw audio and compare every stage's BLAKE3 hash."""
    cfg = pipeline_config(compute, denoiser, mel, embedder)
    batch = context.partition_key
    with lake.batch_session(batch, reads=("voices", "denoise_metrics")) as lk:
        checks = verify(lk, batch, config.runs, cfg, config.cross)
    bad = mismatches(checks)
    return dg.MaterializeResult(
        metadata={
            "runs": config.runs,
            "checks": len(checks),
            "mismatches": len(bad),
            "verdict": "bit-identical" if not bad else "MISMATCH",
            "first_divergence": next(
                (f"{c.stage} ({c.check}), voice {c.first_voice}" for c in bad), ""
            ),
            "report": dg.MetadataValue.md(_markdown(checks)),
        },
    )


def _markdown(checks: list[Check]) -> str:
    lines = [
        "| check | stage | run | match | first voice | max abs diff |",
        "|---|---|---|---|---|---|",
    ]
    for c in checks:
        lines.append(
            f"| {c.check} | {c.stage} | {c.run} | {c.match} "
            f"| {c.first_voice or ''} | {c.max_abs_diff} |"
        )
    return "\n".join(lines)
