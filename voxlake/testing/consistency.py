"""The consistency check every fault test ends with.

- Every file that entered a batch is accounted for once: in `voices`, in `rejected` (raw
  stage) or in `duplicates`.
- No voice is in the lake twice.
- The dataset statistics and the index cover exactly the voices of the completed batches.
- `doctor` (which hashes what the lake serves against lineage) finds nothing.
"""

from __future__ import annotations

from voxlake.embed import index_table
from voxlake.features import dataset as dataset_stats
from voxlake.ingest.inbox import list_batches, read_manifest
from voxlake.ingest.raw import ASSET as RAW
from voxlake.lake.lineage import stored_stage_hash
from voxlake.lake.store import Lake
from voxlake.pipeline import batch_complete
from voxlake.repro.doctor import doctor


def inconsistencies(lake: Lake) -> list[str]:
    """What is wrong with the lake, one line each; empty when it is consistent."""
    problems: list[str] = []
    voices = lake.read_table("voices").to_pylist()
    ids = [v["voice_id"] for v in voices]
    if len(ids) != len(set(ids)):
        problems.append(f"{len(ids) - len(set(ids))} voice(s) are in the lake twice")
    rejected = [r for r in lake.read_table("rejected").to_pylist() if r["stage"] == RAW]
    duplicates = lake.read_table("duplicates").to_pylist()
    for batch in list_batches(lake):
        entered = {f.path for f in read_manifest(lake, batch).files}
        outcomes = [
            r["source_path"] for r in (*voices, *rejected, *duplicates) if r["batch"] == batch
        ]
        if sorted(outcomes) != sorted(entered) and stored_stage_hash(lake, batch, RAW):
            lost = sorted(entered - set(outcomes))[:3]
            problems.append(
                f"batch {batch}: {len(entered)} files in, {len(outcomes)} outcomes; lost {lost}"
            )
    done = {b for b in list_batches(lake) if batch_complete(lake, b)}
    n_done = sum(v["batch"] in done for v in voices)
    stats = dataset_stats.load(lake)
    n_stats = stats.n_voices if stats is not None else 0
    if n_stats != n_done:
        problems.append(f"dataset stats count {n_stats} voices, completed batches hold {n_done}")
    n_index = index_table.count(lake) if index_table.present(lake) else 0
    if n_index != n_done:
        problems.append(f"the index holds {n_index} voices, completed batches hold {n_done}")
    problems += [f"doctor: {f.what} {f.batch} {f.path}: {f.problem}" for f in doctor(lake)]
    return problems
