"""`voxlake forget`: erase voices everywhere; the statistics retract them exactly."""

from __future__ import annotations

import argparse
import sys

from voxlake.cli.args import Subparsers, add_command, open_lake, report_damaged
from voxlake.ingest.forget import forget
from voxlake.lake import voice_ids


def cmd_forget(args: argparse.Namespace) -> int:
    lake = open_lake(args)
    resolved, errors = voice_ids.resolve_all(lake, args.voice_ids)
    if errors:  # erasure cannot be undone: erase nothing unless every id names one voice
        report_damaged(lake)
        for line in errors:
            print(f"voxlake forget: {line}", file=sys.stderr)
        print("voxlake forget: nothing erased; the lake is unchanged", file=sys.stderr)
        return 1
    report = forget(lake, sorted(set(resolved.values())), args.reason or "")
    report_damaged(lake)
    for voice_id, batch in sorted(report.forgotten.items()):
        print(f"forgot {voice_id} (batch {batch})")
    for voice_id in report.unknown:
        print(f"voxlake forget: no voice {voice_id}", file=sys.stderr)
    if not report.forgotten:
        print("voxlake forget: nothing erased; the lake is unchanged", file=sys.stderr)
        return 1
    print(
        f"{len(report.forgotten)} voice(s) erased: {report.files_removed} files and "
        f"{report.rows_removed} rows removed; dataset stats and index updated"
    )
    return 0 if not report.unknown else 1


def register(sub: Subparsers) -> None:
    p = add_command(sub, "forget", "erase voices everywhere and retract them from the statistics")
    p.add_argument(
        "voice_ids", nargs="+", metavar="VOICE_ID", help="ids, or unique prefixes of 8+ characters"
    )
    p.add_argument("--reason", help="recorded in the erasures table")
    p.set_defaults(fn=cmd_forget)
