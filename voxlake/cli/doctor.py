"""`voxlake doctor`: hash what the lake serves against lineage; name what is wrong and how
to repair it (exit 1 when anything is)."""

from __future__ import annotations

import argparse
import time

from voxlake.cli.args import Subparsers, add_command, open_lake
from voxlake.cli.table import format_table
from voxlake.ingest.inbox import list_batches
from voxlake.orchestration.runner import PARTITIONS, instance_for
from voxlake.repro.doctor import Finding, doctor


def _partitions_without_manifest(args: argparse.Namespace) -> list[Finding]:
    lake = open_lake(args)
    if not (lake.root / "dagster").exists():
        return []
    known = set(list_batches(lake))
    return [
        Finding(
            "partition",
            key,
            "",
            "batches/",
            "no manifest (added by hand?)",
            f"voxlake drop-batch {key}",
        )
        for key in instance_for(lake).get_dynamic_partitions(PARTITIONS)
        if key not in known
    ]


def cmd_doctor(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    findings = doctor(open_lake(args)) + _partitions_without_manifest(args)
    cols = ["what", "batch", "voice_id", "path", "problem", "repair"]
    if findings:
        rows = [(f.what, f.batch, f.voice_id, f.path, f.problem, f.repair) for f in findings]
        print(format_table(cols, rows, width=None))
    took = time.perf_counter() - t0
    verdict = "healthy" if not findings else f"{len(findings)} problem(s)"
    print(f"doctor: {verdict} (checked in {took:.1f} s)")
    return 1 if findings else 0


def register(sub: Subparsers) -> None:
    p = add_command(sub, "doctor", "check stored files and tables against lineage (no recompute)")
    p.set_defaults(fn=cmd_doctor)
