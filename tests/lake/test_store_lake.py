"""A lake on an object store (an S3 API server on loopback: moto), worked by the same
Dagster jobs as a local lake: the inbox scan, every batch stage and the dataset-wide
assets pull the files they read into a working copy and push what they wrote; the tables
are Delta tables on the store. The outputs are the embedded run's, hash for hash."""

from __future__ import annotations

from pathlib import Path

import obstore
import pytest

from voxlake.lake.objectstore import StoreConfig, open_store
from voxlake.lake.objectstore.remote import StoreLake
from voxlake.lake.store import Lake
from voxlake.orchestration.runner import RunSettings, launch
from voxlake.orchestration.sensors import pending_partitions
from voxlake.repro import manifest
from voxlake.resources import LakeResource
from voxlake.testing import make_lake
from voxlake.testing.s3 import S3Server, upload_tree

pytestmark = pytest.mark.slow


def _run_all(root: str, instance: object) -> list[str]:
    import dagster as dg

    assert isinstance(instance, dg.DagsterInstance)
    batches = pending_partitions(instance, LakeResource(root=root))
    instance.add_dynamic_partitions("voice_batches", batches)
    settings = RunSettings(root)
    for b in batches:
        assert launch("ingest_batch", instance, settings, b).success
    assert launch("refresh_dataset", instance, settings).success
    return batches


def _stage_hashes(lake: Lake) -> dict[str, object]:
    m = manifest.export(lake)
    return {"batches": m["batches"], "dataset": m["dataset"]}


def test_a_store_lake_gives_the_embedded_hashes(
    s3: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dagster as dg

    for k, v in s3.env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("VOXLAKE_CACHE", str(tmp_path / "cache"))
    local = make_lake(tmp_path / "local", voices=4, bad_files=True)
    uri = s3.uri("lakes/one")
    assert upload_tree(local.root, uri, "inbox") > 0
    with dg.instance_for_test() as instance:
        local_batches = _run_all(str(local.root), instance)
    with dg.instance_for_test() as instance:
        store_batches = _run_all(uri, instance)
    assert store_batches == local_batches

    lake = StoreLake.of(StoreConfig(uri), tmp_path / "cache")
    copy = lake.snapshot(tmp_path / "snapshot")
    assert _stage_hashes(copy) == _stage_hashes(local)
    assert copy.read_table("voices").num_rows == local.read_table("voices").num_rows > 0
    assert copy.read_table("rejected").num_rows == local.read_table("rejected").num_rows > 0

    # Every table is a Delta table on the store, each batch's rows there once.
    store = open_store(uri)
    tables = {m["path"].split("/")[1] for c in obstore.list(store, "tables/") for m in c}
    assert {"voices", "lineage", "embeddings"} <= tables
    voices = copy.read_table("voices").column("voice_id").to_pylist()
    assert len(voices) == len(set(voices))
    # The index's Lance data is on the store, written in place: no step's working copy
    # holds any of it, only the index's state beside it.
    lance = [m["path"] for c in obstore.list(store, "index/voices.lance/") for m in c]
    assert any(p.endswith(".lance") for p in lance)
    slots = list((tmp_path / "cache").glob("*/slot-*"))
    held = {p.relative_to(s / "index").as_posix() for s in slots for p in (s / "index").rglob("*")}
    assert slots and held <= {"_state.json", "_ann.json"}, held
    # Nothing machine-local went to the store.
    names = {m["path"].split("/", 1)[0] for c in obstore.list(store) for m in c}
    assert names <= {
        "inbox",
        "batches",
        "tables",
        "audio",
        "features",
        "stats",
        "index",
        "quality",
        "_leases",
        "lineage",
    }, names


def test_the_cli_pulls_a_store_lake_and_checks_the_copy(
    s3: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`voxlake cluster publish` moves a local lake onto the store; `cluster pull` brings
    its committed state back, where `doctor` finds it whole; a command that needs a local
    lake says how to get one."""
    import subprocess
    import sys

    import dagster as dg

    from voxlake.testing import cli_process

    for k, v in s3.env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("VOXLAKE_CACHE", str(tmp_path / "cache"))
    local = make_lake(tmp_path / "local", voices=3, bad_files=False)
    with dg.instance_for_test() as instance:
        _run_all(str(local.root), instance)
    uri = s3.uri("lakes/published")

    def voxlake(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "voxlake.cli", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=600)

    out = voxlake("cluster", "publish", "--lake", str(local.root), "--to", uri)
    assert out.returncode == 0 and "objects sent" in out.stdout, out.stderr[-2000:]
    dest = tmp_path / "pulled"
    out = voxlake("cluster", "pull", str(dest), "--lake", uri, "--audio")
    assert out.returncode == 0 and "1 batches" in out.stdout, out.stderr[-2000:]
    assert _stage_hashes(Lake(dest)) == _stage_hashes(local)
    doctor = cli_process("doctor", lake=dest)
    stdout, stderr = doctor.communicate(timeout=600)
    assert doctor.returncode == 0 and "healthy" in stdout, stdout + stderr
    refused = voxlake("doctor", "--lake", uri)
    assert refused.returncode != 0 and "voxlake cluster pull" in refused.stderr
