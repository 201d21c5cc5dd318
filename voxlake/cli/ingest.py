"""`voxlake ingest`: copy files or folders into the inbox."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from voxlake.cli.args import Subparsers, add_command, open_lake
from voxlake.ingest.inbox import copy_into_inbox


def cmd_ingest(args: argparse.Namespace) -> int:
    lake = open_lake(args)
    try:
        copied = copy_into_inbox(lake, [Path(p) for p in args.paths])
    except FileNotFoundError as e:
        print(f"voxlake: {e}", file=sys.stderr)
        return 2
    print(f"copied {copied} file(s) into {lake.inbox}; `voxlake run` ingests them")
    return 0


def register(sub: Subparsers) -> None:
    p = add_command(sub, "ingest", "copy files or folders into the inbox")
    p.add_argument("paths", nargs="+")
    p.set_defaults(fn=cmd_ingest)
