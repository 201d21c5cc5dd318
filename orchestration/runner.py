"""In-process runs without a daemon: what `voxlake run`, `demo` and `verify` call.

The same code paths as the UI: the sensor's scan adds partitions, `materialize` runs the
assets of each pending batch, then the dataset-wide assets, on the lake's own Dagster
instance (DAGSTER_HOME, default <lake>/dagster) so that `dagster dev` shows every run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
from voxlake.assets import ALL_ASSETS, BATCH_ASSETS, GLOBAL_ASSETS
from voxlake.orchestration.partitions import voice_batches
from voxlake.orchestration.sensors import pending_partitions
from voxlake.resources import default_resources

from voxlake.ingest.inbox import list_batches
from voxlake.lake.lineage import stored_stage_hash
from voxlake.lake.store import Lake

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
PARTITIONS = voice_batches.name or "voice_batches"
Echo = Callable[[str], None]


@dataclass
class RunSummary:
    new_batches: list[str] = field(default_factory=list)
    succeeded: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


INSTANCE_YAML = """\
telemetry:
  enabled: false
concurrency:
  pools:
    default_limit: 1  # pool voxlake_global: one writer of mel_stats / voice_index at a time
"""


def ensure_home(home: Path) -> Path:
    """A Dagster home with voxlake's instance settings (kept if the user wrote their own)."""
    home.mkdir(parents=True, exist_ok=True)
    cfg = home / "dagster.yaml"
    if not cfg.exists():
        cfg.write_text(INSTANCE_YAML)
    return home


def instance_for(lake: Lake) -> dg.DagsterInstance:
    """The lake's persistent Dagster instance (DAGSTER_HOME if set, else <lake>/dagster)."""
    home = ensure_home(Path(os.environ.get("DAGSTER_HOME") or lake.root / "dagster"))
    os.environ["DAGSTER_HOME"] = str(home)
    return dg.DagsterInstance.get()


def _keys(assets: list[Any]) -> list[dg.AssetKey]:
    return [k for a in assets for k in a.keys]


def _materialize(
    instance: dg.DagsterInstance,
    resources: dict[str, Any],
    selection: list[dg.AssetKey],
    partition_key: str | None = None,
    run_config: dict[str, Any] = QUIET,
) -> dg.ExecuteInProcessResult:
    """One in-process run of `selection` (failures are reported, not raised)."""
    return dg.materialize(
        ALL_ASSETS,
        selection=selection,
        partition_key=partition_key,
        instance=instance,
        resources=resources,
        run_config=run_config,
        raise_on_error=False,
    )


def run_pending(
    lake: Lake,
    instance: dg.DagsterInstance,
    workers: int = 1,
    echo: Echo = print,
    dnsmos: bool = False,
    embedder: str = "ge2e",
    **lake_options: Any,
) -> RunSummary:
    """Scan the inbox, materialise every batch not yet through all stages, then the globals."""
    resources = default_resources(str(lake.root), workers, dnsmos, embedder, **lake_options)
    summary = RunSummary()
    lake.sweep_stale_temp()
    new = pending_partitions(instance, resources["lake"])
    if new:
        instance.add_dynamic_partitions(PARTITIONS, new)
        summary.new_batches = new
    done = set(completed_batches(lake))
    pending = [b for b in list_batches(lake) if b not in done]
    for i, batch in enumerate(pending, 1):
        echo(f"[{i}/{len(pending)}] batch {batch}: raw -> denoise -> mel -> embeddings ...")
        t0 = time.perf_counter()
        result = _materialize(instance, resources, _keys(BATCH_ASSETS), batch)
        (summary.succeeded if result.success else summary.failed).append(batch)
        echo(f"      {'done' if result.success else 'FAILED'} in {time.perf_counter() - t0:.1f} s")
    if pending or not lake.catalog_path.exists():
        echo("dataset: mel statistics and voice index ...")
        result = _materialize(instance, resources, _keys(GLOBAL_ASSETS))
        if not result.success:
            summary.failed.append("(dataset)")
    return summary


def run_verify(
    lake: Lake,
    instance: dg.DagsterInstance,
    batches: list[str] | None = None,
    runs: int = 3,
    workers: int = 1,
    check_workers: bool = False,
    echo: Echo = print,
) -> list[str]:
    """Materialise `reproducibility` for the batches (default: all completed); failed keys."""
    resources = default_resources(str(lake.root), workers)
    chosen = batches or completed_batches(lake)
    failed = []
    for i, batch in enumerate(chosen, 1):
        extra = " + the other worker count" if check_workers else ""
        echo(f"[{i}/{len(chosen)}] verifying batch {batch}: {runs} run(s){extra} ...")
        config = {
            "ops": {"reproducibility": {"config": {"runs": runs, "check_workers": check_workers}}},
            **QUIET,
        }
        result = _materialize(instance, resources, [dg.AssetKey("reproducibility")], batch, config)
        if not result.success:
            failed.append(batch)
    return failed


def completed_batches(lake: Lake) -> list[str]:
    return [b for b in list_batches(lake) if stored_stage_hash(lake, b, "voice_embeddings")]
