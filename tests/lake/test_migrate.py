"""`voxlake migrate`: a lake of the former layout (a Parquet file per batch, part and
table) becomes Delta tables in place, row for row and hash for hash; killed half-way and
run again, it finishes; an unmigrated lake gets a one-line message naming the command."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from voxlake.cli import main
from voxlake.lake import migrate as migration
from voxlake.lake.schemas import TABLES
from voxlake.lake.store import Lake
from voxlake.lake.tables import PART
from voxlake.repro import manifest


def _old_layout(processed: Lake, dest: Path) -> Lake:
    """The processed lake with its tables written as the former layout wrote them."""
    shutil.copytree(processed.root, dest, ignore=shutil.ignore_patterns("tables"))
    old = Lake(dest)
    for name in TABLES:
        dt = processed.tables.open(name)
        if dt is None:
            continue
        t = dt.to_pyarrow_dataset().to_table()
        for key in sorted(set(t.column(PART).to_pylist())):
            batch, part = key.split("/", 1)
            rows = t.filter(pc.equal(t.column(PART), key)).drop_columns([PART])
            folder = old.table_dir(name) / (f"batch={batch}" if batch else "")
            folder.mkdir(parents=True, exist_ok=True)
            pq.write_table(rows, folder / f"{part}.parquet")
    (dest / "catalog.duckdb").write_bytes(b"the former catalog")
    return old


def _counts(lake: Lake) -> dict[str, int]:
    return {name: lake.read_table(name).num_rows for name in TABLES}


def test_a_migration_keeps_every_row_and_hash(processed_lake: Lake, tmp_path: Path) -> None:
    old = _old_layout(processed_lake, tmp_path / "old")
    assert migration.is_old_layout(old)
    done = migration.migrate(old)
    assert done.files > 0 and not migration.is_old_layout(old)
    assert _counts(old) == _counts(processed_lake)
    assert manifest.export(old)["batches"] == manifest.export(processed_lake)["batches"]


def test_a_killed_migration_finishes_when_run_again(
    processed_lake: Lake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = _old_layout(processed_lake, tmp_path / "old")
    real = Lake.write_table
    calls = {"n": 0}

    def dies_half_way(self: Lake, *args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 7:
            raise KeyboardInterrupt("killed")
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Lake, "write_table", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        migration.migrate(old)
    monkeypatch.setattr(Lake, "write_table", real)
    assert migration.is_old_layout(old)
    migration.migrate(old)
    assert _counts(old) == _counts(processed_lake)


def test_an_old_lake_is_named_in_one_line(
    processed_lake: Lake, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = _old_layout(processed_lake, tmp_path / "old")
    with pytest.raises(SystemExit) as e:
        main(["sql", "select count(*) from voices", "--lake", str(old.root)])
    assert "voxlake migrate" in str(e.value) and "\n" not in str(e.value)
    assert main(["migrate", "--lake", str(old.root)]) == 0
    assert main(["sql", "select count(*) from voices", "--lake", str(old.root)]) == 0
