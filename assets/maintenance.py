"""Table maintenance: the nightly compaction of the lake's Delta tables."""

import dagster as dg

from voxlake import descriptions, maintenance
from voxlake.features import slices
from voxlake.lake import compaction
from voxlake.lake.fingerprint import code_version
from voxlake.resources import LakeResource

from .dataset import GLOBAL_POOL


@dg.asset(
    description=descriptions.ASSETS["table_compaction"],
    code_version=code_version(maintenance, compaction, slices),
    group_name="maintenance",
    pool=GLOBAL_POOL,
)
def table_compaction(lake: LakeResource) -> dg.MaterializeResult:
    """Fold the slice sums and compact every table; files and bytes before and after, per
    table and in all."""
    with lake.dataset_session(("snapshots",)) as lk:
        maintained = maintenance.maintain(lk, lake.retention_hours)
    done = maintained.compacted
    rows = "\n".join(
        f"| {c.table} | {c.files_before} | {c.files_after} | {c.bytes_before} | "
        f"{c.bytes_after} | {c.expired_files} | {c.expired_log_files} |"
        for c in done
    )
    table = (
        "| table | files before | files after | bytes before | bytes after | expired "
        "| expired log |\n|---|---|---|---|---|---|---|\n" + rows
    )
    return dg.MaterializeResult(
        metadata={
            "tables": len(done),
            "files_before": sum(c.files_before for c in done),
            "files_after": sum(c.files_after for c in done),
            "bytes_before": sum(c.bytes_before for c in done),
            "bytes_after": sum(c.bytes_after for c in done),
            "expired_files": sum(c.expired_files for c in done),
            "expired_log_files": sum(c.expired_log_files for c in done),
            "slice_mel_sums_rows_before_fold": (maintained.slice_rows or (0, 0))[0],
            "slice_mel_sums_rows_after_fold": (maintained.slice_rows or (0, 0))[1],
            "by_table": dg.MetadataValue.md(table),
        }
    )
