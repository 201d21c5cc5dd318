import dagster as dg
from voxlake.orchestration.partitions import voice_batches
from voxlake.resources import DenoiserResource, LakeResource, MelResource

from voxlake.repro.recompute import VerifyConfig, verify_batch, verify_workers


class ReproducibilityConfig(dg.Config):
    runs: int = 1
    check_workers: bool = False  # also rerun once with the other worker count


@dg.asset(
    partitions_def=voice_batches,
    code_version="verify-2",
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
    lk, batch = lake.lake(), context.partition_key
    cfg = VerifyConfig(denoiser.config(), mel.config(), denoiser.workers)
    rows = verify_batch(lk, batch, config.runs, cfg)
    if config.check_workers:
        rows += verify_workers(lk, batch, cfg)
    mismatches = [r for r in rows if not r["match"]]
    return dg.MaterializeResult(
        metadata={
            "runs": config.runs,
            "checks": len(rows),
            "mismatches": len(mismatches),
            "verdict": "bit-identical" if not mismatches else "MISMATCH",
            "first_divergence": next(
                (f"{r['stage']} ({r['check']}), voice {r['first_voice']}" for r in mismatches),
                "",
            ),
            "report": dg.MetadataValue.md(_markdown(rows)),
        },
    )


def _markdown(rows: list[dict[str, object]]) -> str:
    lines = [
        "| check | stage | run | match | first voice | max abs diff |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['check']} | {r['stage']} | {r['run']} | {r['match']} "
            f"| {r['first_voice'] or ''} | {r['max_abs_diff']} |"
        )
    return "\n".join(lines)
