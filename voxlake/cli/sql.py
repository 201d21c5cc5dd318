"""`voxlake sql`: a read-only query (or a .sql file) on the lake's DuckDB catalog."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb

from voxlake.cli.args import Subparsers, add_command, open_lake
from voxlake.cli.table import add_format_option, format_rows
from voxlake.lake import catalog
from voxlake.lake.objectstore import StoreAccessError, is_remote
from voxlake.lake.store import default_root


def cmd_sql(args: argparse.Namespace) -> int:
    sql = args.query
    if Path(sql).suffix == ".sql" and Path(sql).exists():
        sql = Path(sql).read_text()
    where = str(args.lake or default_root())
    try:
        if is_remote(where):
            cols, rows = catalog.query_store(where, sql)
        else:
            cols, rows = catalog.query(open_lake(args), sql)
    except (duckdb.Error, catalog.RefusedQuery, StoreAccessError) as e:
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
    add_format_option(p)
    p.set_defaults(fn=cmd_sql)
