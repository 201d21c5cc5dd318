"""What every command shares: the --lake option and opening the lake."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from voxlake.lake import catalog
from voxlake.lake.objectstore import is_remote
from voxlake.lake.store import Lake, default_root

Subparsers = Any  # argparse's private _SubParsersAction


def add_command(sub: Subparsers, name: str, help_: str) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(name, help=help_)
    p.add_argument("--lake", help="lake root (default: $VOXLAKE_HOME or ./.voxlake)")
    return p


def add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workers", type=int, default=1, help="processes per batch")
    p.add_argument(
        "--executor",
        choices=["in_process", "multiprocess"],
        default="in_process",
        help="Dagster executor of the runs (default: in_process)",
    )


def open_lake(args: argparse.Namespace) -> Lake:
    where = str(args.lake or default_root())
    if is_remote(where):
        raise SystemExit(
            f"voxlake {args.command}: {where} is on an object store: its runs go through a "
            "cluster's daemon and workers, and `voxlake sql` reads it in place; for this "
            "command, `voxlake cluster pull DEST --lake URI` first and run it on DEST"
        )
    return checked(Lake(where)).ensure()


def checked(lake: Lake) -> Lake:
    """The lake, unless its tables are in the former layout: then a one-line message."""
    from voxlake.lake.migrate import OLD_LAYOUT, is_old_layout

    if is_old_layout(lake):
        raise SystemExit(f"voxlake: {lake.root}: {OLD_LAYOUT}")
    return lake


def report_damaged(lake: Lake) -> None:
    """Name any data file of the current tables that is missing or truncated."""
    for path in catalog.damaged_files(lake):
        print(f"  DAMAGED: {path} is missing or truncated; `voxlake doctor`", file=sys.stderr)
