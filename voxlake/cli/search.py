"""`voxlake search` and `voxlake duplicates`: the voice index, queried."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from voxlake.cli.args import Subparsers, add_command, open_lake
from voxlake.cli.table import add_format_option, format_rows
from voxlake.embed import index_search, index_table
from voxlake.lake import voice_ids
from voxlake.pipeline import embed_file, embedder_by_fingerprint


def cmd_search(args: argparse.Namespace) -> int:
    lake = open_lake(args)
    try:
        if args.voice:
            voice_id = voice_ids.resolve(lake, args.voice)
            vector, exclude = index_search.vector_of(lake, voice_id), voice_id
        else:
            stored = index_table.index_fingerprint(lake)
            if stored is None:
                raise LookupError("the index is empty")
            embedder = embedder_by_fingerprint(stored).name
            vector, exclude = embed_file(Path(args.audio), embedder), None
        hits = index_search.search(lake, vector, args.k, where=args.where, exclude=exclude)
    except (LookupError, ValueError) as e:
        print(f"voxlake search: {e}", file=sys.stderr)
        return 1
    rows = [(h.voice_id, h.score, h.speaker, h.source, h.batch) for h in hits]
    print(format_rows(["voice_id", "score", "speaker", "source", "batch"], rows, args.format))
    return 0 if hits else 1


def cmd_duplicates(args: argparse.Namespace) -> int:
    pairs = index_search.near_duplicates(open_lake(args), args.threshold, args.k)
    print(format_rows(["voice_a", "voice_b", "cosine"], pairs, args.format))
    if args.format == "table":
        print(f"{len(pairs)} near-duplicate pair(s) at cosine >= {args.threshold}")
    return 0


def register(sub: Subparsers) -> None:
    p = add_command(sub, "search", "find the voices most like a voice or an audio file")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--voice", help="a voice id, or any unique prefix of 8+ characters")
    g.add_argument("--audio", help="an audio file (denoised and embedded on the fly)")
    p.add_argument("-k", type=int, default=5, help="how many voices to return")
    p.add_argument("--where", help="SQL filter on speaker, source, batch")
    add_format_option(p)
    p.set_defaults(fn=cmd_search)
    d = add_command(sub, "duplicates", "list near-duplicate voice pairs (by embedding similarity)")
    d.add_argument("--threshold", type=float, default=0.95, help="least cosine similarity")
    d.add_argument("-k", type=int, default=5, help="neighbours asked per voice")
    add_format_option(d)
    d.set_defaults(fn=cmd_duplicates)
