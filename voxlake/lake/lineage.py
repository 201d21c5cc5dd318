"""Lineage: what each stage wrote for a batch, under which fingerprint, with which hashes."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from voxlake.lake.environment import environment, environment_fingerprint
from voxlake.lake.hashing import canonical_json, stage_hash
from voxlake.lake.store import Lake


@dataclass(frozen=True)
class StageResult:
    """What one stage did for one batch (or for the whole dataset, batch "")."""

    asset: str
    batch: str
    rows: int
    stage_hash: str
    fingerprint: str
    code_version: str
    rejected: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def record_stage(
    lake: Lake,
    batch: str,
    asset: str,
    pairs: Iterable[tuple[str, str]],
    fingerprint: str,
    code_version: str,
    rows: int | None = None,
    rejected: int = 0,
    extra: dict[str, Any] | None = None,
    models: dict[str, str] | None = None,
    before_lineage: Callable[[StageResult], None] | None = None,
) -> StageResult:
    """Write a batch stage's per-voice hashes and its lineage row; return its result.

    The lineage row is what says the stage is done, so it is written last: after the
    hashes and after `before_lineage` (a stage's own batch-level outputs)."""
    pairs = sorted(pairs)
    digest = stage_hash(pairs)
    lake.write_table(
        "voice_hashes",
        [{"voice_id": v, "batch": batch, "stage": asset, "content_hash": c} for v, c in pairs],
        batch,
        part=asset,
    )
    n = len(pairs) if rows is None else rows
    result = StageResult(asset, batch, n, digest, fingerprint, code_version, rejected, extra or {})
    if before_lineage:
        before_lineage(result)
    write_lineage(lake, batch, asset, digest, fingerprint, code_version, n, models)
    return result


def write_lineage(
    lake: Lake,
    batch: str,
    asset: str,
    digest: str,
    fingerprint: str,
    code_version: str,
    rows: int,
    models: dict[str, str] | None = None,
) -> None:
    lake.write_table(
        "lineage",
        [
            {
                "batch": batch,
                "asset": asset,
                "stage_hash": digest,
                "fingerprint": fingerprint,
                "code_version": code_version,
                "rows": rows,
                "model_hashes": canonical_json(models or {}),
                "environment": canonical_json(environment()),
                "environment_fingerprint": environment_fingerprint(),
                "materialized_at": now_iso(),
            }
        ],
        batch or None,
        part=asset,
    )


def stored_stage_hash(lake: Lake, batch: str, asset: str) -> str | None:
    t = lake.tables.read("lineage", batch or None, part=asset).to_pylist()
    return next((r["stage_hash"] for r in t if r["asset"] == asset), None)
