"""Cluster mode's instance: Dagster's runs, events and pool slots in a real PostgreSQL
server on loopback. The outputs do not depend on the instance, and the pool that keeps the
dataset-wide writers to one at a time holds across processes that share only Postgres."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from voxlake.lake.store import Lake
from voxlake.orchestration.runner import POSTGRES_ENV, _cli_tags
from voxlake.testing import cli_run, make_lake
from voxlake.testing import postgres as pg
from voxlake.testing.consistency import inconsistencies

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    if not pg.available():
        pytest.fail("PostgreSQL is not installed: `make test` installs it (apt postgresql)")
    with pg.postgres_server() as url:
        yield url


def _hashes(lake: Lake) -> list[tuple[str, str, str]]:
    rows = lake.read_table("lineage").to_pylist()
    return sorted((r["batch"], r["asset"], r["stage_hash"]) for r in rows)


def _runs(url: str) -> list[tuple[str, str]]:
    import psycopg2

    conn = psycopg2.connect(url)
    try:
        cur = conn.cursor()
        cur.execute("SELECT pipeline_name, status FROM runs ORDER BY create_timestamp")
        return [(str(a), str(b)) for a, b in cur.fetchall()]
    finally:
        conn.close()


def test_a_run_on_postgres_matches_the_embedded_run(postgres_url: str, tmp_path: Path) -> None:
    embedded = make_lake(tmp_path / "embedded", voices=4, bad_files=False)
    clustered = make_lake(tmp_path / "clustered", voices=4, bad_files=False)
    cli_run("run", lake=embedded.root)
    home = tmp_path / "pg-home"  # not inside the lake: every machine points at one Postgres
    env = {"DAGSTER_HOME": str(home), POSTGRES_ENV: postgres_url}
    cli_run("run", lake=clustered.root, env=env)
    assert "postgres" in (home / "dagster.yaml").read_text()
    assert not (home / "history").exists()  # nothing went to SQLite
    runs = _runs(postgres_url)
    assert ("ingest_batch", "SUCCESS") in runs and ("refresh_dataset", "SUCCESS") in runs
    assert _hashes(clustered) == _hashes(embedded)
    assert inconsistencies(clustered) == []


REFRESH = """
import sys
from pathlib import Path
from voxlake.lake.store import Lake
from voxlake.orchestration.runner import RunSettings, instance_for, launch
lake = Lake(sys.argv[1])
result = launch("refresh_dataset", instance_for(lake), RunSettings(str(lake.root)))
print("success" if result.success else "failed", flush=True)
"""


def test_a_pool_slot_held_on_another_machine_makes_the_global_writers_wait(
    postgres_url: str, tmp_path: Path
) -> None:
    """Another machine's writer holds the `voxlake_global` slot in Postgres (it shares no
    lock file with this one): this machine's dataset run waits, and goes on once it is
    freed."""
    lake = make_lake(tmp_path / "lake", voices=2, speakers=2, bad_files=False)
    home = tmp_path / "pg-home"
    env = {"DAGSTER_HOME": str(home), POSTGRES_ENV: postgres_url}
    cli_run("run", lake=lake.root, env=env)
    os.environ.update(env)
    try:
        instance = dg.DagsterInstance.get()
        other = dg.DagsterRun(
            job_name="refresh_dataset",
            run_id="00000000-0000-4000-8000-0000000a0a0a",
            status=dg.DagsterRunStatus.STARTED,
            tags={**_cli_tags(), "voxlake/host": "another-machine", "voxlake/pid": "1"},
        )
        instance.add_run(other)
        storage = instance.event_log_storage
        if "voxlake_global" not in storage.get_concurrency_keys():  # the first run made it
            storage.initialize_concurrency_limit_to_default("voxlake_global")
        assert storage.claim_concurrency_slot(
            "voxlake_global", other.run_id, "mel_stats"
        ).is_claimed
        refreshed = _runs(postgres_url).count(("refresh_dataset", "SUCCESS"))
        proc = subprocess.Popen(
            [sys.executable, "-c", REFRESH, str(lake.root)],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, **env},
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if storage.get_concurrency_info("voxlake_global").pending_steps:
                break  # this machine's step is queued for the slot, in Postgres
            time.sleep(0.5)
        time.sleep(2)
        assert proc.poll() is None, "the dataset run did not wait for the held slot"
        assert storage.get_concurrency_info("voxlake_global").pending_steps
        storage.free_concurrency_slots_for_run(other.run_id)
        instance.report_run_failed(other, "released by the test")
        out, _ = proc.communicate(timeout=300)
        assert out.strip().endswith("success"), out
        info = storage.get_concurrency_info("voxlake_global")
        assert info.slot_count == 1 and not info.claimed_slots
    finally:
        for k in env:
            os.environ.pop(k, None)
    assert _runs(postgres_url).count(("refresh_dataset", "SUCCESS")) == refreshed + 1
    assert inconsistencies(lake) == []
