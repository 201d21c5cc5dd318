"""`voxlake ingest`: reference files or folders for the next run (or copy them into the inbox)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from voxlake.cli.args import Subparsers, add_command, open_lake
from voxlake.ingest.inbox import copy_into_inbox
from voxlake.ingest.references import reference_files


def cmd_ingest(args: argparse.Namespace) -> int:
    lake = open_lake(args)
    paths = [Path(p) for p in args.paths]
    try:
        if args.copy:
            copied = copy_into_inbox(lake, paths)
            print(f"copied {copied} file(s) into {lake.inbox}; `voxlake run` ingests them")
            return 0
        done = reference_files(lake, paths)
    except FileNotFoundError as e:
        print(f"voxlake: {e}", file=sys.stderr)
        return 2
    print(
        f"referenced {done.new} file(s) where they are ({done.known} already referenced); "
        "`voxlake run` copies each accepted voice into the lake once. Leave them in place "
        "until then: a file that changes or vanishes first is rejected (changed / missing)."
    )
    return 0


def register(sub: Subparsers) -> None:
    p = add_command(sub, "ingest", "reference files or folders for the next run (no copy)")
    p.add_argument(
        "paths", nargs="+", metavar="PATH", help="audio files or folders (searched recursively)"
    )
    p.add_argument(
        "--copy",
        action="store_true",
        help="copy into the inbox instead (for sources that will not stay, e.g. a removable "
        "drive); by default files are ingested by reference",
    )
    p.set_defaults(fn=cmd_ingest)
