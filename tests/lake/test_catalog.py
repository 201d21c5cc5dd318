"""The catalog's SQL reads the lake's committed snapshot and nothing else, writes nothing,
follows the lake when it moves, and reads earlier snapshots."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from voxlake.lake import catalog, snapshots
from voxlake.lake.store import Lake
from voxlake.lake.tables import TableDamaged

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def lake(processed_lake: Lake, tmp_path: Path) -> Lake:
    copy = Lake(tmp_path / "lake")
    shutil.copytree(processed_lake.root, copy.root)
    return copy


def _refused(lake: Lake, sql: str) -> str:
    with pytest.raises(catalog.RefusedQuery) as e:
        catalog.query(lake, sql)
    message = str(e.value)
    assert message.startswith(catalog.CONFINED) and "\n" not in message
    return message


def test_nothing_is_written_read_installed_or_attached_outside_the_lake(
    lake: Lake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert "copy" in _refused(lake, "copy (select 42) to 'out.csv'")
    assert not (tmp_path / "out.csv").exists()
    assert "/etc/hostname" in _refused(lake, "select * from read_csv('/etc/hostname')")
    _refused(lake, "select * from read_text('/etc/passwd')")
    _refused(lake, f"select * from read_text('{lake.root}/tables/../../../../etc/passwd')")
    _refused(lake, "select * from glob('/etc/*')")
    _refused(lake, "install httpfs")
    _refused(lake, "load httpfs")
    _refused(lake, f"attach '{tmp_path / 'other.duckdb'}'")
    _refused(lake, "set enable_external_access = true")
    _refused(lake, "create table x as select 1")
    _refused(lake, "select 1; drop view voices")


def test_nothing_is_written_into_the_lake(lake: Lake) -> None:
    before = sorted(p.relative_to(lake.root) for p in lake.root.rglob("*"))
    target = lake.table_dir("voices") / "x.parquet"
    _refused(lake, f"copy (select * from voices) to '{target}'")
    assert catalog.query(lake, "select count(*) from voices")[1] == [(6,)]
    assert sorted(p.relative_to(lake.root) for p in lake.root.rglob("*")) == before


def test_a_read_only_lake_answers(lake: Lake) -> None:
    """Nothing a query does takes a lock, writes a cache or creates a file: a lake whose
    every folder is read-only answers as any other."""
    folders = [p for p in [lake.root, *lake.root.rglob("*")] if p.is_dir()]
    for d in folders:
        d.chmod(0o555)
    try:
        assert catalog.query(lake, "select count(*) from voices")[1] == [(6,)]
        assert catalog.query(lake, "select count(*) from batch_summary")[1] == [(1,)]
    finally:
        for d in folders:
            d.chmod(0o755)


def test_the_views_and_the_shipped_queries_still_work(lake: Lake) -> None:
    assert catalog.query(lake, "select count(*) from voices")[1] == [(6,)]
    assert catalog.query(lake, "explain select * from voice_overview")[1]
    for view in ("batch_summary", "voice_overview", "stage_hashes", "near_duplicates"):
        catalog.query(lake, f"select * from {view}")
    queries = sorted((ROOT / "sql" / "queries").glob("*.sql"))
    assert queries
    for path in queries:
        cols, _ = catalog.query(lake, path.read_text())
        assert cols, path.name


def test_a_moved_or_copied_lake_reads_itself(lake: Lake, tmp_path: Path) -> None:
    copied = Lake(tmp_path / "copied")
    shutil.copytree(lake.root, copied.root)
    (batch,) = lake.table_batches("voices")
    lake.drop_batch("voices", batch)  # the original changes
    assert catalog.query(copied, "select count(*) from voices")[1] == [(6,)]
    moved = Lake(tmp_path / "moved")
    shutil.move(copied.root, moved.root)
    assert catalog.query(moved, "select count(*) from voices")[1] == [(6,)]


def test_an_earlier_snapshot_reads_as_it_was(lake: Lake) -> None:
    """A recorded snapshot id, and a timestamp, both read the tables as they stood."""
    before = snapshots.current(lake.tables)
    snapshots.record(lake.root / "snapshots", before)
    (batch,) = lake.table_batches("voices")
    rows = lake.read_table("voices", batch)
    lake.write_table("voices", rows.slice(0, 2), batch)  # a rerun keeps two voices
    assert catalog.query(lake, "select count(*) from voices")[1] == [(2,)]
    assert catalog.query(lake, "select count(*) from voices", as_of=before.id)[1] == [(6,)]
    with pytest.raises(snapshots.UnknownSnapshot):
        catalog.query(lake, "select 1", as_of="s" + "0" * 16)
    with pytest.raises(snapshots.UnknownSnapshot, match="neither"):
        catalog.query(lake, "select 1", as_of="last tuesday")


def test_a_stock_reader_sees_what_voxlake_sql_returns(lake: Lake) -> None:
    """Polars or DuckDB without voxlake: the Delta table, read by its own library."""
    from deltalake import DeltaTable

    got = DeltaTable(str(lake.table_dir("voices"))).to_pyarrow_table()
    ours = catalog.query(lake, "select voice_id from voices order by voice_id")[1]
    assert sorted(got.column("voice_id").to_pylist()) == [r[0] for r in ours]


def test_a_data_file_deleted_by_hand_is_named(lake: Lake) -> None:
    (first,) = lake.tables.files("voices")[:1]
    Path(first).unlink()
    assert catalog.damaged_files(lake) == [lake.relative(Path(first))]
    with pytest.raises(TableDamaged, match=r"table voices \(batch \w+-\w+\): missing"):
        catalog.query(lake, "select count(*) from voices")


def test_a_rerun_replaces_a_batch_in_one_commit_and_adds_nothing(lake: Lake) -> None:
    (batch,) = lake.table_batches("voices")
    version = lake.tables.version("voices")
    lake.write_table("voices", lake.read_table("voices", batch), batch)
    assert lake.tables.version("voices") == (version or 0) + 1
    assert catalog.query(lake, "select count(*) from voices")[1] == [(6,)]
    assert pq  # the data files are plain Parquet (read by any engine)
