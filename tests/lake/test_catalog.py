"""The catalog's SQL reads the lake and nothing else, and follows the lake when it moves."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from voxlake.lake import catalog
from voxlake.lake.store import Lake

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def lake(processed_lake: Lake, tmp_path: Path) -> Lake:
    copy = Lake(tmp_path / "lake")
    shutil.copytree(processed_lake.root, copy.root)
    catalog.refresh(copy)
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
    (batch,) = lake.table_batches("voices")
    part = lake.table_dir("voices") / f"batch={batch}" / "x.parquet"
    _refused(lake, f"copy (select * from voices) to '{part}'")
    _refused(lake, f"copy (select 1) to '{lake.catalog_path}'")
    assert not part.exists()
    catalog.refresh(lake)
    assert catalog.query(lake, "select count(*) from voices")[1] == [(6,)]


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
    shutil.rmtree(lake.table_dir("voices") / f"batch={batch}")  # the original changes
    assert catalog.query(copied, "select count(*) from voices")[1] == [(6,)]
    moved = Lake(tmp_path / "moved")
    shutil.move(copied.root, moved.root)
    assert catalog.query(moved, "select count(*) from voices")[1] == [(6,)]
