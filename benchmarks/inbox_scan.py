"""The inbox scan at lake sizes of 10^4 to 10^6 voices: reading every manifest (before)
against the keyed seen-index (`voxlake.ingest.seen`), for an inbox of 500 new files.

    python benchmarks/inbox_scan.py [--sizes 10000 100000 1000000]

Each lake holds synthetic manifests, 500 files to a batch. "before" is the old scan's
reading of every manifest into its seen-set; "scan" is `scan_inbox` with its index warm
(the first scan after an upgrade builds it once: "first"); both scans hash 500 new
files. The last line is the JSON, also written to benchmarks/results/inbox_scan.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from voxlake.ingest.inbox import (
    InboxFile,
    Manifest,
    list_batches,
    manifest_path,
    read_manifest,
    scan_inbox,
)
from voxlake.lake.store import Lake, atomic_write_json

RESULTS = Path(__file__).parent / "results"


def build(root: Path, n: int) -> Lake:
    lake = Lake(root).ensure()
    rng = np.random.default_rng(n)
    for b in range(n // 500):
        files = tuple(
            InboxFile(f"old/{b}/{i}.wav", 32044, 10**18 + i, rng.bytes(32).hex())
            for i in range(500)
        )
        m = Manifest(f"{b + 1:06d}-synthetic", files, "2026-01-01T00:00:00+00:00")
        atomic_write_json(manifest_path(lake, m.batch), m.to_json())
    _new_files(lake, "new")
    return lake


def _new_files(lake: Lake, name: str) -> None:
    for i in range(500):
        x = np.random.default_rng([i, len(name)]).normal(0, 0.1, 1600).astype(np.float32)
        sf.write(lake.inbox / f"{name}_{i:03d}.wav", x, 16000, subtype="PCM_16")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    args = ap.parse_args()
    out = {}
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as d:
            lake = build(Path(d) / "lake", n)
            t0 = time.perf_counter()
            existing = [read_manifest(lake, b) for b in list_batches(lake)]
            seen = {f.key() for m in existing for f in m.files}
            before = time.perf_counter() - t0
            del existing, seen
            t0 = time.perf_counter()
            scan_inbox(lake)  # the first scan after an upgrade builds the index once
            first = time.perf_counter() - t0
            _new_files(lake, "more")  # 500 more new files: a scan with the index warm
            t0 = time.perf_counter()
            scan_inbox(lake)
            warm = time.perf_counter() - t0
            out[str(n)] = {"before_read_manifests_s": before, "first_s": first, "scan_s": warm}
            print(n, out[str(n)], file=sys.stderr)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "inbox_scan.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
