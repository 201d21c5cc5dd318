"""Voices per pool task: a batch's mel and embedding voices handed to the warm pool in
one go (as `voxlake.pipeline.hand_ahead` hands them after the denoise step), then taken
by the two stages' maps, with one voice per task (`CHUNK_MAX = 1`, the former dispatch)
and in guided chunks (`CHUNK_MAX` voices at most), alternated in pairs so that the
machine's drift falls on both alike.

    python benchmarks/pool_chunks.py [--voices 500] [--pairs 6] [--workers 2] [--chunk 8]

The voices are 1-3 s (`ladder_real.generate`, the steady benchmark's corpus), read by the
stages' own per-voice functions (`pipeline.mel_voice`, `pipeline.embed_voice`). Per pair:
each side's wall time, this process's CPU (submitting, collecting) and the machine's idle
share (/proc/stat). The results are the same either way (checked). Keys:
`wall_ratio_median` (chunked over one per task), `faster_pairs`, `cli_cpu_ms_per_voice`
and `idle_pct` per side. The last line is the JSON, also written to
benchmarks/results/pool_chunks.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fork_reuse import _cpu, paired_walls
from ladder_real import generate

from voxlake import parallel, pipeline
from voxlake.features.mel import MelConfig
from voxlake.stage import VoiceJob

RESULTS = Path(__file__).parent / "results"


def one_side(mel: list[VoiceJob], embed: list[VoiceJob], workers: int) -> tuple[list[Any], ...]:
    """Both stages' voices handed over ahead, then each stage's map takes its own."""
    parallel.submit_ahead(pipeline.mel_voice, mel, workers)
    parallel.submit_ahead(pipeline.embed_voice, embed, workers)
    return (
        parallel.map_voices(pipeline.mel_voice, mel, workers),
        parallel.map_voices(pipeline.embed_voice, embed, workers),
    )


def _digest(results: tuple[list[Any], ...]) -> list[tuple[str, str]]:
    return [(r.voice_id, r.content_hash) for side in results for r in side]


def measure(tmp: Path, voices: int, pairs: int, workers: int, chunk: int) -> dict[str, Any]:
    speech = generate(tmp / "src", voices, (1.0, 3.0), tag="-pool-chunks")
    files = sorted((tmp / "src").rglob("*.wav"))
    (tmp / "mel").mkdir()
    mel = [
        VoiceJob(f"v{i:05d}", str(f), str(tmp / "mel" / f"{i}.npy"), MelConfig())
        for i, f in enumerate(files)
    ]
    embed = [VoiceJob(f"v{i:05d}", str(f), "", "ge2e") for i, f in enumerate(files)]
    sides = {"per_voice": 1, "chunked": chunk}
    runs: dict[str, list[dict[str, float]]] = {s: [] for s in sides}
    digests: dict[str, list[tuple[str, str]]] = {}
    parallel.work_ahead(True)
    try:
        one_side(mel[:20], embed[:20], workers)  # the pool started, its models loaded
        for k in range(pairs):
            for side in list(sides) if k % 2 == 0 else list(sides)[::-1]:
                parallel.CHUNK_MAX = sides[side]
                c0, p0, t0 = _cpu(), time.process_time(), time.perf_counter()
                digests[side] = _digest(one_side(mel, embed, workers))
                wall, cpu, used = time.perf_counter() - t0, time.process_time() - p0, _cpu() - c0
                runs[side].append({"wall_s": wall, "cli_s": cpu, "idle": used[2] / used.sum()})
                print(f"pair {k + 1} {side}: {wall:.2f} s", file=sys.stderr, flush=True)
    finally:
        parallel.work_ahead(False)
        parallel.close_pools()
    if digests["chunked"] != digests["per_voice"]:
        raise SystemExit("the two dispatches gave different results")
    n = 2 * len(files)  # tasks of one side: a mel and an embedding per voice
    return {
        "voices": len(files),
        "speech": speech,
        "seconds": [1.0, 3.0],
        "workers": workers,
        "chunk_max": chunk,
        "pairs": pairs,
        **paired_walls(runs, "chunked", "per_voice"),
        "cli_cpu_ms_per_voice": {
            s: round(1000 * statistics.median(r["cli_s"] for r in v) / n, 3)
            for s, v in runs.items()
        },
        "idle_pct": {
            s: round(100 * statistics.median(r["idle"] for r in v), 2) for s, v in runs.items()
        },
        "same_results": True,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--voices", type=int, default=500)
    ap.add_argument("--pairs", type=int, default=6)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=parallel.CHUNK_MAX)
    ap.add_argument("--out", type=Path, default=RESULTS / "pool_chunks.json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="voxlake-pool-chunks-") as tmp:
        result = measure(Path(tmp), args.voices, args.pairs, args.workers, args.chunk)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
