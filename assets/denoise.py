import dagster as dg
from voxlake.orchestration.partitions import voice_batches
from voxlake.quality.checks import gx_check, gx_check_spec
from voxlake.resources import DenoiserResource, LakeResource

from voxlake import stages
from voxlake.audio import denoise

from .results import materialize_result


@dg.asset(
    partitions_def=voice_batches,
    code_version=denoise.CODE_VERSION,
    group_name="voices",
    deps=["raw_voices"],
    check_specs=[gx_check_spec("denoised_voices", "denoise_metrics")],
)
def denoised_voices(
    context: dg.AssetExecutionContext, lake: LakeResource, denoiser: DenoiserResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """48 kHz DeepFilterNet3 output of every voice, and per-voice denoise metrics."""
    lk, batch = lake.lake(), context.partition_key
    result = stages.denoise_batch(
        lk, batch, denoiser.config(), denoiser.workers, dnsmos=denoiser.dnsmos
    )
    metrics = lk.read_table("denoise_metrics", batch)
    check = gx_check(
        lk, "denoised_voices", "denoise_metrics", metrics, batch, expected_rows=result.rows
    )
    return materialize_result(result, [check], **denoise.model_info())
