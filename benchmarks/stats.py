"""Mel statistics benchmark: O(1) adds and merges, exact vs Welford cost and accuracy.

    python benchmarks/stats.py [--quick]

Prints a table of figures and, as its last line, one JSON object (also written to
benchmarks/results/stats.json):

- add_us_at_1e3, add_us_at_1e6: microseconds to add the N-th voice (synthetic 128 x 500
  log-mels) to an exact accumulator that already holds N - 1 voices. The accumulator is
  brought to N - 1 voices by adding the exact sums of N - 1 such voices at once (same
  integers as adding them one by one), so only the add itself is timed.
- merge_batch_us_at_10, merge_batch_us_at_10000: the dataset-stats update (the
  `mel_stats` asset's core, files included) after one new batch partial, in a lake that
  already holds 10 or 10,000 batch partials.
- exact_vs_welford_cost: per-voice add, exact / float64 Welford (same data).
- exact_add_vs_denoise: per-voice exact add / denoising the same 5 s voice.
- mel_x_realtime_per_core: seconds of 16 kHz audio turned into log-mels per second, 1 thread.
- max_rel_err_exact, max_rel_err_welford: largest relative error of mean and std against a
  rational (exact) reference, on adversarial data: a large offset with a tiny variance, and
  values spanning +-100 dB.
- order_independent: 20 random merge orders of 40 voice accumulators give identical bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from decimal import Decimal, getcontext
from fractions import Fraction
from pathlib import Path
from statistics import median

os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voxlake.features import dataset as dataset_stats  # noqa: E402
from voxlake.features.mel import MelConfig, log_mel  # noqa: E402
from voxlake.features.stats import MelStats, MelSums, WelfordStats, to_decimals, voice_sums  # noqa: E402
from voxlake.lake.store import Lake  # noqa: E402

FP = "bench"
N_MELS, N_FRAMES = 128, 500


def voice(rng: np.random.Generator) -> np.ndarray:
    return rng.normal(-6.0, 3.0, size=(N_FRAMES, N_MELS))


def timed(fn, repeats: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return median(times)


def scaled(sums: MelSums, k: int) -> MelSums:
    return MelSums(
        sums.n_frames * k, k, tuple(v * k for v in sums.sum), tuple(v * k for v in sums.sum_square)
    )


def add_cost(n_voices: int, repeats: int, rng: np.random.Generator) -> tuple[float, float]:
    """(exact, welford) seconds to add the n-th voice."""
    base = voice(rng)
    exact = MelStats(N_MELS, FP).add(scaled(voice_sums(base), n_voices - 1))
    welford = WelfordStats(N_MELS, FP)
    for _ in range(3):
        welford.add_frames(base)
    welford.n_frames = (n_voices - 1) * N_FRAMES
    voices = [voice(rng) for _ in range(repeats)]
    it_e, it_w = iter(voices), iter(voices)
    t_exact = timed(lambda: exact.add_frames(next(it_e)), repeats)
    t_welford = timed(lambda: welford.add_frames(next(it_w)), repeats)
    return t_exact, t_welford


def partial_row(batch: str, sums: MelSums) -> dict[str, object]:
    return {
        "batch": batch,
        "n_voices": sums.n_voices,
        "n_frames": sums.n_frames,
        "sum": to_decimals(sums.sum),
        "sum_square": to_decimals(sums.sum_square),
        "partial_hash": f"h-{batch}",
        "fingerprint": FP,
    }


def merge_cost(n_batches: int, repeats: int, rng: np.random.Generator) -> float:
    root = Path(tempfile.mkdtemp(prefix="stats-bench-"))
    try:
        lake = Lake(root).ensure()
        template = voice_sums(voice(rng))
        for i in range(n_batches):
            lake.write_table("batch_mel_stats", [partial_row(f"b{i:06d}", template)], f"b{i:06d}")
        dataset_stats.update(lake, FP, N_MELS, rebuild=True)
        times = []
        for r in range(repeats):
            batch = f"new{r:04d}"
            lake.write_table("batch_mel_stats", [partial_row(batch, template)], batch)
            dataset_stats.mark_changed(lake, batch, f"h-{batch}")
            t = time.perf_counter()
            update = dataset_stats.update(lake, FP, N_MELS)
            times.append(time.perf_counter() - t)
            assert update.added == [batch], update.added
        return median(times)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def reference(x: np.ndarray) -> tuple[list[float], list[float]]:
    """Exact mean and std (rational arithmetic over the float64 data, 40-digit sqrt)."""
    getcontext().prec = 40
    means, stds = [], []
    for col in x.T:
        fr = [Fraction(float(v)) for v in col]
        n = len(fr)
        mean = sum(fr) / n
        var = sum((v - mean) ** 2 for v in fr) / n
        means.append(float(mean))
        stds.append(float((Decimal(var.numerator) / Decimal(var.denominator)).sqrt()))
    return means, stds


def rel_err(
    est_mean: np.ndarray, est_std: np.ndarray, ref: tuple[list[float], list[float]]
) -> float:
    m, s = np.array(ref[0]), np.array(ref[1])
    return float(max(np.max(np.abs(est_mean - m) / np.abs(m)), np.max(np.abs(est_std - s) / s)))


def accuracy(rng: np.random.Generator, n: int) -> tuple[float, float]:
    cases = [
        100.0 + rng.normal(0.0, 1e-3, size=(n, 2)),  # large offset, tiny variance
        rng.uniform(-100.0, 100.0, size=(n, 2)),  # values spanning +-100 dB
    ]
    err_e, err_w = 0.0, 0.0
    for x in cases:
        ref = reference(x)
        exact, welford = MelStats(2), WelfordStats(2)
        for chunk in np.array_split(x, 50):  # 50 "voices"
            exact.add_frames(chunk)
            welford.add_frames(chunk)
        fe, fw = exact.finalize(), welford.finalize()
        err_e = max(err_e, rel_err(fe.mean, fe.std, ref))
        err_w = max(err_w, rel_err(fw.mean, fw.std, ref))
    return err_e, err_w


def order_independent(rng: np.random.Generator) -> tuple[bool, bool]:
    parts = [rng.normal(-6, 3, size=(int(rng.integers(50, 400)), 16)) for _ in range(40)]
    exact_bytes, welford_bytes = set(), set()
    for _ in range(20):
        order = rng.permutation(len(parts))
        cut = int(rng.integers(1, len(parts)))
        left, right = MelStats(16), MelStats(16)
        wl, wr = WelfordStats(16), WelfordStats(16)
        for i in order[:cut]:
            left.add_frames(parts[i])
            wl.add_frames(parts[i])
        for i in order[cut:]:
            right.add_frames(parts[i])
            wr.add_frames(parts[i])
        fe, fw = left.merge(right).finalize(), wl.merge(wr).finalize()
        exact_bytes.add(fe.mean.tobytes() + fe.var.tobytes())
        welford_bytes.add(fw.mean.tobytes() + fw.var.tobytes())
    return len(exact_bytes) == 1, len(welford_bytes) == 1


def mel_speed(repeats: int) -> float:
    x = np.random.default_rng(0).normal(0, 0.1, 16_000 * 60).astype(np.float32)
    cfg = MelConfig()
    log_mel(x[:16000], cfg)
    return 60.0 / timed(lambda: log_mel(x, cfg), repeats)


def denoise_cost(repeats: int) -> float:
    from voxlake.audio.denoise import denoise

    x = np.random.default_rng(1).normal(0, 0.1, 48_000 * 5).astype(np.float32)
    return timed(lambda: denoise(x), repeats)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats and samples")
    args = ap.parse_args()
    reps = 15 if args.quick else 60
    rng = np.random.default_rng(0)

    add_1e3, welford_1e3 = add_cost(1_000, reps, rng)
    add_1e6, _ = add_cost(1_000_000, reps, rng)
    merge_10 = merge_cost(10, 5 if args.quick else 15, rng)
    merge_10k = merge_cost(10_000, 5 if args.quick else 15, rng)
    err_exact, err_welford = accuracy(rng, 20_000 if args.quick else 100_000)
    order_exact, order_welford = order_independent(rng)
    mel_rt = mel_speed(3 if args.quick else 7)
    denoise_s = denoise_cost(2 if args.quick else 5)

    result = {
        "add_us_at_1e3": round(add_1e3 * 1e6, 2),
        "add_us_at_1e6": round(add_1e6 * 1e6, 2),
        "add_ratio_1e6_1e3": round(add_1e6 / add_1e3, 3),
        "welford_add_us": round(welford_1e3 * 1e6, 2),
        "merge_batch_us_at_10": round(merge_10 * 1e6, 1),
        "merge_batch_us_at_10000": round(merge_10k * 1e6, 1),
        "merge_ratio_10000_10": round(merge_10k / merge_10, 3),
        "exact_vs_welford_cost": round(add_1e3 / welford_1e3, 3),
        "exact_add_vs_denoise": round(add_1e3 / denoise_s, 5),
        "denoise_5s_voice_ms": round(denoise_s * 1e3, 1),
        "mel_x_realtime_per_core": round(mel_rt, 1),
        "max_rel_err_exact": float(f"{err_exact:.3e}"),
        "max_rel_err_welford": float(f"{err_welford:.3e}"),
        "order_independent": order_exact,
        "order_independent_welford": order_welford,
        "quick": args.quick,
    }
    width = max(map(len, result))
    for k, v in result.items():
        print(f"{k.ljust(width)}  {v}")
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / ("stats_quick.json" if args.quick else "stats.json")).write_text(
        json.dumps(result, indent=1) + "\n"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
