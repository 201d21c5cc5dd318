"""Whole `voxlake run`s of the same corpus by this checkout's core and by an earlier
commit's, alternated in pairs so that the machine's drift falls on both alike: what a
change did to a run, without setting either against a floor timed minutes apart.

    python benchmarks/ab_checkouts.py --old REV [--pairs 3] [--voices 1500] [--workers 2]

The earlier commit is checked out (`git worktree`) into a temporary folder, and its
`voxlake/` package comes first on the path of its runs (and of their spawned workers); the
Dagster layer and the installed libraries are this checkout's, so REV should differ from
it in `voxlake/` alone (the script refuses otherwise). Each run gets a fresh lake ingested
from the same 1-3 s corpus (`ladder_real.generate`, 3 batches of the lake's 500). Per
run: the wall time, the batch runs' walls and `steady_s` (batch runs 2..N). Keys:
`steady_ratio` and `wall_ratio` (this checkout over REV, each pair's, and their medians),
and `same_hashes` (both sides' lakes hold the same per-voice content hashes). The last line
is the JSON, also written to benchmarks/results/ab_checkouts.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

RESULTS = Path(__file__).parent / "results"
ROOT = Path(__file__).resolve().parent.parent


def _hashes(lake: Path) -> list[tuple[str, str, str]]:
    """Every stage's per-voice content hashes in the lake, sorted."""
    from voxlake.lake.store import Lake

    rows = Lake(lake).read_table("voice_hashes").to_pylist()
    return sorted((r["stage"], r["voice_id"], r["content_hash"]) for r in rows)


def main() -> None:
    from ladder_real import generate
    from pipeline import cli_env, paired_ratios, whole_run

    ap = argparse.ArgumentParser()
    ap.add_argument("--old", required=True, help="the earlier commit")
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--voices", type=int, default=1500)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    outside = subprocess.run(
        [
            "git",
            "diff",
            "--name-only",
            args.old,
            "HEAD",
            "--",
            ".",
            ":!voxlake",
            ":!tests",
            ":!benchmarks",
            ":!docs",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    if outside:
        raise SystemExit(
            f"{args.old} differs outside voxlake/ (tests, benchmarks, docs aside): {outside}"
        )
    old = subprocess.run(
        ["git", "rev-parse", "--short", args.old],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    new = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    tmp = Path(tempfile.mkdtemp(prefix="voxlake-ab-"))
    tree = tmp / "old"
    subprocess.run(
        ["git", "worktree", "add", "-q", "--detach", str(tree), args.old], cwd=ROOT, check=True
    )
    sides = {"new": ROOT, "old": tree}
    runs: list[dict[str, Any]] = []
    hashes: dict[str, list[tuple[str, str, str]]] = {}
    try:
        src = tmp / "src"
        speech = generate(src, args.voices, (1.0, 3.0), tag="-steady-short")
        for pair in range(args.pairs):
            for side in ("new", "old") if pair % 2 == 0 else ("old", "new"):
                env = {**cli_env(), "PYTHONPATH": str(sides[side])}
                lake = tmp / f"lake-{side}"
                run = [sys.executable, "-m", "voxlake.cli", "run", "--lake", str(lake)]
                row = whole_run([*run, "--workers", str(args.workers)], src, lake, env)
                hashes[side] = _hashes(lake)
                runs.append({"pair": pair, "side": side, **row})
                print(json.dumps(runs[-1]), file=sys.stderr, flush=True)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False)
        shutil.rmtree(tmp, ignore_errors=True)
    result = {
        "new": new,
        "old": old,
        "voices": args.voices,
        "seconds": [1.0, 3.0],
        "speech": speech,
        "workers": args.workers,
        "cores": os.cpu_count(),
        **paired_ratios(runs, "new", "old"),
        "same_hashes": hashes["new"] == hashes["old"],
        "runs": runs,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ab_checkouts.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
