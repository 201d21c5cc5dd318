"""The dataset-wide assets: mel statistics and the voice index, kept current per batch.

Each follows the batches (eager automation) and writes alone (the `voxlake_global` pool).
"""

import dagster as dg
import pyarrow as pa

from voxlake import descriptions, pipeline
from voxlake.embed import index_search, index_writer
from voxlake.features import dataset as dataset_stats
from voxlake.features.plots import markdown_image, mel_stats_plot
from voxlake.quality.checks import gx_check, gx_check_spec
from voxlake.resources import IndexResource, LakeResource, MelResource

from .results import DATASET_SCOPE, materialize_result

GLOBAL_POOL = "voxlake_global"  # one writer of the dataset-wide assets at a time

# eager(), less the two clauses that let one batch hold back all others (a failed, so
# missing, batch, or one stuck in progress), and with its reset changed. eager() stops
# waiting at the tick after it requests a run, so a batch that lands while that run is
# under way (after the run has read the batches) is forgotten, and the dataset stays one
# batch behind until another batch comes (seen on a cluster of two workers). Here the
# wait ends only when the asset is materialised after the newest batch (Dagster compares
# their timestamps when both land between two ticks). A failed dataset run is retried
# when a batch lands, not at every tick. The assets read whatever batches have succeeded,
# so an extra run finds nothing to do.
_AC = dg.AutomationCondition
_NEW_BATCH = _AC.any_deps_match(_AC.newly_updated())
FOLLOWS_BATCHES = (
    (_AC.newly_missing() | _NEW_BATCH.since(_AC.newly_updated()))
    & ~_AC.in_progress()
    & ~(_AC.execution_failed() & ~_NEW_BATCH)
).with_label("after any batch")


@dg.asset(
    description=descriptions.ASSETS["mel_stats"],
    code_version=dataset_stats.CODE_VERSION,
    group_name="features",
    deps=[pipeline.MEL.name],
    tags=DATASET_SCOPE,
    automation_condition=FOLLOWS_BATCHES,
    pool=GLOBAL_POOL,
    check_specs=[gx_check_spec("mel_stats", "dataset_mel_stats")],
)
def mel_stats(lake: LakeResource, mel: MelResource) -> dg.MaterializeResult:
    """Dataset mel statistics: the exact merge of every batch partial, updated incrementally."""
    cfg = mel.config()
    with lake.dataset_session(("stats",)) as lk:
        update = dataset_stats.update(lk, pipeline.mel_fingerprint(cfg), cfg.n_mels)
        check = gx_check(
            lk,
            "mel_stats",
            "dataset_mel_stats",
            lk.read_table("dataset_mel_stats"),
            expected_rows=cfg.n_mels if update.final else 0,
        )
    extra: dict[str, object] = {}
    if update.final is not None:
        final = update.final
        png = mel_stats_plot(
            final.mean, final.std, f"{final.n_voices} voices, {final.n_frames} frames"
        )
        extra["plot"] = dg.MetadataValue.md(markdown_image(png, "dataset mel statistics"))
        extra["voices"] = final.n_voices
        extra["frames"] = final.n_frames
    return materialize_result(update.result, [check], **extra)


@dg.asset(
    description=descriptions.ASSETS["voice_index"],
    code_version=index_writer.CODE_VERSION,
    group_name="embeddings",
    deps=[pipeline.EMBED.name],
    tags=DATASET_SCOPE,
    automation_condition=FOLLOWS_BATCHES,
    pool=GLOBAL_POOL,
    check_specs=[gx_check_spec("voice_index", "index")],
)
def voice_index(lake: LakeResource, vector_index: IndexResource) -> dg.MaterializeResult:
    """The LanceDB table of every embedding; only batches that changed are upserted."""
    with lake.dataset_session(("index",)) as lk:
        result = index_writer.sync(lk, vector_index.ann_threshold, vector_index.optimize_after)
        # The suite checks the rows this sync wrote (a new batch's work, not the lake's);
        # the whole index must still hold exactly as many rows as the embeddings tables.
        changed = list(result.extra["changed_batches"])
        ids = pa.table({"voice_id": index_search.voice_ids(lk, changed)})
        expected = sum(lk.table_rows("embeddings", b) for b in changed)
        check = gx_check(lk, "voice_index", "index", ids, expected_rows=expected)
        index_writer.check_total(lk, result.rows)
    return materialize_result(result, [check])
