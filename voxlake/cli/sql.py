"""`voxlake sql`: a read-only query (or a .sql file) on the lake's DuckDB catalog."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb

from voxlake.cli.args import Subparsers, add_command, checked
from voxlake.cli.table import add_format_option, format_rows
from voxlake.lake import catalog
from voxlake.lake.objectstore import StoreAccessError, is_remote
from voxlake.lake.snapshots import UnknownSnapshot
from voxlake.lake.store import Lake, default_root
from voxlake.lake.tables import TableDamaged


def cmd_sql(args: argparse.Namespace) -> int:
    sql = args.query
    if Path(sql).suffix == ".sql" and Path(sql).exists():
        sql = Path(sql).read_text()
    where = str(args.lake or default_root())
    try:
        if is_remote(where):
            cols, rows = catalog.query_store(where, sql, args.as_of)
        else:
            cols, rows = catalog.query(
                checked(Lake(where)), sql, args.as_of
            )  # reads only: no folder made
    except (
        duckdb.Error,
        catalog.RefusedQuery,
        StoreAccessError,
        TableDamaged,
        UnknownSnapshot,
    ) as e:
        print(f"voxlake sql: {str(e).splitlines()[0]}", file=sys.stderr)
        return 1
    print(format_rows(cols, rows, args.format))
    return 0


def register(sub: Subparsers) -> None:
    p = add_command(
        sub,
        "sql",
        "run a read-only SQL query (or a .sql file) on the catalog; --lake may be s3://B/P",
    )
    p.add_argument("query", help="a SELECT or EXPLAIN statement, or the path of a .sql file")
    p.add_argument(
        "--as-of",
        metavar="SNAPSHOT|TIMESTAMP",
        help="read an earlier snapshot: an id an export or hash manifest recorded (s + 16 "
        "hex digits), or an ISO timestamp such as 2026-12-06T10:00:00 (UTC unless given)",
    )
    add_format_option(p)
    p.set_defaults(fn=cmd_sql)
