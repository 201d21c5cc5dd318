"""`voxlake verify`: runs of `verify_batch`, their report, and hash manifests."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from voxlake.cli.args import (
    Subparsers,
    add_command,
    add_run_options,
    open_lake,
    report_damaged,
)
from voxlake.cli.table import format_table
from voxlake.lake.snapshots import Snapshot, UnknownSnapshot, resolve
from voxlake.lake.store import Lake
from voxlake.lake.voice_ids import short
from voxlake.orchestration.runner import RunSettings, completed_batches, instance_for, run_verify
from voxlake.repro import manifest
from voxlake.repro.doctor import damaged_tables, served_files
from voxlake.repro.report import COLUMNS, mismatch_message, summarize
from voxlake.repro.verify import stored_checks


def verify_and_report(
    lake: Lake, settings: RunSettings, runs: int, batches: list[str] | None, cross: bool
) -> int:
    chosen = batches or completed_batches(lake)
    if not chosen:
        print("voxlake verify: no completed batch to verify; `voxlake run` first", file=sys.stderr)
        return 1
    failed = run_verify(lake, instance_for(lake), settings, chosen, runs, cross) if runs else []
    report_damaged(lake)
    lines = summarize(stored_checks(lake, chosen, cross))
    print(format_table(COLUMNS, [line.row() for line in lines]))
    bad = [line for line in lines if not line.match]
    for line in bad:
        print(mismatch_message(line), file=sys.stderr)
    if bad:
        print(
            "`voxlake doctor` names the stored file that is wrong and its repair", file=sys.stderr
        )
    # What the lake serves, hashed against lineage (its tables must be readable first).
    served = [f for f in damaged_tables(lake) if f.batch in chosen or not f.batch]
    served = served or served_files(lake, set(chosen))
    for f in served:
        print(
            f"DAMAGED: {f.path} ({f'voice {short(f.voice_id)}, ' if f.voice_id else ''}"
            f"batch {f.batch}): {f.problem}; "
            f"repair: {f.repair}",
            file=sys.stderr,
        )
    for b in failed:
        print(f"FAILED: the verify run of batch {b} (see `make ui` for its logs)", file=sys.stderr)
    ok = not bad and not failed and not served
    print(
        f"reproducibility: {'bit-identical' if ok else 'MISMATCH'} "
        f"({len(lines)} checks; {runs} rerun(s) per batch"
        f"{f'; {len(served)} stored file(s) damaged' if served else ''})"
    )
    return 0 if ok else 1


def _against(lake: Lake, path: Path, as_of: str | None) -> int:
    try:
        wanted = json.loads(path.read_text())
        snap = manifest.snapshot_to_compare(lake, wanted, as_of)
        rows, diffs = manifest.compare(lake, wanted, snap)
    except (OSError, ValueError) as e:
        print(f"voxlake verify: {path}: {e}", file=sys.stderr)
        return 2
    which = "its own snapshot" if snap.id == wanted.get("snapshot") else "snapshot"
    print(f"read: {which} {snap.id}")
    print(f"environment differences ({len(diffs)}):")
    for k, (here, there) in diffs.items():
        print(f"  {k}: {here} here, {there} there")
    cols = ["batch", "stage", "match", "first_voice", "explained_by"]
    print(format_table(cols, [tuple(r[c] or "" for c in cols) for r in rows]))
    bad = [r for r in rows if not r["match"]]
    print(f"against {path.name}: {'bit-identical' if not bad else f'{len(bad)} MISMATCH(ES)'}")
    return 1 if bad else 0


def resolve_snapshot(lake: Lake, as_of: str | None) -> Snapshot | None:
    if as_of in (None, "current"):
        return None
    return resolve(lake.tables, lake.root / "snapshots", as_of)


def cmd_verify(args: argparse.Namespace) -> int:
    lake = open_lake(args)
    if args.as_of and not (args.against or args.export_manifest):
        print("voxlake verify: --as-of goes with --against or --export-manifest", file=sys.stderr)
        return 2
    try:
        snap = None if args.against else resolve_snapshot(lake, args.as_of)
    except UnknownSnapshot as e:
        print(f"voxlake verify: {e}", file=sys.stderr)
        return 2
    if args.against:
        return _against(lake, Path(args.against), args.as_of)
    settings = RunSettings(str(lake.root), workers=args.workers, executor=args.executor)
    code = verify_and_report(lake, settings, args.runs, args.batches, args.cross)
    if args.export_manifest:
        manifest.write(lake, Path(args.export_manifest), snap)
        print(f"hash manifest written to {args.export_manifest}")
    return code


def register(sub: Subparsers) -> None:
    p = add_command(sub, "verify", "recompute batches, compare BLAKE3 stage hashes (1: mismatch)")
    p.add_argument("--runs", type=int, default=3, help="recomputations per batch")
    p.add_argument(
        "--batches", nargs="*", metavar="BATCH", help="batches to verify (default: every batch)"
    )
    add_run_options(p)
    p.add_argument(
        "--cross",
        action="store_true",
        help="also: the other worker count, regrouped voices, permuted merge orders",
    )
    p.add_argument("--export-manifest", metavar="FILE", help="write the lake's hashes + env")
    p.add_argument(
        "--against",
        metavar="FILE",
        help="compare the lake with a manifest: at the snapshot the manifest names where this "
        "lake recorded it (its reproduction), else at the current one",
    )
    p.add_argument(
        "--as-of",
        metavar="SNAPSHOT|TIMESTAMP",
        help="the snapshot that --against and --export-manifest read: a recorded id, an ISO "
        "timestamp, or 'current'",
    )
    p.set_defaults(fn=cmd_verify)
