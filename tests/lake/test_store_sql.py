"""`voxlake sql` on a lake on an object store (an S3 API server on loopback: moto): the
same answers as on the local lake, the Delta tables read in place by delta-rs, and the
same confinement (no file of the query's choosing, no writes)."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from voxlake.lake import catalog
from voxlake.lake.objectstore import StoreAccessError, StoreConfig
from voxlake.lake.objectstore.remote import StoreLake
from voxlake.lake.store import Lake
from voxlake.testing.s3 import S3Server

QUERIES = [
    "select count(*) as n from voices",
    "select batch, inputs, voices, rejected, duplicates, status from batch_summary order by 1",
    "select v.voice_id, e.embedder, e.vector from voices v join embeddings e using (voice_id)"
    " order by 1",
    "select count(*) from stage_hashes",
]


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The store's schema cache in the test's folder, not the user's."""
    monkeypatch.setenv("VOXLAKE_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def store_lake(s3: S3Server, processed_lake: Lake, tmp_path_factory: pytest.TempPathFactory) -> str:
    uri = s3.uri("lakes/processed")
    copy = tmp_path_factory.mktemp("published") / "lake"
    shutil.copytree(processed_lake.root / "tables", copy / "tables")
    assert StoreLake.of(StoreConfig(uri)).publish(Lake(copy)) > 0  # parts, then commits
    return uri


@pytest.mark.parametrize("sql", QUERIES)
def test_the_store_lake_answers_as_the_local_one(
    store_lake: str, processed_lake: Lake, sql: str
) -> None:
    remote = catalog.query_store(store_lake, sql)
    assert remote == catalog.query(processed_lake, sql)
    assert remote[1]  # not an empty answer


def test_the_cli_reads_the_store_lake(store_lake: str, processed_lake: Lake) -> None:
    sql = "select voice_id from voices order by 1"
    out = subprocess.run(
        [sys.executable, "-m", "voxlake.cli", "sql", sql, "--lake", store_lake, "--format", "json"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    ids = [r["voice_id"] for r in json.loads(out.stdout)]
    assert ids == sorted(processed_lake.read_table("voices")["voice_id"].to_pylist())


def test_the_store_lake_is_confined_to_its_tables(s3: S3Server, store_lake: str) -> None:
    elsewhere = f"select * from read_parquet('{s3.uri('lakes/other')}/tables/x.parquet')"
    with pytest.raises(catalog.RefusedQuery, match="confined"):
        catalog.query_store(store_lake, elsewhere)
    with pytest.raises(catalog.RefusedQuery, match="confined"):
        catalog.query_store(store_lake, "select * from read_csv('/etc/passwd')")
    with pytest.raises(catalog.RefusedQuery, match="refused"):
        catalog.query_store(store_lake, "create table t as select 1")


def test_wrong_credentials_are_one_line_at_start(
    store_lake: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    with pytest.raises(StoreAccessError, match="refused these credentials"):
        catalog.query_store(store_lake, "select 1")
    out = subprocess.run(
        [sys.executable, "-m", "voxlake.cli", "sql", "select 1", "--lake", store_lake],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 1
    assert "refused these credentials" in out.stderr and "Traceback" not in out.stderr


def test_a_data_file_no_commit_names_is_never_read(
    s3: S3Server, processed_lake: Lake, tmp_path: Path
) -> None:
    """A worker killed after writing a data file and before its commit: readers of the
    store see the committed snapshot only, never the stray file."""
    import obstore

    from voxlake.lake.objectstore import open_store

    uri = s3.uri("lakes/half-written")
    copy = tmp_path / "lake"
    shutil.copytree(processed_lake.root / "tables", copy / "tables")
    StoreLake.of(StoreConfig(uri)).publish(Lake(copy))
    sql = "select count(*) from voices"
    want = catalog.query(processed_lake, sql)[1]
    batch = processed_lake.table_batches("voices")[0]
    buf = io.BytesIO()
    pq.write_table(processed_lake.read_table("voices", batch).slice(0, 1), buf)
    obstore.put(open_store(uri), "tables/voices/part-stray-never-committed.parquet", buf.getvalue())
    assert catalog.query_store(uri, sql)[1] == want
