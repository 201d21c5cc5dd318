"""The catalog's SQL reads the lake and nothing else, and follows the lake when it moves."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from voxlake.lake import catalog, file_schemas
from voxlake.lake.schemas import TABLES
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


def _columns(lake: Lake, table: str) -> list[str]:
    return catalog.query(lake, f"select * from {table} limit 0")[0]


def test_files_of_an_earlier_schema_are_read_by_name_with_their_missing_columns_null(
    lake: Lake,
) -> None:
    """A lake holding files written by a version with fewer columns: read by name with
    union_by_name (a view built from such a file's footer alone would drop columns)."""
    (batch,) = lake.table_batches("voices")
    current = pq.read_table(lake.table_file("voices", batch))
    older = current.drop_columns([current.column_names[-1]])
    first = lake.table_dir("voices") / "batch=000000-older" / "part.parquet"  # sorts first
    first.parent.mkdir()
    pq.write_table(older, first)
    catalog.refresh(lake)
    assert _columns(lake, "voices") == TABLES["voices"].names
    missing = current.column_names[-1]
    assert catalog.query(lake, f'select count(*), count("{missing}") from voices')[1] == [
        (2 * current.num_rows, current.num_rows)
    ]


def test_a_refresh_reads_the_footers_of_new_or_replaced_files_only(
    lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    read: list[str] = []
    real = file_schemas.pq.read_schema

    def counting(path: str) -> pa.Schema:
        read.append(path)
        return real(path)

    monkeypatch.setattr(file_schemas.pq, "read_schema", counting)
    catalog.refresh(lake)
    assert read == []  # the fixture's refresh left every file in the cache
    (batch,) = lake.table_batches("voices")
    lake.write_table("voices", lake.read_table("voices", batch), batch)  # replaced
    catalog.refresh(lake)
    assert read == [lake.table_file("voices", batch).as_posix()]
    assert catalog.query(lake, "select count(*) from voices")[1] == [(6,)]


def test_a_catalog_built_for_other_declared_schemas_is_rebuilt(
    lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog, "tables_key", lambda: "another-version")
    catalog.ensure(lake)
    with duckdb.connect(str(lake.catalog_path), read_only=True) as con:
        assert con.execute(f"select tables from {catalog.ROOT_TABLE}").fetchall() == [
            ("another-version",)
        ]


def test_a_query_while_a_table_file_is_being_written_reads_the_files_in_place(
    lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer's temp file sits beside the table's files until it replaces one: the
    views' globs must not read it (a stage writing while someone runs `voxlake sql`)."""
    (batch,) = lake.table_batches("voices")
    rows = lake.read_table("voices", batch)
    real = pq.write_table
    seen: list[object] = []

    def half_written(table: pa.Table, where: str, **kwargs: object) -> None:
        Path(where).write_bytes(b"PAR1 half a file")
        seen.append(catalog.query(lake, "select count(*) from voices")[1])
        real(table, where, **kwargs)

    monkeypatch.setattr(pq, "write_table", half_written)
    lake.write_table("voices", rows, batch)
    assert seen == [[(6,)]]


def test_a_temp_file_an_earlier_writer_left_is_not_read(lake: Lake) -> None:
    (batch,) = lake.table_batches("voices")
    stray = lake.table_dir("voices") / f"batch={batch}" / ".tmp-left.parquet"
    stray.write_bytes(b"PAR1 half a file")
    assert catalog.refresh(lake).damaged == []
    assert catalog.query(lake, "select count(*) from voices")[1] == [(6,)]
