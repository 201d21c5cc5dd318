"""`voxlake sql` on a lake on an object store (an S3 API server on loopback: moto): the
same answers as on the local lake, read through the store's fsspec filesystem, and the
same confinement (nothing outside <lake>/tables/, no writes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from voxlake.lake import catalog
from voxlake.lake.objectstore import StoreAccessError
from voxlake.lake.store import Lake
from voxlake.testing.s3 import S3Server, s3_server, upload_tree

QUERIES = [
    "select count(*) as n from voices",
    "select batch, inputs, voices, rejected, duplicates, status from batch_summary order by 1",
    "select v.voice_id, e.embedder, e.vector from voices v join embeddings e using (voice_id)"
    " order by 1",
    "select count(*) from stage_hashes",
]


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with s3_server() as server:
        yield server


@pytest.fixture(scope="module")
def store_lake(s3: S3Server, processed_lake: Lake) -> str:
    uri = s3.uri("lakes/processed")
    assert upload_tree(processed_lake.root, uri, "tables") > 0
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
