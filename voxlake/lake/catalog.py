"""The DuckDB catalog: views over the lake's Parquet tables, plus the views in sql/views/.

`refresh` (re)creates one view per lake table (an empty typed table where no file exists
yet) and then the derived views from sql/views/*.sql, in name order. `query` opens the
catalog read-only.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

import duckdb

from voxlake.lake.schemas import TABLES
from voxlake.lake.store import Lake


def _drop(con: duckdb.DuckDBPyConnection, name: str) -> None:
    kinds = con.execute(
        "select table_type from information_schema.tables where table_name = ?", [name]
    ).fetchall()
    for (kind,) in kinds:
        con.execute(f'drop {"view" if kind == "VIEW" else "table"} if exists "{name}" cascade')


def sql_dir() -> Traversable:
    """The shipped SQL (package data `voxlake.sql`): views/ and queries/."""
    return resources.files("voxlake.sql")


def view_files() -> list[Traversable]:
    return sorted(
        (f for f in (sql_dir() / "views").iterdir() if f.name.endswith(".sql")),
        key=lambda f: f.name,
    )


def refresh(lake: Lake) -> list[str]:
    """Create or replace every view; returns the names of the tables that hold data."""
    with lake.lock("catalog"), duckdb.connect(str(lake.catalog_path)) as con:
        with_data = []
        for name, schema in TABLES.items():
            _drop(con, name)
            if lake.table_files(name):
                glob = (lake.table_dir(name) / "**" / "*.parquet").as_posix()
                con.execute(
                    f'create view "{name}" as select * from '
                    f"read_parquet('{glob}', union_by_name = true, hive_partitioning = false)"
                )
                with_data.append(name)
            else:
                empty = schema.empty_table()  # noqa: F841 - read by DuckDB's replacement scan
                con.execute(f'create table "{name}" as select * from empty')
        for path in view_files():
            con.execute(path.read_text())
        return with_data


def ensure(lake: Lake) -> None:
    if not lake.catalog_path.exists():
        refresh(lake)


def query(lake: Lake, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run SQL on a read-only connection; returns (column names, rows)."""
    ensure(lake)
    with duckdb.connect(str(lake.catalog_path), read_only=True) as con:
        cur = con.execute(sql)
        cols = [d[0] for d in cur.description] if cur.description else []
        return cols, cur.fetchall()
