"""The raw step handing each voice to the pool as it accepts it, against handing the
batch's voices over once its tables are written: whole `voxlake run`s of the same 1-3 s
corpus (1,500 voices: 3 batches of the lake's 500, 2 workers), alternated in pairs so that
the machine's drift falls on both alike.

    python benchmarks/raw_handoff.py [--pairs 4] [--voices 1500] [--workers 2]

`voxlake run` hands each voice to the pool as the raw step accepts it. The other side runs
the same command with `ingest_batch` wrapped to hand nothing over until the batch's tables
are written, and then every voice of the `voices` table: what the raw step did before (the
pool idled while the raw step hashed, measured and copied the batch). Each side runs on a
fresh lake ingested from the same files. Per run: the wall time, the batch runs' walls
(Dagster's start and end of each) and `steady`, batch runs 2..N. Keys: `steady_ratio` and
`wall_ratio` (per voice over per batch, each pair's, and their medians). The last line is
the JSON, also written to benchmarks/results/raw_handoff.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

RESULTS = Path(__file__).parent / "results"
SIDES = ("per_batch", "per_voice")


def _run(side: str, lake: str, workers: int) -> None:
    """`voxlake run` in this process, through the command's own entry point (its exit
    included); on the `per_batch` side, the raw step hands its voices over only once its
    tables are written."""
    from voxlake.cli import run as voxlake
    from voxlake.ingest import raw as ingest

    if side == "per_batch":
        accept_each = ingest.ingest_batch

        def per_batch(lake: Any, batch: str, limits: Any, progress: Any, accepted: Any) -> Any:
            result = accept_each(lake, batch, limits, progress, None)
            for row in lake.read_table("voices", batch).to_pylist() if accepted else []:
                accepted(row)
            return result

        ingest.ingest_batch = per_batch
    sys.argv = ["voxlake", "run", "--lake", lake, "--workers", str(workers)]
    voxlake()  # main, then the pool's workers stopped and the exit without teardown


def main() -> None:
    from ladder_real import generate
    from pipeline import cli_env, paired_ratios, whole_run

    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=4)
    ap.add_argument("--voices", type=int, default=1500)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)  # one run, in-process
    ap.add_argument("--lake", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.side:
        return _run(args.side, args.lake, args.workers)
    tmp = Path(tempfile.mkdtemp(prefix="voxlake-raw-handoff-"))
    env = cli_env()
    runs: list[dict[str, Any]] = []
    try:
        src = tmp / "src"
        speech = generate(src, args.voices, (1.0, 3.0), tag="-steady-short")
        for pair in range(args.pairs):
            for side in SIDES if pair % 2 == 0 else SIDES[::-1]:
                me = [sys.executable, __file__, "--side", side, "--lake", str(tmp / side)]
                row = whole_run([*me, "--workers", str(args.workers)], src, tmp / side, env)
                runs.append({"pair": pair, "side": side, **row})
                print(json.dumps(runs[-1]), flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result = {
        "voices": args.voices,
        "seconds": [1.0, 3.0],
        "speech": speech,
        "workers": args.workers,
        "cores": os.cpu_count(),
        **paired_ratios(runs, "per_voice", "per_batch"),
        "runs": runs,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "raw_handoff.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
