"""`voxlake run`: the code location's jobs for every pending batch, then the dataset."""

from __future__ import annotations

import argparse
import sys

from voxlake.audio.dnsmos import DEFAULT_MODE, MODES
from voxlake.cli.args import (
    Subparsers,
    add_command,
    add_run_options,
    open_lake,
    report_damaged,
)
from voxlake.embed import embedders, index_table
from voxlake.lake.space import LOW_BYTES, free_bytes, full_disk_message
from voxlake.lake.store import Lake
from voxlake.orchestration.runner import RunSettings, instance_for, run_pending
from voxlake.pipeline import embedder_by_fingerprint


def run_and_report(lake: Lake, settings: RunSettings, rerun: list[str] | None = None) -> int:
    try:
        summary = run_pending(lake, instance_for(lake), settings, rerun=rerun)
    except LookupError as e:
        print(f"voxlake run: {e}", file=sys.stderr)
        return 2
    report_damaged(lake)
    print(
        f"new batches: {len(summary.new_batches)}; materialised: {len(summary.succeeded)}; "
        f"failed: {len(summary.failed)}"
    )
    for b in summary.failed:
        reason = summary.reasons.get(b, "")
        print(f"  FAILED: {b}: {reason} (the run's logs: `make ui`)", file=sys.stderr)
        if b != "(dataset)":
            print(
                f"    retry: `voxlake run --batches {b}`; remove: `voxlake drop-batch {b}`",
                file=sys.stderr,
            )
    if summary.failed and free_bytes(lake.root) < LOW_BYTES:
        print(f"voxlake run: {full_disk_message(lake.root)}", file=sys.stderr)
    return 1 if summary.failed else 0


def lake_embedder(lake: Lake) -> str:
    """The embedder the lake's index was built with (so new batches match it), else GE2E."""
    fp = index_table.index_fingerprint(lake) if index_table.present(lake) else None
    try:
        return embedder_by_fingerprint(fp).name if fp else embedders.DEFAULT
    except LookupError:
        return embedders.DEFAULT


def cmd_run(args: argparse.Namespace) -> int:
    lake = open_lake(args)
    settings = RunSettings(
        str(lake.root),
        workers=args.workers,
        dnsmos=args.dnsmos,
        embedder=args.embedder or lake_embedder(lake),
        executor=args.executor,
    )
    return run_and_report(lake, settings, args.batches)


def register(sub: Subparsers) -> None:
    p = add_command(sub, "run", "materialise pending batches and what depends on them")
    add_run_options(p)
    p.add_argument(
        "--dnsmos",
        nargs="?",
        const=DEFAULT_MODE,
        default="off",
        choices=MODES,
        help=f"DNSMOS P.835 before/after per voice: exact, fast or sample "
        f"(alone: {DEFAULT_MODE}; default off)",
    )
    p.add_argument(
        "--batches", nargs="+", metavar="BATCH", help="also run these batches again (a repair)"
    )
    p.add_argument(
        "--embedder",
        choices=sorted(embedders.EMBEDDERS),
        help="speaker embedder; default: the one the lake's index holds, else ge2e "
        "(every batch of a lake must use the same one)",
    )
    p.set_defaults(fn=cmd_run)
