"""Mel sums per speaker and source, kept incrementally (`voxlake.features.slices`): the
slices query on them gives exactly what the same statistics computed from every voice's
sums give, through changes, folds and crashes."""

from __future__ import annotations

from pathlib import Path

import pytest
from deltalake.exceptions import CommitFailedError

from voxlake import pipeline
from voxlake.features import dataset, slices
from voxlake.ingest.drop_batch import drop_batch
from voxlake.ingest.forget import forget
from voxlake.lake import catalog
from voxlake.lake.catalog import sql_dir
from voxlake.lake.store import Lake
from voxlake.maintenance import maintain
from voxlake.testing import completed_copy

# The same statistics from every voice's own sums (the view voice_mel_bins), for reference.
FROM_EVERY_VOICE = """
with per_label as (
    select
        case when grouping(speaker) = 0 then 'speaker'
             when grouping(source) = 0 then 'source' else 'batch' end as slice,
        coalesce(speaker, source, batch, '(none)') as label, bin, count(*) as voices,
        sum(n_frames) as frames, sum(sum_q)::double as s1, sum(sum_square_q)::double as s2
    from voice_mel_bins
    group by grouping sets ((speaker, bin), (source, bin), (batch, bin))
)
select slice, label, bin, voices, frames, s1 / frames / 4294967296.0 as mean,
    sqrt(greatest(s2 / frames / 18446744073709551616.0
                  - pow(s1 / frames / 4294967296.0, 2), 0)) as std
from per_label order by slice, label, bin
"""
SLICES = (sql_dir() / "queries" / "mel_stats_slices.sql").read_text()


def _rows(lake: Lake, sql: str) -> list[tuple[object, ...]]:
    return catalog.query(lake, sql)[1]


def _agree(lake: Lake) -> list[tuple[object, ...]]:
    got = _rows(lake, SLICES)
    assert got == _rows(lake, FROM_EVERY_VOICE)
    return got


def _update(lake: Lake) -> None:
    dataset.update(lake, pipeline.mel_fingerprint(), pipeline.PipelineConfig().mel.n_mels)


def _parts(lake: Lake) -> set[str]:
    return set(lake.tables.read_with_parts(slices.TABLE)[1].column("part").to_pylist())


@pytest.fixture
def lake(processed_lake: Lake, tmp_path: Path) -> Lake:
    return completed_copy(processed_lake, tmp_path / "lake")


def test_the_slices_query_is_exactly_the_statistics_of_every_voice(lake: Lake) -> None:
    rows = _agree(lake)
    speakers = {r[1] for r in rows if r[0] == "speaker"}
    assert len(speakers) == 3
    # a fresh dataset step built the table whole: folded sums and each batch's copy
    assert all(p.endswith(("/folded", "/included")) for p in _parts(lake))


def test_changes_folds_and_a_rebuild_keep_the_same_statistics(lake: Lake) -> None:
    (batch,) = lake.table_batches("voices")
    voices = lake.read_table("voices", batch).to_pylist()
    before = _agree(lake)
    forget(lake, [voices[0]["voice_id"]])  # the batch changes: its change part is written
    after = _agree(lake)
    assert after != before
    assert [r for r in after if r[0] == "speaker" and r[2] == 0] != [
        r for r in before if r[0] == "speaker" and r[2] == 0
    ]
    # an update killed after its commit and run again finds the same part: no new commit
    rows_then = lake.tables.read(slices.TABLE)
    version_then = lake.tables.version(slices.TABLE)
    slices.update_batch(lake, batch)
    assert lake.tables.read(slices.TABLE) == rows_then
    assert lake.tables.version(slices.TABLE) == version_then
    maint = maintain(lake, retention_hours=0)
    assert maint.slice_rows is not None
    assert not any(p.endswith("/change") for p in _parts(lake))
    assert _agree(lake) == after
    slices.rebuild(lake)
    assert _agree(lake) == after


def test_a_dropped_batch_leaves_the_slices(lake: Lake) -> None:
    (batch,) = lake.table_batches("voices")
    drop_batch(lake, batch, force=True)
    _update(lake)
    assert _rows(lake, SLICES) == []
    changes = _rows(lake, "select count(*) from slice_mel_sums where not included")
    assert changes[0][0] != 0
    maintain(lake, retention_hours=0)  # the fold cancels them out
    assert _rows(lake, "select count(*) from slice_mel_sums")[0][0] == 0


def test_a_change_made_against_a_version_a_fold_replaced_is_refused(lake: Lake) -> None:
    (batch,) = lake.table_batches("voices")
    voices = lake.read_table("voices", batch).to_pylist()
    forget(lake, [voices[1]["voice_id"]])
    # the dataset step rewrote the batch's change; forget folded it. Rewrite it as if the
    # fold had not happened (as a step that read the copy before the fold commits)
    lake.write_table(slices.TABLE, slices.batch_partial(lake, batch), batch, part="change")
    stale = lake.tables.version(slices.TABLE)
    assert slices.fold(lake) is not None
    with pytest.raises(CommitFailedError):
        lake.tables.write(
            slices.TABLE, slices.batch_partial(lake, batch), batch, "change", read_version=stale
        )
    slices.update_batch(lake, batch)  # reads the copy again: right whatever came before
    _agree(lake)
