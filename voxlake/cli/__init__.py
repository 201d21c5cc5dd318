"""voxlake: turn a folder or bucket of voice recordings into a clean, measured, searchable
and reproducible speech corpus.

Start with `voxlake demo`, or `voxlake ingest PATH` then `voxlake run`; query the lake
with `voxlake sql`, find voices with `voxlake search`, and write a training set with
`voxlake export`. `voxlake COMMAND --help` tells more about each command. Every command
takes --lake (default: $VOXLAKE_HOME, else ./.voxlake).
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

# command -> the module that registers it; a command imports only its own module (`voxlake
# sql` does not load torch, Dagster or scipy), `voxlake --help` imports them all.
COMMANDS = {
    "demo": "demo",
    "ingest": "ingest",
    "run": "run",
    "sql": "sql",
    "search": "search",
    "duplicates": "search",
    "verify": "verify",
    "doctor": "doctor",
    "forget": "forget",
    "drop-batch": "drop_batch",
    "stats": "stats",
    "export": "export",
    "cluster": "cluster",
    "migrate": "migrate",
    "compact": "compact",
}


def parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    import importlib

    args = list(sys.argv[1:] if argv is None else argv)
    wanted = [COMMANDS[args[0]]] if args and args[0] in COMMANDS else list(COMMANDS.values())
    p = argparse.ArgumentParser(
        prog="voxlake", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="command", required=True)
    for name in dict.fromkeys(wanted):
        importlib.import_module(f"voxlake.cli.{name}").register(sub)
    return p


def full_parser() -> argparse.ArgumentParser:
    """Every command's parser, whatever this process's own arguments (the docs read it)."""
    return parser([])


def missing_help(p: argparse.ArgumentParser, prog: str = "voxlake") -> list[str]:
    """The commands and options a user would find no help text for, as `voxlake CMD --opt`."""
    missing = []
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            helped = {c.dest: c.help for c in action._choices_actions}
            for name, sub in action.choices.items():
                if not helped.get(name):
                    missing.append(f"{prog} {name}")
                missing += missing_help(sub, f"{prog} {name}")
        elif not isinstance(action, argparse._HelpAction) and not action.help:
            missing.append(f"{prog} {'/'.join(action.option_strings) or action.dest}")
    return missing


def _interrupted(e: BaseException) -> bool:
    """Ctrl-C, SIGTERM, or a run that a signal stopped (only possible once runs were loaded)."""
    runs = sys.modules.get("voxlake.orchestration.interrupts")
    return isinstance(e, KeyboardInterrupt) or (
        runs is not None and isinstance(e, runs.RunInterrupted)
    )


INTERRUPTED = (
    "interrupted: stopped as a kill would stop it; the lake is consistent, and `voxlake run` "
    "finishes the work"
)


def _sigterm_as_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def run() -> None:
    """The `voxlake` command: `main`, then the exit, without the interpreter's teardown.

    Once the command's work is done and its output flushed, nothing is left to do: every
    table commit, run record and file is written. What the teardown would add is waiting:
    - the warm pool's workers exit on their own (torch, the encoder): about 1 s;
    - freeing the modules a run imports (Dagster, GX, LanceDB): about 1 s.

    A process that read Delta tables on an object store could also abort there ("terminate
    called without an active exception", SIGABRT): Arrow's I/O threads are still parked in
    delta-rs' Python filesystem when the runtime goes. So the workers are killed and reaped,
    the logs flushed, and the process ends with its exit status."""
    import logging
    import os

    from voxlake import parallel

    rc = main()
    parallel.stop_pools()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(rc)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. Ctrl-C and SIGTERM stop it within seconds (exit 130)."""
    import warnings

    from voxlake.lake.space import LOW_BYTES, caused_by_full_disk, free_bytes, full_disk_message
    from voxlake.lake.store import default_root

    warnings.filterwarnings("ignore")
    args = parser(argv).parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    try:
        return int(args.fn(args))
    except BaseException as e:
        if _interrupted(e):
            detail = "" if isinstance(e, KeyboardInterrupt) else f" ({e})"
            print(f"voxlake {args.command}: {INTERRUPTED}{detail}", file=sys.stderr)
            return 130
        if not isinstance(e, Exception):
            raise
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
