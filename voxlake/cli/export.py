"""`voxlake export`: the curated voices as lhotse, HF datasets or NeMo manifests, or as
shards (webdataset, hf-parquet, lhotse-shar) with splits, pinned to a snapshot."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb

from voxlake.cli.args import Subparsers, add_command, open_lake
from voxlake.export import FORMATS, EmptySelection, export
from voxlake.export.shard_formats import SHARD_FORMATS
from voxlake.export.shards import (
    AUDIO_KINDS,
    DEFAULT_SHARD_SIZE,
    DEFAULT_WORKERS,
    DestinationTaken,
    ShardRequest,
    export_shards,
    parse_shard_size,
    verify_shards,
)
from voxlake.export.splits import DEFAULT_SEED, BadSplit, parse_split
from voxlake.lake.catalog import RefusedQuery
from voxlake.lake.objectstore import StoreAccessError, StoreConfig, is_remote
from voxlake.lake.objectstore.mirror import StoreFailed
from voxlake.lake.objectstore.remote import StoreLake
from voxlake.lake.snapshots import UnknownSnapshot
from voxlake.lake.store import default_root


def _fail(message: str) -> int:
    print(f"voxlake export: {message.splitlines()[0]}", file=sys.stderr)
    return 1


def cmd_verify(manifest: str) -> int:
    checked = verify_shards(manifest)
    for problem in checked.problems:
        print(f"  {problem}", file=sys.stderr)
    if not checked.ok:
        return _fail(f"{len(checked.problems)} problem(s) in the shards beside {manifest}")
    print(f"ok: {checked.shards} shard(s), {checked.voices} voice(s) match {manifest}")
    return 0


def cmd_shards(args: argparse.Namespace) -> int:
    spec = parse_split(args.split, args.by, args.seed)
    size = parse_shard_size(args.shard_size)
    request = ShardRequest(
        args.format,
        args.out,
        where=args.where,
        as_of=args.as_of,
        spec=spec,
        kind=args.audio,
        size=size,
        overwrite=args.overwrite,
    )
    where = str(args.lake or default_root())
    if is_remote(where):  # read in place: tables by delta-rs, each shard's audio as written
        with StoreLake.of(StoreConfig(where)).read_session() as reading:
            done = export_shards(reading.lake, request, workers=args.workers, files=reading)
    else:
        done = export_shards(open_lake(args), request, workers=args.workers)
    for warning in done.warnings:
        print(f"voxlake export: warning: {warning}", file=sys.stderr)
    m = done.manifest
    if done.written == 0 and done.shards:
        print(f"{args.out} already holds this export (plan {m['plan']}): nothing to write")
    splits = ", ".join(f"{k} {v['voices']}" for k, v in m["splits"].items())
    print(
        f"exported {done.voices} voice(s) as {done.shards} {args.format} shard(s) "
        f"({done.written} written now; {splits}) from snapshot {m['snapshot']['id']} "
        f"to {args.out}; manifest: {args.out.rstrip('/')}/manifest.json"
    )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    if args.verify:
        return cmd_verify(args.verify)
    if not args.format or not args.out:
        return _fail("--format and --out are required (or --verify MANIFEST)")
    sharded = args.format in SHARD_FORMATS
    if sharded != args.shards:
        return _fail(
            f"--format {args.format} writes shards: add --shards"
            if sharded
            else f"--shards writes {', '.join(SHARD_FORMATS)}, not {args.format}"
        )
    if not args.shards and args.split:
        return _fail("--split goes with --shards")
    try:
        if args.shards:
            return cmd_shards(args)
        done = export(
            open_lake(args), args.format, Path(args.out), args.where, args.as_of, args.audio
        )
    except (
        EmptySelection,
        RefusedQuery,
        duckdb.Error,
        UnknownSnapshot,
        BadSplit,
        DestinationTaken,
        StoreAccessError,
        StoreFailed,
        FileNotFoundError,
        ValueError,
    ) as e:
        return _fail(str(e))
    except ImportError as e:
        print(f"voxlake export: {e.name} is not installed: pip install 'voxlake[export]'")
        return 1
    print(f"exported {done.voices} voice(s), {done.hours:.2f} h, as {args.format} to {args.out}:")
    for path in done.files:
        print(f"  {path}")
    return 0


def register(sub: Subparsers) -> None:
    p = add_command(
        sub, "export", "write the denoised voices as manifests (lhotse, HF, NeMo) or shards"
    )
    p.add_argument(
        "--format",
        choices=sorted([*FORMATS, *SHARD_FORMATS]),
        help="manifests: lhotse, hf, nemo; shards (with --shards): webdataset, hf-parquet, "
        "lhotse-shar",
    )
    p.add_argument(
        "--out", help="folder to write (manifests are replaced); shards: a folder or s3:// prefix"
    )
    p.add_argument("--where", help="SQL predicate over voice_overview, e.g. 'duration_s > 2'")
    p.add_argument(
        "--as-of",
        metavar="SNAPSHOT|TIMESTAMP",
        help="export an earlier snapshot: the id an export recorded, or an ISO timestamp",
    )
    s = p.add_argument_group("shards")
    s.add_argument(
        "--shards", action="store_true", help="write shards holding the audio bytes themselves"
    )
    s.add_argument(
        "--shard-size",
        default=DEFAULT_SHARD_SIZE,
        help=f"a shard's audio, as 500MB / 2GB or N voices (default {DEFAULT_SHARD_SIZE})",
    )
    s.add_argument(
        "--split",
        metavar="NAME=FRACTION,...",
        help="e.g. train=0.98,dev=0.01,test=0.01 (fractions sum to 1; default: one split, train)",
    )
    s.add_argument(
        "--by",
        default="speaker",
        help="what a split keeps together: speaker (default), voice, or any column or label",
    )
    s.add_argument(
        "--seed",
        default=DEFAULT_SEED,
        help="names the split assignment: a unit's split is a function of its key and this",
    )
    s.add_argument(
        "--audio",
        choices=AUDIO_KINDS,
        default="denoised",
        help="the stored audio the export holds or names: denoised (the default), or raw "
        "(what was ingested; ingesting such an export again gives the same voices)",
    )
    s.add_argument(
        "--workers",
        type=int,
        default=DEFAULT_WORKERS,
        help="shards written at once (default twice the cores: a shard waits on its fsync; "
        "the bytes do not depend on it)",
    )
    s.add_argument("--overwrite", action="store_true", help="replace another export at --out")
    s.add_argument(
        "--verify",
        metavar="MANIFEST",
        help="check the shards beside an export's manifest.json against it, and stop",
    )
    p.set_defaults(fn=cmd_export)
