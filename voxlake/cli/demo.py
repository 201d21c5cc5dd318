"""`voxlake demo`: generate a corpus, run the whole pipeline, print what it made."""

from __future__ import annotations

import argparse
import time

from voxlake.cli.args import Subparsers, add_command, open_lake
from voxlake.cli.run import run_and_report
from voxlake.cli.verify import verify_and_report
from voxlake.demo import corpus, summary_lines
from voxlake.demo.scoring import clean_dir
from voxlake.orchestration.runner import RunSettings


def cmd_demo(args: argparse.Namespace) -> int:
    lake = open_lake(args)
    t0 = time.perf_counter()
    speakers = max(6, args.voices // 4)
    print(f"lake: {lake.root}")
    print(
        f"generating {args.voices} voices from {speakers} synthetic speakers (seed {args.seed}) ..."
    )
    corpus.generate(
        lake.inbox,
        clean_dir(lake),
        args.voices,
        n_speakers=min(speakers, max(args.voices, 1)),
        seed=args.seed,
    )
    settings = RunSettings(str(lake.root), workers=args.workers, dnsmos=not args.no_dnsmos)
    if run_and_report(lake, settings) != 0:
        return 1
    print("\n== summary ==")
    print("\n".join(summary_lines(lake)))
    print()
    code = verify_and_report(lake, settings, runs=1, batches=None, cross=False)
    print(
        f"\ndone in {time.perf_counter() - t0:.0f} s. Open the UI on this lake with:\n"
        f"  make ui LAKE={lake.root}\n"
        f"or: VOXLAKE_HOME={lake.root} DAGSTER_HOME={lake.root}/dagster dg dev"
    )
    return code


def register(sub: Subparsers) -> None:
    p = add_command(sub, "demo", "generate a corpus, run the whole pipeline, print a summary")
    p.add_argument("--voices", type=int, default=24)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--no-dnsmos", action="store_true", help="skip DNSMOS (faster)")
    p.set_defaults(fn=cmd_demo)
