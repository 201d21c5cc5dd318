"""The DuckDB catalog: one view per lake table over a snapshot of its Delta table, plus the
views in sql/views/.

The catalog is built in memory for each query, from the snapshot it reads: each table's
committed version (the current one, or the one a snapshot pins) as an Arrow dataset in
the declared schema, which DuckDB scans with its filters and projections pushed down.
Nothing is written or locked to read: a lake on read-only media answers as any other.

`query` is the one way SQL reaches the catalog, and it is confined: only SELECT and
EXPLAIN statements run, on a connection with external access off and its configuration
locked (it reads the tables' datasets and no file of its own choosing); no extension is
installed or loaded on demand. Anything else is a `RefusedQuery` with a one-line reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

import duckdb
import pyarrow as pa

from voxlake.lake.schemas import TABLES
from voxlake.lake.snapshots import Snapshot, resolve
from voxlake.lake.store import Lake
from voxlake.lake.tables import TableDamaged, Tables


def sql_dir() -> Traversable:
    """The shipped SQL (package data `voxlake.sql`): views/ and queries/."""
    return resources.files("voxlake.sql")


def view_files() -> list[Traversable]:
    return sorted(
        (f for f in (sql_dir() / "views").iterdir() if f.name.endswith(".sql")),
        key=lambda f: f.name,
    )


ALLOWED = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}
CONFINED = "SQL on the catalog is read-only and confined to the lake"
NO_EXTENSION_DOWNLOADS: dict[str, str | bool | int | float | list[str]] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}


class RefusedQuery(ValueError):
    """A statement the catalog does not run, or a file it may not touch."""


def create_empty(con: duckdb.DuckDBPyConnection, name: str, schema: pa.Schema) -> None:
    """A typed, empty table where a lake table has no rows yet."""
    empty = schema.empty_table()  # noqa: F841 - read by DuckDB's replacement scan
    con.execute(f'create table "{name}" as select * from empty')


def create_derived_views(con: duckdb.DuckDBPyConnection) -> None:
    for path in view_files():
        con.execute(path.read_text())


def connect(tables: Tables, snapshot: Snapshot) -> duckdb.DuckDBPyConnection:
    """An in-memory, confined connection whose views read `snapshot` of `tables`."""
    con = duckdb.connect(config=NO_EXTENSION_DOWNLOADS)
    for name, schema in TABLES.items():
        version = snapshot.versions.get(name)
        dataset = None if version is None else tables.dataset(name, version)
        if dataset is None:
            create_empty(con, name, schema)
        else:
            con.register(f"_{name}", dataset)
            con.execute(f'create view "{name}" as select * from "_{name}"')
    create_derived_views(con)
    con.execute("set enable_external_access = false")
    con.execute("set lock_configuration = true")
    return con


def _statements(sql: str) -> list[Any]:
    statements = duckdb.extract_statements(sql)
    for st in statements:
        if st.type not in ALLOWED:
            kind = st.type.name.lower()
            raise RefusedQuery(f"{CONFINED}: a {kind} statement is refused (select only)")
    return statements


def query(
    lake: Lake, sql: str, as_of: str | None = None
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run read-only SQL confined to the lake, on its current snapshot or `as_of` one (a
    snapshot id or a timestamp); returns the last statement's columns and rows."""
    return query_snapshot(lake, sql, resolve(lake.tables, lake.root / "snapshots", as_of))


def query_snapshot(
    lake: Lake, sql: str, snapshot: Snapshot
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """`query` on one snapshot: several queries that must agree read the same one."""
    statements = _statements(sql)
    with connect(lake.tables, snapshot) as con:
        return _run(con, statements, lake.tables)


@contextmanager
def snapshot_session(
    lake: Lake, snapshot: Snapshot
) -> Iterator[Callable[[str], tuple[list[str], list[tuple[Any, ...]]]]]:
    """`query_snapshot` for several queries on one connection (it costs a tenth of a
    second to open): yields the function that runs one."""
    with connect(lake.tables, snapshot) as con:
        yield lambda sql: _run(con, _statements(sql), lake.tables)


def query_store(
    uri: str, sql: str, as_of: str | None = None
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The same read-only, confined SQL on a lake on an object store (s3://bucket/prefix):
    the Delta tables are read in place, through delta-rs' own object-store client."""
    from voxlake.lake.objectstore import check_access, open_store, store_tables

    statements = _statements(sql)
    check_access(open_store(uri), uri)
    tables = store_tables(uri)
    snapshot = resolve(tables, None, as_of, store_uri=uri)
    with connect(tables, snapshot) as con:
        return _run(con, statements, tables)


def damaged_files(lake: Lake) -> list[str]:
    """The data files of the current snapshot that are missing or unreadable (deleted or
    truncated by hand), lake-relative."""
    return sorted(f"tables/{d.path}" for name in TABLES for d in lake.tables.damaged(name))


def _damaged_file(e: BaseException) -> bool:
    text = str(e).lower()
    return any(s in text for s in ("no such file", "parquet", "magic bytes", "not found"))


def _damage(tables: Tables, e: BaseException) -> str:
    """One line naming the damaged files' tables and batches (found only on an error)."""
    found = [d for name in TABLES for d in tables.damaged(name)]
    if not found:
        return f"a table's data file is missing or unreadable ({str(e).splitlines()[0]})"
    named = ", ".join(
        f"table {d.table} ({'batch ' + d.batch if d.batch else 'several batches'}): "
        f"{d.problem.split(':')[0]}"
        for d in found[:3]
    )
    return f"{named}; `voxlake doctor` lists what is damaged and how to repair it"


def _run(
    con: duckdb.DuckDBPyConnection, statements: list[Any], tables: Tables
) -> tuple[list[str], list[tuple[Any, ...]]]:
    cols: list[str] = []
    rows: list[tuple[Any, ...]] = []
    for st in statements:
        try:
            cur = con.execute(st.query)
        except duckdb.PermissionException as e:
            detail = str(e).splitlines()[0].removeprefix("Permission Error: ")
            raise RefusedQuery(f"{CONFINED}: {detail}") from None
        except (OSError, pa.ArrowException, duckdb.Error) as e:
            if not _damaged_file(e):
                raise
            raise TableDamaged(_damage(tables, e)) from None
        cols = [d[0] for d in cur.description] if cur.description else []
        rows = cur.fetchall()
    return cols, rows
