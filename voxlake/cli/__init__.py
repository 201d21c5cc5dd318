"""The `voxlake` command: demo, ingest, run, sql, search, duplicates, verify, doctor, forget,
drop-batch, stats, export.

One thin module per command group: each parses, calls the core (or a run of the code
location's jobs) and prints.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType


def parser() -> argparse.ArgumentParser:
    from voxlake.cli import (
        demo,
        doctor,
        drop_batch,
        export,
        forget,
        ingest,
        run,
        search,
        sql,
        stats,
        verify,
    )

    p = argparse.ArgumentParser(prog="voxlake", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    commands = (demo, ingest, run, sql, search, verify, doctor, forget, drop_batch, stats, export)
    for group in commands:
        group.register(sub)
    return p


INTERRUPTED = (
    "interrupted: stopped as a kill would stop it; the lake is consistent, and `voxlake run` "
    "finishes the work"
)


def _sigterm_as_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. Ctrl-C and SIGTERM stop it within seconds (exit 130)."""
    import warnings

    from voxlake.lake.space import LOW_BYTES, caused_by_full_disk, free_bytes, full_disk_message
    from voxlake.lake.store import default_root
    from voxlake.orchestration.interrupts import RunInterrupted

    warnings.filterwarnings("ignore")
    args = parser().parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    try:
        return int(args.fn(args))
    except (KeyboardInterrupt, RunInterrupted) as e:
        detail = f" ({e})" if isinstance(e, RunInterrupted) else ""
        print(f"voxlake {args.command}: {INTERRUPTED}{detail}", file=sys.stderr)
        return 130
    except Exception as e:
        root = Path(args.lake or default_root()) if hasattr(args, "lake") else None
        if root is None or not (caused_by_full_disk(e) or free_bytes(root) < LOW_BYTES):
            raise
        print(f"voxlake {args.command}: {full_disk_message(root)}", file=sys.stderr)
        print(f"  ({type(e).__name__}: {str(e).splitlines()[0][:200]})", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
