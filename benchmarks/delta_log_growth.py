"""What a Delta commit costs as a table's history grows, with and without the log expired
at each compaction (decision 0001).

    python benchmarks/delta_log_growth.py [--batches 2000] [--compact-every 250]

One table, one 500-row commit per batch, written as voxlake writes a batch (overwrite with
a predicate on `part`, a checkpoint every 10 commits). Every `--compact-every` batches the
table is compacted, checkpointed and vacuumed with retention 0, as `voxlake compact` does;
the `expired` variant then also cleans the log older than the retention
(`cleanup_metadata`), the `kept` variant keeps it (a log retention of ten years). After
each compaction: the median of 5 further commits, the open of the table, the log's file
count and the last checkpoint's size. Both variants run in one process, one after the
other. The last line is the JSON, also written to benchmarks/results/delta_log_growth.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

RESULTS = Path(__file__).parent / "results"
ROWS = 500


def _rows(batch: int) -> pa.Table:
    key = f"b{batch:07d}"
    return pa.table(
        {
            "voice_id": [f"{key}-{i:03d}" for i in range(ROWS)],
            "duration_s": pa.array([float(i) for i in range(ROWS)], pa.float64()),
            "batch": [key] * ROWS,
            "part": [f"{key}/raw"] * ROWS,
        }
    )


def _commit(root: str, batch: int, config: dict[str, str]) -> float:
    t0 = time.perf_counter()
    write_deltalake(
        root,
        _rows(batch),
        mode="overwrite",
        predicate=f"part = 'b{batch:07d}/raw'",
        configuration=config,
    )
    return time.perf_counter() - t0


def variant(root: str, batches: int, every: int, expire: bool) -> list[dict[str, Any]]:
    config = {
        "delta.checkpointInterval": "10",
        "delta.logRetentionDuration": "interval 0 hours" if expire else "interval 3650 days",
    }
    log = Path(root) / "_delta_log"
    points = []
    for b in range(batches):
        _commit(root, b, config)
        if (b + 1) % every:
            continue
        dt = DeltaTable(root)
        dt.optimize.compact()
        dt = DeltaTable(root)
        dt.create_checkpoint()
        dt.vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False)
        if expire:
            DeltaTable(root).cleanup_metadata()
        commits = [_commit(root, 10**6 + 10 * b + k, config) for k in range(5)]
        t0 = time.perf_counter()
        DeltaTable(root)
        opened = time.perf_counter() - t0
        checkpoints = sorted(p for p in log.iterdir() if p.name.endswith(".checkpoint.parquet"))
        points.append(
            {
                "batches": b + 1,
                "commit_ms": round(statistics.median(commits) * 1000, 1),
                "open_ms": round(opened * 1000, 1),
                "log_files": sum(1 for _ in log.iterdir()),
                "checkpoint_kb": round(checkpoints[-1].stat().st_size / 1024, 1),
            }
        )
        print(("expired " if expire else "kept    ") + json.dumps(points[-1]), flush=True)
    return points


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, default=2000)
    ap.add_argument("--compact-every", type=int, default=250)
    ap.add_argument("--out", default="delta_log_growth.json")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="delta-log-"))
    try:
        out: dict[str, Any] = {"batches": args.batches, "compact_every": args.compact_every}
        for name, expire in (("kept", False), ("expired", True)):
            out[name] = variant(str(work / name), args.batches, args.compact_every, expire)
        for name in ("kept", "expired"):
            first, last = out[name][0]["commit_ms"], out[name][-1]["commit_ms"]
            out[f"{name}_commit_growth"] = round(last / first, 2)
        out["cpu_count"] = os.cpu_count()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / args.out).write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
