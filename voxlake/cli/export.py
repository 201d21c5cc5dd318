"""`voxlake export`: the curated, denoised voices as lhotse, HF datasets or NeMo manifests."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb

from voxlake.cli.args import Subparsers, add_command, open_lake
from voxlake.export import FORMATS, EmptySelection, export
from voxlake.lake.catalog import RefusedQuery
from voxlake.lake.snapshots import UnknownSnapshot


def cmd_export(args: argparse.Namespace) -> int:
    try:
        done = export(open_lake(args), args.format, Path(args.out), args.where, args.as_of)
    except (EmptySelection, RefusedQuery, duckdb.Error, UnknownSnapshot) as e:
        print(f"voxlake export: {str(e).splitlines()[0]}", file=sys.stderr)
        return 1
    except ImportError as e:
        print(f"voxlake export: {e.name} is not installed: pip install 'voxlake[export]'")
        return 1
    print(f"exported {done.voices} voice(s), {done.hours:.2f} h, as {args.format} to {args.out}:")
    for path in done.files:
        print(f"  {path}")
    return 0


def register(sub: Subparsers) -> None:
    p = add_command(sub, "export", "write the denoised voices as lhotse, HF or NeMo manifests")
    p.add_argument(
        "--format", choices=sorted(FORMATS), required=True, help="the manifest format to write"
    )
    p.add_argument("--out", required=True, help="folder to write (files are replaced)")
    p.add_argument("--where", help="SQL predicate over voice_overview, e.g. 'duration_s > 2'")
    p.add_argument(
        "--as-of",
        metavar="SNAPSHOT|TIMESTAMP",
        help="export an earlier snapshot: the id an export recorded, or an ISO timestamp",
    )
    p.set_defaults(fn=cmd_export)
