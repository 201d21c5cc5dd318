"""Shard export throughput against `tar` of the same stored audio files (issue: sharded exports).

A template lake (generated voices through every batch stage) is cloned into a lake of N
voices (default 10,000): each clone gets its own id and its own copy of a template voice's
denoised FLAC, so the export reads N distinct files, as on a real lake. Then, in rounds,
side by side on the same disk:
- the baseline: `tar -cf` of the lake's `audio/denoised` folder into one archive, then an
  fsync of it (an export's shards are fsynced before they are published);
- `export_shards` in each format (webdataset, hf-parquet, lhotse-shar), the whole call as a
  user runs it: the SQL selection, the plan, writing, hashing, the manifest.

Reported: voices/s and MB/s (of audio) for each, and each format's speed over tar's
(`ratio_to_tar`; target >= 0.8 for webdataset and hf-parquet), medians over the rounds.
Writes `benchmarks/results/export_shards.json`.

    python benchmarks/export_shards.py [--voices 10000] [--rounds 3] [--workers 2]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from voxlake.export.shards import DEFAULT_WORKERS

RESULTS = Path(__file__).parent / "results"
FORMATS = ("webdataset", "hf-parquet", "lhotse-shar")
BATCH = 500


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def template(root: Path) -> Any:
    from voxlake.lake.store import Lake
    from voxlake.testing import make_lake, process_all

    if not (root / "tables" / "denoise_metrics").exists():
        shutil.rmtree(root, ignore_errors=True)
        log("making the template: 24 generated voices through every batch stage")
        process_all(make_lake(root, voices=24, speakers=6, bad_files=False))
    return Lake(root)


def _set(t: pa.Table, name: str, values: list[Any]) -> pa.Table:
    i = t.schema.get_field_index(name)
    return t.set_column(i, name, pa.array(values, t.schema.field(name).type))


def clone(src: Any, root: Path, n: int) -> Any:
    """A lake of n voices, each a copy (own id, own denoised file) of a template voice."""
    from voxlake.lake.store import Lake

    if (root / "done.json").exists() and json.loads((root / "done.json").read_text()) == n:
        return Lake(root)
    shutil.rmtree(root, ignore_errors=True)
    lake = Lake(root).ensure()
    voices = src.read_table("voices")
    metrics = src.read_table("denoise_metrics")
    ids = voices.column("voice_id").to_pylist()
    metrics = metrics.take(
        pc.index_in(pa.array(ids), metrics.column("voice_id")).to_pylist()  # type: ignore[arg-type]
    )
    for start in range(0, n, BATCH):
        batch = f"{start // BATCH + 1:06d}-bench"
        rows = list(range(start, min(n, start + BATCH)))
        pick = [k % len(ids) for k in rows]
        new_ids = [
            hashlib.blake2b(f"export-{k}".encode(), digest_size=32).hexdigest() for k in rows
        ]
        paths = []
        for vid, j in zip(new_ids, pick, strict=True):
            dst = lake.denoised_audio(vid)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src.denoised_audio(ids[j]), dst)
            paths.append(lake.relative(dst))
        v = voices.take(pick)
        v = _set(_set(v, "voice_id", new_ids), "batch", [batch] * len(rows))
        m = metrics.take(pick)
        m = _set(_set(m, "voice_id", new_ids), "batch", [batch] * len(rows))
        m = _set(m, "denoised_path", paths)
        lake.write_table("voices", v, batch)
        lake.write_table("denoise_metrics", m, batch)
        log(f"cloned {start + len(rows):,} voices")
    (root / "done.json").write_text(json.dumps(n))
    return lake


def audio_bytes(lake: Any) -> int:
    return sum(p.stat().st_size for p in (lake.root / "audio" / "denoised").rglob("*.flac"))


def run_tar(lake: Any, out: Path) -> float:
    out.mkdir(parents=True, exist_ok=True)
    archive = out / "baseline.tar"
    t0 = time.perf_counter()
    subprocess.run(["tar", "-cf", str(archive), "-C", str(lake.root), "audio/denoised"], check=True)
    fd = os.open(archive, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
    return time.perf_counter() - t0


def run_export(lake: Any, fmt: str, out: Path, workers: int) -> float:
    from voxlake.export.shards import ShardRequest, export_shards

    t0 = time.perf_counter()
    export_shards(lake, ShardRequest(fmt, out), workers=workers)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--voices", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=DEFAULT_WORKERS)
    ap.add_argument("--work", type=Path, default=Path("/tmp/voxlake-bench-export"))
    ap.add_argument("--out", type=Path, default=RESULTS / "export_shards.json")
    args = ap.parse_args()

    src = template(args.work / "template")
    lake = clone(src, args.work / "lake", args.voices)
    total = audio_bytes(lake)
    log(f"{args.voices:,} voices, {total / 1e6:,.0f} MB of denoised audio; workers {args.workers}")
    times: dict[str, list[float]] = {name: [] for name in ("tar", *FORMATS)}
    for r in range(args.rounds):
        for name in ("tar", *FORMATS):
            out = args.work / "out" / name
            shutil.rmtree(out, ignore_errors=True)
            s = run_tar(lake, out) if name == "tar" else run_export(lake, name, out, args.workers)
            shutil.rmtree(out, ignore_errors=True)
            times[name].append(s)
            log(f"round {r + 1}: {name:12s} {s:6.2f} s")
    med = {name: statistics.median(ts) for name, ts in times.items()}
    formats = {
        name: {
            "seconds_median": round(med[name], 3),
            "seconds": [round(s, 3) for s in times[name]],
            "voices_per_s": round(args.voices / med[name], 1),
            "mb_per_s": round(total / 1e6 / med[name], 1),
            **({"ratio_to_tar": round(med["tar"] / med[name], 3)} if name != "tar" else {}),
        }
        for name in times
    }
    result = {
        "voices": args.voices,
        "audio_mb": round(total / 1e6, 1),
        "rounds": args.rounds,
        "workers": args.workers,
        "cores": os.cpu_count(),
        "formats": formats,
        "target_ratio_to_tar": 0.8,
        "conditions": (
            "one shared 2-core machine; the lake's files in the page cache for every run "
            "(the clone wrote them); tar's archive fsynced as the shards are"
        ),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    for name, f in formats.items():
        ratio = f" ratio to tar {f['ratio_to_tar']:.2f}" if "ratio_to_tar" in f else ""
        log(f"{name:12s} {f['voices_per_s']:8.1f} voices/s {f['mb_per_s']:7.1f} MB/s{ratio}")
    print(json.dumps(result), file=sys.stdout)


if __name__ == "__main__":
    main()
