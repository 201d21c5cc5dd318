"""`voxlake compact`: merge the tables' small files and expire old snapshots."""

from __future__ import annotations

import argparse

from voxlake.cli.args import Subparsers, add_command, open_lake
from voxlake.cli.table import format_rows
from voxlake.lake.compaction import DEFAULT_RETENTION_HOURS
from voxlake.maintenance import maintain


def cmd_compact(args: argparse.Namespace) -> int:
    lake = open_lake(args)
    done = maintain(lake, args.retention_hours).compacted
    cols = [
        "table",
        "files_before",
        "files_after",
        "mb_before",
        "mb_after",
        "expired_files",
        "expired_log_files",
    ]
    rows = [
        (
            c.table,
            c.files_before,
            c.files_after,
            round(c.bytes_before / 2**20, 2),
            round(c.bytes_after / 2**20, 2),
            c.expired_files,
            c.expired_log_files,
        )
        for c in done
    ]
    print(format_rows(cols, rows, "table"))
    return 0


def register(sub: Subparsers) -> None:
    p = add_command(
        sub,
        "compact",
        "merge the tables' small files and expire snapshots older than the retention "
        "(a snapshot an export or hash manifest recorded is kept)",
    )
    p.add_argument(
        "--retention-hours",
        type=float,
        default=DEFAULT_RETENTION_HOURS,
        help="how long an earlier snapshot stays readable by timestamp",
    )
    p.set_defaults(fn=cmd_compact)
