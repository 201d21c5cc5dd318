"""`voxlake migrate`: convert a lake of the former per-batch layout to Delta tables."""

from __future__ import annotations

import argparse

from voxlake.cli.args import Subparsers, add_command
from voxlake.lake.migrate import migrate
from voxlake.lake.store import Lake, default_root


def cmd_migrate(args: argparse.Namespace) -> int:
    lake = Lake(str(args.lake or default_root()))
    done = migrate(lake)
    print(f"migrated {done.files} file(s) of {done.tables} table(s), {done.rows} rows")
    return 0


def register(sub: Subparsers) -> None:
    p = add_command(
        sub,
        "migrate",
        "convert a lake of the former layout (a Parquet file per batch) to Delta tables, "
        "in place; killed and run again, it finishes",
    )
    p.set_defaults(fn=cmd_migrate)
