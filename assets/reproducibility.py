import dagster as dg

from orchestration.partitions import voice_batches
from resources import DenoiserResource, LakeResource, MelResource
from voxlake.verify import VerifyConfig, verify_batch


class ReproducibilityConfig(dg.Config):
    runs: int = 1


@dg.asset(
    partitions_def=voice_batches,
    code_version="verify-1",
    group_name="quality",
    deps=["voice_embeddings", "voice_mel_stats"],
)
def reproducibility(
    context: dg.AssetExecutionContext,
    config: ReproducibilityConfig,
    lake: LakeResource,
    denoiser: DenoiserResource,
    mel: MelResource,
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """Recompute the batch from its raw audio and compare every stage's BLAKE3 hash."""
    cfg = VerifyConfig(denoiser.config(), mel.config(), denoiser.workers)
    rows = verify_batch(lake.lake(), context.partition_key, config.runs, cfg)
    mismatches = [r for r in rows if not r["match"]]
    return dg.MaterializeResult(
        metadata={
            "runs": config.runs,
            "checks": len(rows),
            "mismatches": len(mismatches),
            "verdict": "bit-identical" if not mismatches else "MISMATCH",
            "report": dg.MetadataValue.md(_markdown(rows)),
        },
    )


def _markdown(rows: list[dict[str, object]]) -> str:
    lines = ["| stage | run | match | first voice | max abs diff |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['stage']} | {r['run']} | {r['match']} | {r['first_voice'] or ''} "
            f"| {r['max_abs_diff']} |"
        )
    return "\n".join(lines)
