"""Test helpers of the Dagster layer: one sensor tick on a real instance."""

from __future__ import annotations

from typing import Any

import dagster as dg

from voxlake.orchestration.sensors import voice_inbox


def sensed_batch(instance: dg.DagsterInstance, lake_resource: Any) -> str:
    """Evaluate the inbox sensor once; add its one batch as a partition (as the daemon does)."""
    result = voice_inbox(
        dg.build_sensor_context(instance=instance, resources={"lake": lake_resource})
    )
    assert isinstance(result, dg.SensorResult)
    (key,) = [r.partition_key for r in result.run_requests or []]
    assert key is not None
    instance.add_dynamic_partitions("voice_batches", [key])
    return key
