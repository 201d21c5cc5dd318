"""The raw stage's duplicate check at lake sizes of 10^4 to 10^6 voices: the old whole-table
read against the column-projected, filtered scan (`voxlake.ingest.raw.voices_elsewhere`).

    python benchmarks/duplicate_check.py [--sizes 10000 100000 1000000]

Each lake holds synthetic `voices` rows with the real schema, 500 to a batch; each check
looks up a new batch of 500 ids (10 of them already in the lake) and runs in a fresh
process, so its peak RSS is its own. The last line is the JSON, also written to
benchmarks/results/duplicate_check.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa

from voxlake.lake.schemas import TABLES
from voxlake.lake.store import Lake

RESULTS = Path(__file__).parent / "results"
CHECK = """
import json, sys, time
from voxlake.lake.store import Lake
from voxlake.ingest import raw
from voxlake.audio.stream import peak_rss_mb
lake, how = Lake(sys.argv[1]), sys.argv[2]
ids = json.loads(sys.argv[3])
t0 = time.perf_counter()
if how == "old":
    t = lake.read_table("voices")
    found = {v: b for v, b in zip(t["voice_id"].to_pylist(), t["batch"].to_pylist()) if b != "new"}
    found = {v: found[v] for v in ids if v in found}
else:
    found = raw.voices_elsewhere(lake, "new", ids)
s = time.perf_counter() - t0
print(json.dumps({"s": s, "rss_mb": int(peak_rss_mb()), "found": len(found)}))
"""


def build(root: Path, n: int) -> list[str]:
    lake = Lake(root).ensure()
    rng = np.random.default_rng(n)
    some = []
    for b in range(n // 500):
        ids = [rng.bytes(32).hex() for _ in range(500)]
        batch = f"{b + 1:06d}-synthetic"
        rows = {name: [None] * 500 for name in TABLES["voices"].names}
        rows |= {"voice_id": ids, "batch": [batch] * 500, "duration_s": [2.0] * 500}
        rows |= {"raw_path": [f"audio/raw/{i[:2]}/{i}.wav" for i in ids]}
        lake.write_table("voices", pa.table(rows, schema=TABLES["voices"]), batch)
        if b < 10:
            some.append(ids[0])
    return some


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    args = ap.parse_args()
    out = {}
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as d:
            known = build(Path(d), n)
            ids = known + [np.random.default_rng(0).bytes(32).hex() for _ in range(490)]
            row = {}
            for how in ("old", "new"):
                cmd = [sys.executable, "-c", CHECK, d, how, json.dumps(ids)]
                row[how] = json.loads(
                    subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
                )
            out[str(n)] = row
            print(n, row, file=sys.stderr)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "duplicate_check.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
