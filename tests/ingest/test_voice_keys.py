"""The duplicate check's keyed index: the same answers as a scan of every voices file,
caught up when a batch is added, rewritten or dropped."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import duckdb

from voxlake.ingest import voice_keys
from voxlake.lake.store import Lake


def _voices(lake: Lake, batch: str, ids: list[str]) -> None:
    lake.write_table(
        "voices",
        [{"voice_id": v, "batch": batch, "source_path": v, "file_name": v} for v in ids],
        batch,
    )


def _scan(lake: Lake, batch: str, ids: list[str]) -> dict[str, str]:
    """The oracle: DuckDB over every other batch's rows of the voices table."""
    voices = lake.read_table("voices")  # noqa: F841 - read by DuckDB's replacement scan
    rows = duckdb.execute(
        "select voice_id, min(batch) from voices where list_contains(?, voice_id) "
        "and batch <> ? group by voice_id",
        [ids, batch],
    ).fetchall()
    return dict(rows)


def test_lookup_follows_the_tables(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake").ensure()
    _voices(lake, "b1", ["a" * 64, "b" * 64])
    _voices(lake, "b2", ["c" * 64, "a" * 64])
    probe = ["a" * 64, "c" * 64, "d" * 64]
    assert voice_keys.voices_elsewhere(lake, "b3", probe) == {"a" * 64: "b1", "c" * 64: "b2"}
    assert voice_keys.voices_elsewhere(lake, "b3", probe) == _scan(lake, "b3", probe)
    assert voice_keys.voices_elsewhere(lake, "b1", probe) == {"a" * 64: "b2", "c" * 64: "b2"}
    # b1 rewritten (a voice forgotten): the index refolds it
    _voices(lake, "b1", ["b" * 64])
    assert voice_keys.voices_elsewhere(lake, "b2", probe) == {}
    # b2 dropped: its voices leave the index
    lake.drop_batch("voices", "b2")
    assert voice_keys.voices_elsewhere(lake, "b3", probe) == _scan(lake, "b3", probe) == {}
    # a deleted index is rebuilt from the tables
    (lake.batches_dir / voice_keys.INDEX).unlink()
    _voices(lake, "b4", ["d" * 64])
    assert voice_keys.voices_elsewhere(lake, "b3", probe) == {"d" * 64: "b4"}


def test_unchanged_batches_are_not_read_again(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake").ensure()
    for b in range(5):
        _voices(lake, f"b{b}", [f"{b:064x}"])
    voice_keys.voices_elsewhere(lake, "new", ["0" * 64])
    with sqlite3.connect(lake.batches_dir / voice_keys.INDEX) as con:
        assert voice_keys.catch_up(con, lake) == 0  # nothing changed: nothing read
        _voices(lake, "b5", ["e" * 64])
        assert voice_keys.catch_up(con, lake) == 1
