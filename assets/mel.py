import dagster as dg
from voxlake.orchestration.partitions import voice_batches
from voxlake.quality.checks import gx_check, gx_check_spec
from voxlake.resources import CatalogResource, LakeResource, MelResource

from voxlake import stages
from voxlake.features import dataset as dataset_stats
from voxlake.features.plots import markdown_image, mel_stats_plot

from .results import materialize_result


@dg.asset(
    partitions_def=voice_batches,
    code_version=stages.MEL_CODE_VERSION,
    group_name="features",
    deps=["denoised_voices"],
    check_specs=[
        gx_check_spec("voice_mel_stats", "voice_mel_stats"),
        gx_check_spec("voice_mel_stats", "batch_mel_stats"),
    ],
)
def voice_mel_stats(
    context: dg.AssetExecutionContext, lake: LakeResource, mel: MelResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """Log-mel features and per-voice summaries; the batch's exact partial statistics."""
    lk, batch = lake.lake(), context.partition_key
    result = stages.mel_batch(lk, batch, mel.config(), mel.workers)
    checks = [
        gx_check(
            lk,
            "voice_mel_stats",
            "voice_mel_stats",
            lk.read_table("voice_mel_stats", batch),
            batch,
            expected_rows=result.rows,
        ),
        gx_check(
            lk,
            "voice_mel_stats",
            "batch_mel_stats",
            lk.read_table("batch_mel_stats", batch),
            batch,
            expected_rows=1,
        ),
    ]
    return materialize_result(result, checks)


@dg.asset(
    code_version=dataset_stats.CODE_VERSION,
    group_name="features",
    deps=["voice_mel_stats"],
    automation_condition=dg.AutomationCondition.eager(),
    pool="voxlake_global",  # one writer of the dataset-wide assets at a time
    check_specs=[gx_check_spec("mel_stats", "dataset_mel_stats")],
)
def mel_stats(
    lake: LakeResource, mel: MelResource, catalog: CatalogResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """Dataset mel statistics: the exact merge of every batch partial, updated incrementally."""
    lk, cfg = lake.lake(), mel.config()
    update = dataset_stats.update(lk, stages.mel_fingerprint(cfg), cfg.n_mels)
    check = gx_check(
        lk,
        "mel_stats",
        "dataset_mel_stats",
        lk.read_table("dataset_mel_stats"),
        expected_rows=cfg.n_mels if update.final else 0,
    )
    catalog.refresh(lk)
    extra: dict[str, object] = {}
    if update.final is not None:
        png = mel_stats_plot(
            update.final.mean,
            update.final.std,
            f"{update.final.n_voices} voices, {update.final.n_frames} frames",
        )
        extra["plot"] = dg.MetadataValue.md(markdown_image(png, "dataset mel statistics"))
        extra["voices"] = update.final.n_voices
        extra["frames"] = update.final.n_frames
    return materialize_result(update.result, [check], **extra)
