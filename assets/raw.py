"""The raw stage's asset: inbox files into the lake by content hash, or quarantined."""

import dagster as dg

from voxlake import descriptions, pipeline
from voxlake.ingest import raw as ingest
from voxlake.ingest.inbox import read_manifest
from voxlake.orchestration.partitions import voice_batches
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

from .results import BATCH_SCOPE, materialize_result


@dg.asset(
    description=descriptions.ASSETS["raw_voices"],
    partitions_def=voice_batches,
    code_version=ingest.CODE_VERSION,
    tags=BATCH_SCOPE,
    group_name="voices",
    check_specs=[
        gx_check_spec("raw_voices", "voices"),
        gx_check_spec("raw_voices", "rejected", blocking=False),
        gx_check_spec("raw_voices", "accounted"),
    ],
)
def raw_voices(
    context: dg.AssetExecutionContext,
    lake: LakeResource,
    compute: ComputeResource,
    denoiser: DenoiserResource,
    mel: MelResource,
    embedder: EmbedderResource,
) -> dg.MaterializeResult:
    """The batch's inbox files copied into the lake by content hash; refusals with reasons."""
    batch = context.partition_key
    with lake.batch_session(batch, inbox=True) as lk:
        # with work ahead on, the pool denoises each voice as soon as it is accepted
        cfg = pipeline_config(compute, denoiser, mel, embedder)
        ahead = pipeline.voice_ahead(lk, ingest.ASSET, cfg)
        with stage_progress(f"raw_voices {batch}", context.log.info) as progress:
            result = ingest.ingest_batch(lk, batch, lake.limits(), progress, ahead)
        inputs = len(read_manifest(lk, batch).files)
        voices = lk.read_table("voices", batch)
        checks = [
            gx_check(lk, "raw_voices", "voices", voices, batch, limits=lake.limits()),
            gx_check(lk, "raw_voices", "rejected", lk.read_table("rejected", batch), batch),
            gx_check(
                lk,
                "raw_voices",
                "accounted",
                ingest.accounted(lk, batch),
                batch,
                expected_rows=inputs,
            ),
        ]
    return materialize_result(result, checks)
