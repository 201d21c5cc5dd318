"""The dataset statistics step on a store lake pulls O(changed batches): the markers, the
sums and the included copies of the marked batches, never the other batches' copies,
and it still gives the sums of a full rebuild when machines take turns (a copy held
from an earlier step is checked against the store, not trusted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from voxlake.features import dataset as dataset_stats
from voxlake.lake.objectstore import StoreConfig, delta_options, open_store
from voxlake.lake.objectstore.mirror import WorkingCopy
from voxlake.lake.objectstore.remote import StoreLake
from voxlake.lake.tables import Tables
from voxlake.testing.partials import write_partial
from voxlake.testing.s3 import S3Server

pytestmark = pytest.mark.slow


def _write_partial(uri: str, endpoint: str, folder: Path, batch: str, k: int) -> None:
    """A batch's mel-statistics partial (a run, or a rerun with other audio) and its
    marker, pushed to the store as a batch step does."""
    cfg = StoreConfig(uri, endpoint=endpoint)
    wc = WorkingCopy(open_store(cfg), folder, Tables(f"{uri}/tables", delta_options(cfg)))
    write_partial(wc.lake(), batch, k, digest=f"partial-{batch}-{k}")
    wc.push()


def _step(
    uri: str, endpoint: str, cache: Path, rebuild: bool = False
) -> tuple[list[dict[str, object]], set[str]]:
    """A dataset statistics step on `cache` (one machine): the stats, and the included
    copies this machine's working copy holds afterwards."""
    store = StoreLake.of(StoreConfig(uri, endpoint=endpoint), cache)
    with store.dataset_session(("stats",)) as lake:
        dataset_stats.update(lake, "fp", 2, rebuild=rebuild)
        rows = lake.read_table("dataset_mel_stats").to_pylist()
        held = {p.stem for p in (lake.stats_dir / "included").glob("*.parquet")}
    return rows, held


def test_a_dataset_step_fetches_only_the_changed_batches_copies(
    s3: S3Server, tmp_path: Path
) -> None:
    uri, ep = s3.uri("dataset-pulls"), s3.endpoint
    for i in range(4):
        _write_partial(uri, ep, tmp_path / "writer", f"b{i}", i + 1)
    first, held = _step(uri, ep, tmp_path / "machine-a")  # the first update: every batch
    assert held == {"b0", "b1", "b2", "b3"} and first[0]["n_voices"] == 4

    _write_partial(uri, ep, tmp_path / "writer", "b4", 7)  # a new batch
    _, held = _step(uri, ep, tmp_path / "machine-b")
    assert held == {"b4"}  # b0..b3's copies were neither listed nor fetched

    _write_partial(uri, ep, tmp_path / "writer", "b1", 9)  # b1 runs again, other audio
    _, held = _step(uri, ep, tmp_path / "machine-b")
    assert held == {"b1", "b4"}
    _write_partial(uri, ep, tmp_path / "writer", "b1", 11)  # and again: machine a's turn,
    incremental, _ = _step(uri, ep, tmp_path / "machine-a")  # whose b1 copy is stale
    rebuilt, _ = _step(uri, ep, tmp_path / "machine-c", rebuild=True)
    assert incremental == rebuilt and rebuilt[0]["n_voices"] == 5
