"""Split a py-spy profile of `voxlake run` into what the CPU time went to.

    py-spy record --subprocesses --rate 50 --format raw -o run.txt -- \
        python -m voxlake.cli run --lake LAKE --workers 2
    python benchmarks/profile_split.py run.txt [--rate 50]

Each sample is counted once, in the first row whose frame its stack contains; the last
row takes the rest (Dagster, the instance, waiting threads).
"""

from __future__ import annotations

import argparse
import collections
from pathlib import Path

ROWS = [
    ("worker: DeepFilterNet3 runtime (process_frames)", ["DeepFilterRuntime.process_frames"]),
    (
        "worker: denoise, the rest (decode, resample, FLAC write + read-back hash, "
        "floor depth, fork)",
        ["denoise_voice"],
    ),
    ("worker: GE2E encoder load (once per worker)", ["_encoder (voxlake/embed/ge2e.py"]),
    ("worker: GE2E embedding (network + front end)", ["embed (voxlake/embed/ge2e.py"]),
    ("worker: embedding stage, the rest (decode, resample)", ["embed_voice"]),
    ("worker: mel stage (decode, resample, log-mel, write)", ["mel_voice"]),
    ("worker: start (spawn, torch import)", ["_init_worker"]),
    ("main: great_expectations import", ["<module> (great_expectations/__init__.py"]),
    ("main: GX validations + Data Docs pages", ["gx_check"]),
    ("main: voice index sync (LanceDB import + writes)", ["sync (voxlake/embed/index_writer.py"]),
    ("main: raw stage (hash, measure, copy)", ["ingest_batch"]),
    ("main: denoise picture (metadata plot)", ["denoise_picture"]),
    ("main: CLI start (imports, parser)", ["parser (voxlake/cli", "<module> (voxlake/cli/run.py"]),
    ("the rest: Dagster, the instance, waiting threads", [""]),
]


def split(lines: list[str]) -> collections.Counter[str]:
    out: collections.Counter[str] = collections.Counter()
    for line in lines:
        stack, n = line.rstrip("\n").rsplit(" ", 1)
        name = next(name for name, keys in ROWS if any(k in stack for k in keys))
        out[name] += int(n)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("raw", type=Path)
    ap.add_argument("--rate", type=int, default=50)
    args = ap.parse_args()
    out = split(args.raw.read_text().splitlines())
    print(f"{'what':<100} CPU s")
    for name, _ in ROWS:
        print(f"{name:<100} {out[name] / args.rate:6.1f}")
    print(f"{'total sampled':<100} {sum(out.values()) / args.rate:6.1f}")


if __name__ == "__main__":
    main()
