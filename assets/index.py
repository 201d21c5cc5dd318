import dagster as dg
import pyarrow as pa
from voxlake.quality.checks import gx_check, gx_check_spec
from voxlake.resources import CatalogResource, IndexResource, LakeResource

from voxlake.embed import index

from .results import materialize_result


@dg.asset(
    code_version=index.CODE_VERSION,
    group_name="embeddings",
    deps=["voice_embeddings"],
    automation_condition=dg.AutomationCondition.eager(),
    pool="voxlake_global",  # one writer of the dataset-wide assets at a time
    check_specs=[gx_check_spec("voice_index", "index")],
)
def voice_index(
    lake: LakeResource, vector_index: IndexResource, catalog: CatalogResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """The LanceDB table of every embedding; only batches that changed are upserted."""
    lk = lake.lake()
    result = index.sync(lk, vector_index.ann_threshold)
    ids = pa.table({"voice_id": index.voice_ids(lk)})
    expected = lk.read_table("embeddings").num_rows
    check = gx_check(lk, "voice_index", "index", ids, expected_rows=expected)
    catalog.refresh(lk)
    return materialize_result(result, [check])
