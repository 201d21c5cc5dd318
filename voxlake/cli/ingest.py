"""`voxlake ingest`: reference files or folders for the next run (or copy them into the inbox)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from voxlake.cli.args import Subparsers, add_command, open_lake
from voxlake.ingest.from_source import ingest_source
from voxlake.ingest.inbox import copy_into_inbox
from voxlake.ingest.references import reference_files
from voxlake.ingest.sources import SOURCES, ManifestError


def _from_source(args: argparse.Namespace, paths: list[str]) -> int:
    lake = open_lake(args)
    new = known = refused = 0
    for path in paths:
        try:
            done = ingest_source(lake, args.source, path, language=args.language)
        except (ManifestError, FileNotFoundError) as e:
            print(f"voxlake: {e}", file=sys.stderr)
            return 2
        except RuntimeError as e:  # an s3:// prefix whose store failed or refused
            from voxlake.lake.objectstore import StoreAccessError
            from voxlake.lake.objectstore.mirror import StoreFailed

            if not isinstance(e, StoreFailed | StoreAccessError):
                raise
            print(f"voxlake: {e}", file=sys.stderr)
            return 2
        new, known, refused = new + done.new, known + done.known, refused + done.refused
    refusals = f", {refused} of them to `rejected` with the reason" if refused else ""
    print(
        f"referenced {new} utterance(s) of {args.source} ({known} already referenced); "
        f"`voxlake run` takes them in{refusals}. Leave the audio files in place until then."
    )
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    if args.source is not None:
        return _from_source(args, args.paths)
    paths = [Path(p) for p in args.paths]
    lake = open_lake(args)
    try:
        if args.copy:
            copied = copy_into_inbox(lake, paths)
            print(f"copied {copied} file(s) into {lake.inbox}; `voxlake run` ingests them")
            return 0
        done = reference_files(lake, paths)
    except FileNotFoundError as e:
        print(f"voxlake: {e}", file=sys.stderr)
        return 2
    print(
        f"referenced {done.new} file(s) where they are ({done.known} already referenced); "
        "`voxlake run` copies each accepted voice into the lake once. Leave them in place "
        "until then: a file that changes or vanishes first is rejected (changed / missing)."
    )
    return 0


def register(sub: Subparsers) -> None:
    p = add_command(sub, "ingest", "reference files or folders for the next run (no copy)")
    p.add_argument(
        "paths", nargs="+", metavar="PATH", help="audio files or folders (searched recursively)"
    )
    p.add_argument(
        "--copy",
        action="store_true",
        help="copy into the inbox instead (for sources that will not stay, e.g. a removable "
        "drive); by default files are ingested by reference",
    )
    p.add_argument(
        "--from",
        dest="source",
        choices=sorted(SOURCES),
        help="read PATH as a corpus in this layout (a manifest file, a corpus folder, or an "
        "s3:// prefix, copied into the lake first): its utterances, segments, transcripts "
        "and speakers are ingested with it",
    )
    p.add_argument(
        "--language",
        help="the language of utterances whose manifest names none (with --from)",
    )
    p.set_defaults(fn=cmd_ingest)
