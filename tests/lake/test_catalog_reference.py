"""The SQL reference is generated from the code: every table and view, described, with an
example that plans; a view without a description is named, not skipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from voxlake import descriptions
from voxlake.lake import catalog, catalog_reference
from voxlake.lake.catalog_reference import UndescribedRelation, describe, view_comment
from voxlake.lake.schemas import TABLES


def test_every_table_and_view_is_described_with_its_columns() -> None:
    relations = {r.name: r for r in describe()}
    views = {f.name.removesuffix(".sql") for f in catalog.view_files()}
    assert set(relations) == set(TABLES) | views
    for name, schema in TABLES.items():
        assert [c.name for c in relations[name].columns] == schema.names
    overview = relations["voice_overview"]
    assert overview.kind == "view" and overview.description.startswith("One row per voice")
    assert dict((c.name, c.type) for c in overview.columns)["duration_s"] == "DOUBLE"


def test_a_view_comment_splits_into_description_and_example() -> None:
    sql = "-- One row per x,\n-- and more.\n-- Example: select 1\ncreate view x as select 1\n"
    assert view_comment(sql) == ("One row per x, and more.", "select 1")


def _views(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sql: str) -> None:
    (tmp_path / "zz_bad.sql").write_text(sql)
    shipped = catalog.view_files()
    monkeypatch.setattr(catalog, "view_files", lambda: [*shipped, tmp_path / "zz_bad.sql"])


def test_a_view_without_a_description_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _views(tmp_path, monkeypatch, "create or replace view zz_bad as select 1 as one;\n")
    with pytest.raises(UndescribedRelation, match=r"view zz_bad \(sql/views/zz_bad.sql\)"):
        describe()


def test_an_example_naming_a_missing_column_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _views(
        tmp_path,
        monkeypatch,
        "-- Ones.\n-- Example: select two from zz_bad\n"
        "create or replace view zz_bad as select 1 as one;",
    )
    with pytest.raises(UndescribedRelation, match="view zz_bad: its example fails"):
        describe()


def test_a_table_without_a_description_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(descriptions.TABLES, "erasures")
    with pytest.raises(UndescribedRelation, match="table erasures"):
        catalog_reference.describe()
