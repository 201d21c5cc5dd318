"""DNSMOS modes side by side: `exact` (speechmos' procedure) and `fast` (fewest windows),
on the same voices, before and after denoising; and what `sample` estimates.

    python benchmarks/dnsmos_modes.py --lake LAKE [--repeats 3]

LAKE is a processed lake (`voxlake demo` makes one). For every accepted voice it scores
the raw file and the denoised file in both modes, timing each mode's model calls over
all voices, `--repeats` times, alternating the order; the median is reported. It also
reports the mean OVRL of the `sample` mode's voices at several fractions with a 95 %
confidence interval, against the mean over all voices. The last line is the JSON object,
also written to benchmarks/results/dnsmos_modes.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from voxlake.audio import dnsmos
from voxlake.lake.store import Lake
from voxlake.pipeline import _dnsmos_of

RESULTS = Path(__file__).parent / "results"


def _scores(paths: list[str], mode: str) -> tuple[list[float], float]:
    t0 = time.perf_counter()
    ovrl = [_dnsmos_of(p, mode).ovrl for p in paths]
    return ovrl, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lake", required=True)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    lake = Lake(args.lake)
    voices = {v["voice_id"]: v for v in lake.read_table("voices").to_pylist()}
    metrics = lake.read_table("denoise_metrics").to_pylist()
    ids = sorted(m["voice_id"] for m in metrics if m["voice_id"] in voices)
    by_id = {m["voice_id"]: m for m in metrics}
    paths = [str(lake.root / voices[i]["raw_path"]) for i in ids]
    paths += [str(lake.root / by_id[i]["denoised_path"]) for i in ids]
    times: dict[str, list[float]] = {"exact": [], "fast": []}
    ovrl: dict[str, list[float]] = {}
    for r in range(args.repeats):
        for mode in ("exact", "fast") if r % 2 == 0 else ("fast", "exact"):
            ovrl[mode], t = _scores(paths, mode)
            times[mode].append(t)
    diffs = np.abs(np.array(ovrl["fast"]) - np.array(ovrl["exact"]))
    exact_s, fast_s = statistics.median(times["exact"]), statistics.median(times["fast"])
    seconds = [voices[i]["duration_s"] for i in ids]
    out_exact = np.array(ovrl["exact"][len(ids) :])  # the denoised half
    sample = {}
    for fraction in (0.1, 0.25, 0.5):
        chosen = [k for k, i in enumerate(ids) if dnsmos.sampled(i, fraction)]
        vals = out_exact[chosen]
        half = 1.96 * float(np.std(vals, ddof=1)) / np.sqrt(len(vals)) if len(vals) > 1 else None
        sample[str(fraction)] = {
            "voices": len(vals),
            "mean_ovrl_out": float(np.mean(vals)) if len(vals) else None,
            "ci95_half_width": half,
        }
    result = {
        "voices": len(ids),
        "voice_seconds_median": statistics.median(seconds),
        "exact_s": exact_s,
        "fast_s": fast_s,
        "fast_speedup": exact_s / fast_s,
        "dnsmos_fast_ovrl_mae": float(diffs.mean()),
        "dnsmos_fast_ovrl_max_diff": float(diffs.max()),
        "mean_ovrl_out_all_voices": float(out_exact.mean()),
        "sample": sample,
        "repeats": args.repeats,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "dnsmos_modes.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
