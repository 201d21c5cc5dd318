"""`voxlake stats export`: the dataset mel statistics as npz (ESPnet) or JSON."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from voxlake.cli.args import Subparsers, add_command, open_lake
from voxlake.features.export import export


def cmd_stats_export(args: argparse.Namespace) -> int:
    try:
        data = export(open_lake(args), args.format, args.window)
    except LookupError as e:
        print(f"voxlake stats export: {e}", file=sys.stderr)
        return 1
    if args.output:
        Path(args.output).write_bytes(data)
        print(f"wrote {args.output}")
    elif args.format == "json":
        sys.stdout.write(data.decode())
    else:
        print("voxlake stats export: npz is binary; give --output FILE", file=sys.stderr)
        return 2
    return 0


def register(sub: Subparsers) -> None:
    st = sub.add_parser("stats", help="dataset mel statistics")
    st_sub = st.add_subparsers(dest="stats_command", required=True)
    ex = add_command(st_sub, "export", "export as npz (ESPnet count/sum/sum_square) or JSON")
    ex.add_argument(
        "--format",
        choices=["npz", "json"],
        default="json",
        help="npz: count, sum, sum_square (as ESPnet keeps them); json: mean and std",
    )
    ex.add_argument("--output", "-o", help="file to write (required for npz)")
    ex.add_argument(
        "--window",
        type=int,
        metavar="N_FRAMES",
        help="fixed-window mode: each voice's first N frames as one sample",
    )
    ex.set_defaults(fn=cmd_stats_export)
