"""A batch's mel-statistics partial and its marker, written as the mel stage writes them.

The partial is of one voice of 4 frames in 2 bins, with means k and 1, so a test knows the
dataset statistics it must come to.
"""

from __future__ import annotations

from voxlake.features import dataset as dataset_stats
from voxlake.features.stats import FRAC_BITS, to_decimals
from voxlake.lake.store import Lake

ONE = 1 << FRAC_BITS  # 1.0 in the exact sums' fixed point


def write_partial(lake: Lake, batch: str, k: int, digest: str = "") -> str:
    """Write `batch`'s partial (valued k) and mark it changed; returns its hash (`digest`,
    else one that names the batch only: a rerun with another k then keeps its hash)."""
    digest = digest or f"partial-{batch}"
    row = {
        "batch": batch,
        "n_voices": 1,
        "n_frames": 4,
        "sum": to_decimals((4 * k * ONE, 4 * ONE)),
        "sum_square": to_decimals((4 * k * k * ONE * ONE + ONE, 8 * ONE * ONE)),
        "partial_hash": digest,
        "fingerprint": "fp",
    }
    lake.write_table("batch_mel_stats", [row], batch)
    dataset_stats.mark_changed(lake, batch, digest)
    return digest
