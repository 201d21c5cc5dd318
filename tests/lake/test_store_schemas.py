"""The store lake's schema cache: footers read once per object and ETag, and a table is
called uniform only when every file's schema is known and the same."""

from __future__ import annotations

from pathlib import Path

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from voxlake.lake import store_schemas
from voxlake.lake.store_schemas import uniform


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    real = store_schemas._read_footer

    def counting(fs: object, url: str) -> str | None:
        seen.append(url.rsplit("/", 1)[-1])
        return real(fs, url)

    monkeypatch.setattr(store_schemas, "_read_footer", counting)
    return seen


def _lake(root: Path) -> None:
    (root / "tables" / "t").mkdir(parents=True)
    new = pa.table({"voice_id": ["a"], "x": [1.0]})
    pq.write_table(new, root / "tables" / "t" / "a.parquet")
    pq.write_table(new, root / "tables" / "t" / "b.parquet")
    pq.write_table(new.drop_columns(["x"]), root / "tables" / "t" / "old.parquet")
    (root / "tables" / "t" / "bad.parquet").write_bytes(b"not parquet")


def test_footers_are_read_once_per_etag(tmp_path: Path, reads: list[str]) -> None:
    root, cache, fs = tmp_path / "lake", tmp_path / "cache", fsspec.filesystem("file")
    _lake(root)
    files = [("tables/t/a.parquet", "e1"), ("tables/t/b.parquet", "e2")]
    first = store_schemas.store_schemas(str(root), files, fs, cache)
    assert sorted(reads) == ["a.parquet", "b.parquet"] and uniform(first.values())
    reads.clear()
    assert store_schemas.store_schemas(str(root), files, fs, cache) == first
    assert reads == []  # nothing new: no footer read
    files[1] = ("tables/t/b.parquet", "e2-rewritten")
    store_schemas.store_schemas(str(root), files, fs, cache)
    assert reads == ["b.parquet"]  # only the object whose ETag changed
    reads.clear()
    store_schemas.store_schemas(str(root), files[:1], fs, cache)
    store_schemas.store_schemas(str(root), files, fs, cache)
    assert reads == ["b.parquet"]  # dropped from the listing, so dropped from the cache


def test_a_table_is_uniform_only_when_every_schema_is_known_and_equal(
    tmp_path: Path, reads: list[str]
) -> None:
    root, cache, fs = tmp_path / "lake", tmp_path / "cache", fsspec.filesystem("file")
    _lake(root)
    found = store_schemas.store_schemas(
        str(root),
        [
            ("tables/t/a.parquet", "e1"),
            ("tables/t/old.parquet", "e2"),
            ("tables/t/bad.parquet", "e3"),
            ("tables/t/b.parquet", ""),  # listed without an ETag
        ],
        fs,
        cache,
    )
    assert found["tables/t/bad.parquet"] is None
    assert not uniform(found.values())
    assert not uniform([found["tables/t/a.parquet"], found["tables/t/old.parquet"]])
    assert uniform([found["tables/t/a.parquet"], found["tables/t/b.parquet"]])
    reads.clear()
    store_schemas.store_schemas(str(root), [("tables/t/b.parquet", "")], fs, cache)
    assert reads == ["b.parquet"]  # no ETag: never trusted from the cache
