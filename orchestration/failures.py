"""The batch job's failure hook: the failed step and its error go into the lake's
`batch_failures` table (the core does the writing)."""

import dagster as dg

from voxlake.lake.failures import record_failure
from voxlake.resources import LakeResource


@dg.failure_hook(required_resource_keys={"lake"})
def record_batch_failure(context: dg.HookContext) -> None:
    run = context.instance.get_run_by_id(context.run_id)
    batch = run.tags.get("dagster/partition") if run else None
    if not batch:
        return
    lake: LakeResource = context.resources.lake
    with lake.batch_session(batch) as lk:
        record_failure(lk, batch, context.step_key or "", context.op_exception)
