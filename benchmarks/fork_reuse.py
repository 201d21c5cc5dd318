"""A fork per voice against a fork per `VOICES_PER_FORK` voices: the denoise stage's
per-voice work (`ForkingDenoiser`, the streamed file) on the same voices, in one pool of
`--workers` processes, alternating the two in pairs so that the machine's drift falls on
both alike.

    python benchmarks/fork_reuse.py [--voices 300] [--pairs 8] [--workers 2]

Each voice runs on a pristine runtime either way, so the stored files are the same (the
script checks the hashes). Per pair: each side's wall time and the machine's user, kernel
and idle shares while it ran (/proc/stat). Keys: `wall_ratio_median` (shared over one per
voice, median of the pairs' ratios), `faster_pairs`, and the shares' ranges. The last line
is the JSON, also written to benchmarks/results/fork_reuse.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ladder_real import generate

from voxlake.audio.denoise import DenoiseConfig
from voxlake.audio.fork_model import VOICES_PER_FORK
from voxlake.audio.fork_server import ForkingDenoiser

RESULTS = Path(__file__).parent / "results"
SIDES = {"shared": VOICES_PER_FORK, "per_voice": 1}
_FILES: list[Path] = []
_OUT: list[Path] = []
_DENOISERS: dict[str, ForkingDenoiser] = {}


def _denoiser(side: str) -> ForkingDenoiser:
    if side not in _DENOISERS:
        _DENOISERS[side] = ForkingDenoiser(DenoiseConfig(), voices_per_fork=SIDES[side])
    return _DENOISERS[side]


def _voice(args: tuple[str, int]) -> str:
    side, i = args
    row = _denoiser(side)(_FILES[i], _OUT[0] / f"{side}-{i}.flac")
    return str(row["content_hash"])


def _warm(_: int) -> int:
    for side in SIDES:
        _voice((side, 0))
    return os.getpid()


def _cpu() -> np.ndarray:
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return np.array([v[0] + v[1], v[2] + v[5] + v[6], v[3] + v[4]], dtype=float)


def paired_walls(runs: dict[str, list[dict[str, float]]], side: str, base: str) -> dict[str, Any]:
    """`side` over `base` in each alternated pair of runs (each with `wall_s`): the median
    ratio, every ratio, how many pairs `side` was faster in, and every wall time."""
    ratios = [a["wall_s"] / b["wall_s"] for a, b in zip(runs[side], runs[base], strict=True)]
    return {
        "wall_ratio_median": round(statistics.median(ratios), 3),
        "wall_ratios": [round(r, 3) for r in ratios],
        "faster_pairs": sum(r < 1 for r in ratios),
        "wall_s": {s: [round(r["wall_s"], 2) for r in v] for s, v in runs.items()},
    }


def measure(tmp: Path, voices: int, pairs: int, workers: int) -> dict[str, Any]:
    speech = generate(tmp / "src", voices, (1.0, 3.0), tag="-fork-reuse")
    _FILES.extend(sorted((tmp / "src").rglob("*.wav")))
    _OUT.append(tmp / "out")
    _OUT[0].mkdir()
    runs: dict[str, list[dict[str, float]]] = {side: [] for side in SIDES}
    hashes: dict[str, list[str]] = {}
    with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
        list(pool.map(_warm, range(4 * workers)))
        for k in range(pairs):
            for side in list(SIDES) if k % 2 == 0 else list(SIDES)[::-1]:
                c0, t0 = _cpu(), time.perf_counter()
                jobs = [(side, i) for i in range(len(_FILES))]
                hashes[side] = list(pool.map(_voice, jobs, chunksize=1))
                wall, used = time.perf_counter() - t0, _cpu() - c0
                share = used / used.sum()
                runs[side].append(
                    {"wall_s": wall, "user": share[0], "kernel": share[1], "idle": share[2]}
                )
                print(f"pair {k + 1} {side}: {wall:.2f} s", file=sys.stderr, flush=True)
    if hashes["shared"] != hashes["per_voice"]:
        raise SystemExit("the two ways stored different files")

    def span(side: str, key: str) -> list[float]:
        values = [r[key] for r in runs[side]]
        return [round(100 * min(values), 1), round(100 * max(values), 1)]

    return {
        "voices": len(_FILES),
        "speech": speech,
        "seconds": [1.0, 3.0],
        "workers": workers,
        "voices_per_fork": VOICES_PER_FORK,
        "pairs": pairs,
        **paired_walls(runs, "shared", "per_voice"),
        "kernel_pct": {s: span(s, "kernel") for s in SIDES},
        "idle_pct": {s: span(s, "idle") for s in SIDES},
        "same_files": True,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--voices", type=int, default=300)
    ap.add_argument("--pairs", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=RESULTS / "fork_reuse.json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="voxlake-fork-reuse-") as tmp:
        result = measure(Path(tmp), args.voices, args.pairs, args.workers)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
