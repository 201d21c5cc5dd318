"""The DuckDB catalog: views over the lake's Parquet tables, plus the views in sql/views/.

`refresh` (re)creates one view per lake table (an empty typed table where no file exists
yet) and then the derived views from sql/views/*.sql, in name order, and records the lake
root it was built for (a moved or copied lake gets its catalog rebuilt on first use).

`query` is the one way SQL reaches the catalog, and it is confined: only SELECT and
EXPLAIN statements run, on a read-only connection that can read the lake's tables and
nothing else (DuckDB's `allowed_directories` with external access off and the
configuration locked; no extension is installed or loaded on demand). Anything else is a
`RefusedQuery` with a one-line reason.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

import duckdb
import pyarrow as pa

from voxlake.lake import file_schemas
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


ROOT_TABLE = "voxlake_catalog"  # the lake root the catalog's views read
ALLOWED = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}
CONFINED = "SQL on the catalog is read-only and confined to the lake"


class RefusedQuery(ValueError):
    """A statement the catalog does not run, or a file it may not touch."""


@dataclass(frozen=True)
class Refreshed:
    with_data: list[str]  # tables whose view reads files
    damaged: list[str]  # table files left out because they cannot be read (lake-relative)


def _create_view(
    con: duckdb.DuckDBPyConnection, name: str, source: str, union_by_name: bool = True
) -> None:
    con.execute(
        f'create view "{name}" as select * from read_parquet({source}, '
        f"union_by_name = {str(union_by_name).lower()}, hive_partitioning = false)"
    )


def _create_empty(con: duckdb.DuckDBPyConnection, name: str, schema: pa.Schema) -> None:
    empty = schema.empty_table()  # noqa: F841 - read by DuckDB's replacement scan
    con.execute(f'create table "{name}" as select * from empty')


def _create_derived_views(con: duckdb.DuckDBPyConnection) -> None:
    for path in view_files():
        con.execute(path.read_text())


def tables_key() -> str:
    """The declared schemas: a catalog built for others is rebuilt (`ensure`)."""
    return hashlib.sha256(
        "\n".join(f"{n}: {file_schemas.schema_key(s)}" for n, s in TABLES.items()).encode()
    ).hexdigest()[:16]


def refresh(lake: Lake) -> Refreshed:
    """Create or replace every view. A damaged table file is left out of its view (and
    reported) instead of taking the catalog down.

    A table whose files all carry one schema gets a view over its folder's glob that reads
    by name from the first footer: new batches appear without a refresh, and neither the
    refresh nor a query opens every footer. A table whose files differ (written by versions
    whose schemas differ) gets `union_by_name`, whose cost grows with the files."""
    with lake.lock("catalog"), duckdb.connect(str(lake.catalog_path)) as con:
        _drop(con, ROOT_TABLE)
        con.execute(
            f'create table "{ROOT_TABLE}" as select ? as root, ? as tables',
            [str(lake.root), tables_key()],
        )
        with_data, damaged = [], []
        for name, schema in TABLES.items():
            _drop(con, name)
            found = file_schemas.table_files(con, name, lake.table_dir(name))
            damaged += [lake.relative(f) for f in found.damaged]
            if not found.readable:
                _create_empty(con, name, schema)
                continue
            if found.damaged or found.strays:  # name the files a glob would not skip
                source = "[" + ", ".join(map(_quote, found.readable)) + "]"
            else:
                source = _quote((lake.table_dir(name) / "**" / "*.parquet").as_posix())
            _create_view(con, name, source, union_by_name=not found.uniform)
            with_data.append(name)
        _create_derived_views(con)
        return Refreshed(with_data, damaged)


def _built_for(lake: Lake) -> str | None:
    try:
        with duckdb.connect(str(lake.catalog_path), read_only=True) as con:
            row = con.execute(f'select root, tables from "{ROOT_TABLE}"').fetchone()
    except duckdb.Error:
        return None
    return f"{row[0]}|{row[1]}" if row else None


def ensure(lake: Lake) -> None:
    """Build the catalog if it is missing, was built for another place (a moved lake) or
    for other declared schemas (another version of voxlake)."""
    if not lake.catalog_path.exists() or _built_for(lake) != f"{lake.root}|{tables_key()}":
        refresh(lake)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


NO_EXTENSION_DOWNLOADS: dict[str, str | bool | int | float | list[str]] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}


def _lock_down(con: duckdb.DuckDBPyConnection, tables_dir: str) -> None:
    """From here on the connection reads files below `tables_dir` only, for good."""
    con.execute(f"set allowed_directories = [{_quote(tables_dir)}]")
    con.execute("set enable_external_access = false")
    con.execute("set lock_configuration = true")


def _confined(lake: Lake) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(lake.catalog_path), read_only=True, config=NO_EXTENSION_DOWNLOADS)
    _lock_down(con, (lake.root / "tables").as_posix() + "/")
    return con


def _statements(sql: str) -> list[Any]:
    statements = duckdb.extract_statements(sql)
    for st in statements:
        if st.type not in ALLOWED:
            kind = st.type.name.lower()
            raise RefusedQuery(f"{CONFINED}: a {kind} statement is refused (select only)")
    return statements


def query(lake: Lake, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run read-only SQL confined to the lake; returns the last statement's columns and rows."""
    ensure(lake)
    statements = _statements(sql)
    with _confined(lake) as con:
        return _run(con, statements)


def query_store(uri: str, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The same read-only, confined SQL on a lake on an object store (s3://bucket/prefix).

    DuckDB reads the Parquet through the store's fsspec filesystem (no httpfs extension is
    downloaded); the views are built in memory for the query, and the connection may read
    nothing outside <uri>/tables/."""
    from voxlake.lake.mirror import trusted_listing_on_store
    from voxlake.lake.objectstore import check_access, fsspec_filesystem, open_store
    from voxlake.lake.store_schemas import store_schemas, uniform

    statements = _statements(sql)
    store = open_store(uri)
    check_access(store, uri)
    root = uri.rstrip("/")
    fs = fsspec_filesystem(root)
    # Only what readers may trust: a batch whose parts all match its commit (a batch being
    # rewritten, or left half-written by a killed worker, is left out until committed).
    trusted, _held = trusted_listing_on_store(store)
    trusted = [(path, etag) for path, etag in trusted if path.endswith(".parquet")]
    schemas = store_schemas(root, trusted, fs)  # footers of new objects only
    by_table: dict[str, list[str]] = {}
    for path, _ in trusted:
        by_table.setdefault(path.split("/", 2)[1], []).append(path)
    with duckdb.connect(config=NO_EXTENSION_DOWNLOADS) as con:
        con.register_filesystem(fs)
        for name, schema in TABLES.items():
            if name in by_table:
                files = by_table[name]
                source = "[" + ", ".join(_quote(f"{root}/{p}") for p in files) + "]"
                same = uniform(schemas[p] for p in files)
                _create_view(con, name, source, union_by_name=not same)
            else:
                _create_empty(con, name, schema)
        _create_derived_views(con)
        _lock_down(con, root + "/tables/")
        return _run(con, statements)


def _run(
    con: duckdb.DuckDBPyConnection, statements: list[Any]
) -> tuple[list[str], list[tuple[Any, ...]]]:
    cols: list[str] = []
    rows: list[tuple[Any, ...]] = []
    for st in statements:
        try:
            cur = con.execute(st.query)
        except duckdb.PermissionException as e:
            detail = str(e).splitlines()[0].removeprefix("Permission Error: ")
            raise RefusedQuery(f"{CONFINED}: {detail}") from None
        cols = [d[0] for d in cur.description] if cur.description else []
        rows = cur.fetchall()
    return cols, rows
