"""The `voxlake` command: demo, ingest, run, sql, search, duplicates, verify, doctor, forget,
stats, export.

One thin module per command group: each parses, calls the core (or a run of the code
location's jobs) and prints.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def parser() -> argparse.ArgumentParser:
    from voxlake.cli import demo, doctor, export, forget, ingest, run, search, sql, stats, verify

    p = argparse.ArgumentParser(prog="voxlake", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    for group in (demo, ingest, run, sql, search, verify, doctor, forget, stats, export):
        group.register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    import warnings

    warnings.filterwarnings("ignore")
    args = parser().parse_args(argv)
    return int(args.fn(args))


if __name__ == "__main__":
    sys.exit(main())
