"""`voxlake drop-batch`: remove a failed batch and its partition, in one command."""

from __future__ import annotations

import argparse
import sys

from voxlake.cli.args import Subparsers, add_command, open_lake, report_damaged
from voxlake.ingest.drop_batch import CompleteBatch, drop_batch
from voxlake.orchestration.runner import delete_partition, instance_for
from voxlake.quality.checks import data_docs_dir
from voxlake.quality.docs_index import remove_batch_pages, write_docs_index


def cmd_drop_batch(args: argparse.Namespace) -> int:
    lake = open_lake(args)
    instance = instance_for(lake)
    code = 0
    for batch in args.batches:
        try:
            dropped = drop_batch(lake, batch, force=args.force)
        except CompleteBatch as e:
            print(f"voxlake drop-batch: {e}", file=sys.stderr)
            code = 1
            continue
        except FileNotFoundError:
            if delete_partition(instance, batch):  # a partition added by hand: no manifest
                print(f"dropped partition {batch} (it had no manifest)")
            else:
                print(f"voxlake drop-batch: no batch {batch} in this lake", file=sys.stderr)
                code = 1
            continue
        delete_partition(instance, batch)
        remove_batch_pages(data_docs_dir(lake), batch)
        print(
            f"dropped batch {batch}: {dropped.voices} voice(s), {dropped.files_removed} file(s); "
            f"its {dropped.inputs_logged} input(s) will not be batched again; "
            "dataset stats and index updated"
        )
    if data_docs_dir(lake).is_dir():
        write_docs_index(data_docs_dir(lake))
    report_damaged(lake)
    return code


def register(sub: Subparsers) -> None:
    p = add_command(sub, "drop-batch", "remove failed batches and their partitions")
    p.add_argument("batches", nargs="+", metavar="BATCH", help="the batches to remove")
    p.add_argument("--force", action="store_true", help="drop a complete batch too")
    p.set_defaults(fn=cmd_drop_batch)
