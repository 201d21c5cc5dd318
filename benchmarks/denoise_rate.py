"""Denoised audio at the source's rate (the default) against the model's 48 kHz: what the
lake stores per hour of audio, and which stage hashes change.

    python benchmarks/denoise_rate.py [--voices 24]

The demo corpus (voices at 16, 22.05, 44.1 and 48 kHz) goes through every batch stage
twice, once per `DenoiseConfig.output_rate`, with the same code. For each: the lake's
bytes by folder, the raw input's bytes, the audio hours, and its hash manifest (written
beside the JSON, under results/denoise_rate/). The comparison says which stages'
fingerprints and hashes differ. The last line is the JSON, also written to
benchmarks/results/denoise_rate.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from voxlake import pipeline
from voxlake.audio.denoise import DenoiseConfig
from voxlake.ingest import inbox, raw
from voxlake.lake.store import Lake
from voxlake.repro import manifest
from voxlake.testing import make_lake

RESULTS = Path(__file__).parent / "results"
STORED = ("audio", "features", "tables", "index", "stats")  # what the lake keeps


def _bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def run(root: Path, voices: int, rate: str) -> dict[str, Any]:
    lake = make_lake(root, voices=voices, speakers=4, bad_files=False)
    config = replace(pipeline.PipelineConfig(), denoise=DenoiseConfig(output_rate=rate))
    for m in inbox.scan_inbox(lake).new_batches:
        raw.ingest_batch(lake, m.batch)
        for stage in pipeline.BATCH_STAGES:
            pipeline.run(lake, m.batch, stage, config)
    hours = sum(lake.read_table("voices")["duration_s"].to_pylist()) / 3600
    by_folder = {name: _bytes(lake.root / name) for name in STORED if (lake.root / name).exists()}
    by_folder["audio/raw"] = _bytes(lake.root / "audio" / "raw")
    by_folder["audio/denoised"] = _bytes(lake.root / "audio" / "denoised")
    lake_bytes = sum(by_folder[name] for name in STORED if name in by_folder)
    raw_bytes = by_folder["audio/raw"]
    return {
        "audio_hours": hours,
        "lake_bytes_per_audio_hour": lake_bytes / hours,
        "raw_bytes_per_audio_hour": raw_bytes / hours,
        "lake_over_raw": lake_bytes / raw_bytes,
        "lake_bytes_by_folder": by_folder,
        "manifest": manifest.export(Lake(lake.root)),
    }


def _changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, bool]]:
    out = {}
    for batch, stages in sorted(before["batches"].items()):
        for stage, b in sorted(stages.items()):
            a = after["batches"][batch][stage]
            out[stage] = {
                "fingerprint_changed": a["fingerprint"] != b["fingerprint"],
                "hash_changed": a["stage_hash"] != b["stage_hash"],
            }
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--voices", type=int, default=24)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs = {rate: run(Path(tmp) / rate, args.voices, rate) for rate in ("model", "source")}
    out_dir = RESULTS / "denoise_rate"
    out_dir.mkdir(parents=True, exist_ok=True)
    for rate, r in runs.items():
        (out_dir / f"hashes_{rate}_rate.json").write_text(
            json.dumps(r.pop("manifest"), indent=2, sort_keys=True) + "\n"
        )
    before = json.loads((out_dir / "hashes_model_rate.json").read_text())
    after = json.loads((out_dir / "hashes_source_rate.json").read_text())
    result = {
        "voices": args.voices,
        "model_rate": runs["model"],
        "source_rate": runs["source"],
        "denoised_bytes_ratio": runs["source"]["lake_bytes_by_folder"]["audio/denoised"]
        / runs["model"]["lake_bytes_by_folder"]["audio/denoised"],
        "lake_bytes_per_audio_hour": runs["source"]["lake_bytes_per_audio_hour"],
        "raw_bytes_per_audio_hour": runs["source"]["raw_bytes_per_audio_hour"],
        "stages": _changes(before, after),
        "target_lake_over_raw": 3.0,
    }
    (RESULTS / "denoise_rate.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
