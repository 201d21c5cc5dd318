"""Dynamic partitions at scale: the inbox sensor's tick and the asset page's load time
with 10^2 to 2*10^4 batches (10^7 voices in batches of 500 is 20,000 partitions), on a
SQLite instance (the embedded default).

    python benchmarks/partitions.py [--counts 100 2000 20000]

For each count, a fresh lake and instance hold that many batches: their manifests and
dynamic partitions, and a materialization of `raw_voices` for each (runless events, as
the UI would show after the runs). Timed:
- `sensor_tick`: `voice_inbox` evaluated on the instance (build_sensor_context) with 500
  new files in the inbox: the scan, the manifest, the partition and run requests;
- `sensor_tick_idle`: the same with nothing new (what every 30 s tick costs);
- `asset_page`: the GraphQL query the asset page's partitions view makes (partition keys,
  materialized/failed/in-progress partitions, partition stats) through dagster-graphql
  on the code location loaded from workspace.yaml, the way the webserver serves it.
The last line is the JSON, also written to benchmarks/results/partitions.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results"

PAGE_QUERY = """
query AssetPartitions($assetKey: AssetKeyInput!) {
  assetNodeOrError(assetKey: $assetKey) {
    ... on AssetNode {
      id
      partitionKeysByDimension { name partitionKeys }
      partitionStats { numMaterialized numPartitions numFailed numMaterializing }
      assetPartitionStatuses {
        ... on DefaultPartitionStatuses {
          materializedPartitions failedPartitions materializingPartitions
        }
      }
    }
  }
}
"""


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def build(root: Path, count: int) -> tuple[Any, list[str]]:
    import dagster as dg

    from voxlake.ingest.inbox import InboxFile, Manifest, manifest_path
    from voxlake.lake.store import Lake, atomic_write_json

    lake = Lake(root).ensure()
    keys = [f"{b + 1:06d}-{b:08x}" for b in range(count)]
    for b, key in enumerate(keys):
        files = (InboxFile(f"old/{b}.wav", 1, 1, f"{b:064x}"),)
        atomic_write_json(
            manifest_path(lake, key), Manifest(key, files, "2026-01-01T00:00:00").to_json()
        )
    home = root / "dagster"
    home.mkdir()
    instance = dg.DagsterInstance.from_config(str(home))
    for i in range(0, count, 1000):
        instance.add_dynamic_partitions("voice_batches", keys[i : i + 1000])
    for key in keys:
        instance.report_runless_asset_event(
            dg.AssetMaterialization(asset_key="raw_voices", partition=key)
        )
    return instance, keys


def sensor_tick(root: Path, instance: Any, new_files: int) -> float:
    import dagster as dg

    from voxlake.lake.store import Lake
    from voxlake.orchestration.sensors import voice_inbox
    from voxlake.resources import LakeResource

    inbox = Lake(root).inbox
    for i in range(new_files):
        x = np.random.default_rng([i, len(str(root))]).normal(0, 0.1, 1600).astype(np.float32)
        sf.write(inbox / f"new_{time.time_ns()}_{i:03d}.wav", x, 16000, subtype="PCM_16")
    resources = {"lake": LakeResource(root=str(root))}
    with dg.build_sensor_context(instance=instance, resources=resources) as ctx:
        t0 = time.perf_counter()
        result = voice_inbox(ctx)
        elapsed = time.perf_counter() - t0
    if new_files:
        assert isinstance(result, dg.SensorResult), result
        for req in result.dynamic_partitions_requests or []:
            instance.add_dynamic_partitions("voice_batches", list(req.partition_keys or []))
    return elapsed


def asset_page(instance: Any) -> tuple[float, int]:
    from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql

    os.chdir(ROOT)
    with define_out_of_process_context(str(ROOT / "workspace.yaml"), None, instance) as ctx:
        times, n = [], 0
        for _ in range(3):
            t0 = time.perf_counter()
            res = execute_dagster_graphql(ctx, PAGE_QUERY, {"assetKey": {"path": ["raw_voices"]}})
            times.append(time.perf_counter() - t0)
            assert not res.errors, res.errors
            node = res.data["assetNodeOrError"]
            n = node["partitionStats"]["numMaterialized"]
    return statistics.median(times), n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--counts", type=int, nargs="+", default=[100, 2000, 20000])
    args = ap.parse_args()
    os.environ.setdefault("VOXLAKE_PROGRESS", "off")
    out: dict[str, Any] = {"instance": "sqlite", "sizes": {}}
    for count in args.counts:
        root = Path(tempfile.mkdtemp(prefix="voxlake-partitions-"))
        try:
            t0 = time.perf_counter()
            instance, _ = build(root, count)
            built = time.perf_counter() - t0
            sensor_tick(root, instance, 0)  # the seen-index's first catch-up, left out
            tick = sensor_tick(root, instance, 500)
            idle = statistics.median(sensor_tick(root, instance, 0) for _ in range(3))
            page, materialized = asset_page(instance)
            out["sizes"][str(count)] = {
                "build_s": round(built, 1),
                "sensor_tick_s": round(tick, 3),
                "sensor_tick_idle_s": round(idle, 3),
                "asset_page_s": round(page, 3),
                "materialized_shown": materialized,
            }
            log(f"{count} partitions: {out['sizes'][str(count)]}")
        finally:
            shutil.rmtree(root, ignore_errors=True)
    RESULTS.mkdir(exist_ok=True)
    quick = max(args.counts) < 20000
    (RESULTS / ("partitions_quick.json" if quick else "partitions.json")).write_text(
        json.dumps(out, indent=2) + "\n"
    )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
