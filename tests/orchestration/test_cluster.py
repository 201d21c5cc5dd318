"""Cluster mode end to end (`make cluster-test`): PostgreSQL, Redis and an S3 API server
(moto: an emulator, since no real object store can be installed here) on loopback, the
Dagster daemon and two Celery workers, each its own process tree with its own folders.
Three batches land in the store's inbox; one worker is SIGKILLed in the middle of the
first batch. The lake must come out equal to an embedded run on the same files. Then an
`export_shards` run spreads its steps over two step workers (the Celery executor), and its
shards must be those of the same export of the embedded lake."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from voxlake.testing import postgres as pg
from voxlake.testing import redis as rd

pytestmark = pytest.mark.slow
SCRIPT = Path(__file__).parents[2] / "benchmarks" / "cluster.py"


def test_a_cluster_with_a_killed_worker_gives_the_embedded_lake(tmp_path: Path) -> None:
    if not (pg.available() and rd.available()):
        pytest.fail("PostgreSQL or Redis is not installed: `make test` installs both (apt)")
    out = tmp_path / "cluster.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out), "--timeout", "600"],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert proc.stdout.strip(), proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert proc.returncode == 0, json.dumps(result, indent=1) + proc.stderr[-3000:]
    assert result == json.loads(out.read_text())
    assert result["workers"] == 2 and result["rounds"] == 3 and result["batches"] >= 3
    assert result["voices"] > 0 and result["problems"] == []
    assert result["identical_to_embedded"] is True
    assert result["globals_consistent"] is True
    assert result["worker_killed_recovered"] is True
    assert result["runs"]["resumed"] + result["runs"]["retried"] >= 1  # the engine recovered
    assert "moto" in result["s3_lake"] and "PostgreSQL" in result["postgres"]
    export = result["export"]  # export_shards on the Celery executor, over two step workers
    assert export["status"] == "SUCCESS" and export["shards"] == result["voices"]
    assert len(export["step_workers"]) == 2  # both step workers wrote shards
    assert export["identical_to_embedded"] is True
