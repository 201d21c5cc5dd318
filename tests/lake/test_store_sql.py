"""`voxlake sql` on a lake on an object store (an S3 API server on loopback: moto): the
same answers as on the local lake, read through the store's fsspec filesystem, and the
same confinement (nothing outside <lake>/tables/, no writes)."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from voxlake.lake import catalog
from voxlake.lake.objectstore import StoreAccessError, StoreConfig
from voxlake.lake.remote import StoreLake
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


def test_a_batch_whose_parts_do_not_match_its_commit_is_left_out_whole(
    s3: S3Server, processed_lake: Lake, tmp_path: Path
) -> None:
    """A worker killed while rewriting a batch has replaced some of its parts and not its
    commit: readers see none of that batch (not old rows of one table beside new rows of
    another) until a rerun commits it."""
    import obstore

    from voxlake.lake.objectstore import open_store

    uri = s3.uri("lakes/half-written")
    copy = tmp_path / "lake"
    shutil.copytree(processed_lake.root / "tables", copy / "tables")
    StoreLake.of(StoreConfig(uri)).publish(Lake(copy))
    sql = "select count(*) from voices"
    assert catalog.query_store(uri, sql)[1] == catalog.query(processed_lake, sql)[1]
    batch = processed_lake.table_batches("voices")[0]
    part = f"tables/voices/batch={batch}/part.parquet"
    rows = processed_lake.read_table("voices", batch)
    buf = io.BytesIO()
    pq.write_table(rows.slice(0, 1), buf)  # a rewrite that got as far as this one part
    obstore.put(open_store(uri), part, buf.getvalue())
    for table in ("voices", "embeddings", "denoise_metrics"):
        got = catalog.query_store(uri, f"select count(*) from {table} where batch = '{batch}'")
        assert got[1] == [(0,)], table


def test_a_second_query_reads_no_footer_and_no_view_unions_by_name(
    store_lake: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from voxlake.lake import store_schemas

    reads: list[str] = []
    real_read = store_schemas._read_footer

    def read(fs: object, url: str) -> str | None:
        reads.append(url)
        return real_read(fs, url)

    unions: dict[str, bool] = {}
    real_view = catalog._create_view

    def view(con: Any, name: str, source: str, union_by_name: bool = True) -> None:
        unions[name] = union_by_name
        real_view(con, name, source, union_by_name)

    monkeypatch.setattr(store_schemas, "_read_footer", read)
    monkeypatch.setattr(catalog, "_create_view", view)
    first = catalog.query_store(store_lake, QUERIES[1])
    assert reads and unions and not any(unions.values())  # every table's files agree
    reads.clear()
    assert catalog.query_store(store_lake, QUERIES[1]) == first
    assert reads == []
