import dagster as dg
from voxlake.orchestration.partitions import voice_batches
from voxlake.quality.checks import gx_check, gx_check_spec
from voxlake.resources import EmbedderResource, LakeResource

from voxlake import stages
from voxlake.embed import embedders as embed

from .results import materialize_result


@dg.asset(
    partitions_def=voice_batches,
    code_version=embed.CODE_VERSION,
    group_name="embeddings",
    deps=["denoised_voices"],
    check_specs=[gx_check_spec("voice_embeddings", "embeddings")],
)
def voice_embeddings(
    context: dg.AssetExecutionContext, lake: LakeResource, embedder: EmbedderResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """One L2-normalised 256-d embedding per denoised voice (GE2E unless configured)."""
    lk, batch = lake.lake(), context.partition_key
    result = stages.embed_batch(lk, batch, embedder.workers, embedder=embedder.name)
    check = gx_check(
        lk,
        "voice_embeddings",
        "embeddings",
        lk.read_table("embeddings", batch),
        batch,
        expected_rows=result.rows,
    )
    return materialize_result(result, [check])
