"""Ingest from a corpus manifest against ingest from a folder, on the same generated files.

    python benchmarks/ingest_manifests.py [--voices 100000]

The corpus: N distinct short WAV files (0.6 s at 8 kHz, 1,000 to a folder), generated
here, and a NeMo manifest naming each with a transcript and a speaker. "ingest" is the
command plus the raw stage up to the `voices` rows:
- folder: `reference_files` of the corpus folder, the inbox scan, `ingest_batch` of each
  batch (what `voxlake ingest DIR && voxlake run` does before the denoiser);
- manifest: `ingest_source(nemo)` of the manifest, then the same scan and raw stage (it
  also writes the `transcripts` rows).
Each arm runs in a process of its own, into a fresh lake, so that its peak RSS is its own.
The last line is the JSON, also written to benchmarks/results/ingest_manifests.json
(ingest_manifests_quick.json below 100,000 voices).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

RESULTS = Path(__file__).parent / "results"
RATE, SECONDS, PER_FOLDER = 8000, 0.6, 1000


def build_corpus(root: Path, n: int) -> Path:
    """N distinct files (a few generated voices, each file marked by its index) and a NeMo
    manifest of them; returns the manifest."""
    from voxlake.testing.hostile import speech

    templates = [speech(RATE, SECONDS, seed) for seed in range(16)]
    manifest = root / "manifest.json"
    root.mkdir(parents=True, exist_ok=True)
    with open(manifest, "w") as out:
        for k in range(n):
            x = templates[k % 16].copy()
            x[:32] += np.unpackbits(np.array([k], ">u4").view(np.uint8)).astype(np.float32) / 512
            path = root / "clips" / f"{k // PER_FOLDER:04d}" / f"{k:07d}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, x, RATE, subtype="PCM_16")
            row = {
                "audio_filepath": str(path),
                "duration": SECONDS,
                "text": f"utterance number {k}",
                "speaker": f"spk{k % 200:03d}",
            }
            out.write(json.dumps(row) + "\n")
    return manifest


def run_arm(arm: str, corpus: Path, lake_root: Path) -> dict[str, float]:
    from voxlake.ingest import inbox, raw
    from voxlake.ingest.from_source import ingest_source
    from voxlake.ingest.references import reference_files
    from voxlake.lake.store import Lake

    lake = Lake(lake_root).ensure()
    t0 = time.perf_counter()
    if arm == "folder":
        reference_files(lake, [corpus / "clips"])
    else:
        ingest_source(lake, "nemo", corpus / "manifest.json")
    t_ingest = time.perf_counter() - t0
    batches = [m.batch for m in inbox.scan_inbox(lake).new_batches]
    for b in batches:
        raw.ingest_batch(lake, b)
    seconds = time.perf_counter() - t0
    voices = lake.read_table("voices").num_rows
    return {
        "seconds": seconds,
        "ingest_command_s": t_ingest,
        "voices": voices,
        "batches": len(batches),
        "voices_per_s": voices / seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _median_run(runs: list[dict[str, float]]) -> dict[str, float]:
    """The run of median speed (an upper median for an even count)."""
    return sorted(runs, key=lambda r: r["voices_per_s"])[len(runs) // 2]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--voices", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=2, help="runs of each arm (medians)")
    ap.add_argument("--arm", choices=["folder", "manifest"])
    ap.add_argument("--corpus", type=Path)
    ap.add_argument("--lake", type=Path)
    args = ap.parse_args()
    if args.arm:  # one arm, in its own process
        print(json.dumps(run_arm(args.arm, args.corpus, args.lake)))
        return
    with tempfile.TemporaryDirectory(prefix="ingest-manifests-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        build_corpus(root / "corpus", args.voices)
        print(f"corpus of {args.voices} files in {time.perf_counter() - t0:.0f} s", flush=True)
        runs: dict[str, list[dict[str, float]]] = {"folder": [], "manifest": []}
        order = ["folder", "manifest", "manifest", "folder"] * args.rounds  # ABBA: fair caches
        for i, arm in enumerate(order[: 2 * args.rounds]):
            cmd = [sys.executable, __file__, "--arm", arm, "--corpus", str(root / "corpus")]
            done = subprocess.run(
                [*cmd, "--lake", str(root / f"lake-{i}")],
                check=True,
                capture_output=True,
                text=True,
            )
            runs[arm].append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(arm, json.dumps(runs[arm][-1]), flush=True)
    arms = {arm: _median_run(r) for arm, r in runs.items()}
    result = {
        "voices": args.voices,
        "rounds": args.rounds,
        "folder": arms["folder"],
        "manifest": arms["manifest"],
        "runs": runs,
        "manifest_ingest_ratio": arms["manifest"]["voices_per_s"] / arms["folder"]["voices_per_s"],
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs["manifest"]),
        "targets": {"manifest_ingest_ratio": 0.8, "peak_rss_mb": 1000},
    }
    RESULTS.mkdir(exist_ok=True)
    name = "ingest_manifests.json" if args.voices >= 100_000 else "ingest_manifests_quick.json"
    (RESULTS / name).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
