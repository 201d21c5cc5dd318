"""Merge orders: the dataset statistics must not depend on the order batches are merged in.

The batch partials are merged in random orders and random two-way merge trees; every
result must hash to the stored dataset statistics (exact integer sums make this hold bit
for bit).
"""

from __future__ import annotations

import numpy as np

from voxlake.features.dataset import ASSET, batch_partial, partial_sums
from voxlake.features.stats import MelStats
from voxlake.lake.hashing import hash_arrays
from voxlake.lake.lineage import now_iso
from voxlake.lake.store import Lake
from voxlake.repro.checks import BATCH_ORDER, Check, part_of, write_checks


def verify_merge_orders(lake: Lake, permutations: int = 5, seed: int = 0) -> list[Check]:
    """Merge the batch partials in random orders and merge trees; compare with the stored stats."""
    stored = lake.read_table("dataset_mel_stats")
    if stored.num_rows == 0:
        raise LookupError("no dataset mel statistics yet: materialise mel_stats first")
    want, fp = stored["stats_hash"][0].as_py(), stored["fingerprint"][0].as_py()
    partials = [partial_sums(batch_partial(lake, b)) for b in lake.table_batches("batch_mel_stats")]
    rng = np.random.default_rng(seed)
    checks: list[Check] = []
    when = now_iso()
    for run in range(1, permutations + 1):
        order = [partials[i] for i in rng.permutation(len(partials))]
        cut = int(rng.integers(0, len(order) + 1))
        left, right = MelStats(order[0].n_bins, fp), MelStats(order[0].n_bins, fp)
        for p in order[:cut]:
            left.add(p)
        for p in order[cut:]:
            right.add(p)
        final = left.merge(right).finalize()
        got = hash_arrays(final.mean, final.var)
        checks.append(
            Check(
                batch="",
                check=BATCH_ORDER,
                stage=ASSET,
                run=run,
                stored_hash=want,
                recomputed_hash=got,
                match=got == want,
                first_voice=None,
                max_abs_diff=0.0 if got == want else float("nan"),
                checked_at=when,
            )
        )
    write_checks(lake, checks, None, part_of(BATCH_ORDER))
    return checks
