"""Commands run in-process on a copy of a processed lake (fast; no pipeline run)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from voxlake.cli import main
from voxlake.lake.store import Lake


@pytest.fixture
def lake(processed_lake: Lake, tmp_path: Path) -> Lake:
    copy = Lake(tmp_path / "lake")
    shutil.copytree(processed_lake.root, copy.root)
    return copy


def test_forgetting_an_unknown_voice_says_nothing_was_erased(
    lake: Lake, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["forget", "0" * 64, "--lake", str(lake.root)]) == 1
    out, err = capsys.readouterr()
    assert "nothing erased" in err and "updated" not in out


def test_refused_sql_is_one_line(lake: Lake, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sql", "select * from read_csv('/etc/hostname')", "--lake", str(lake.root)]) == 1
    _, err = capsys.readouterr()
    assert err.startswith("voxlake sql: SQL on the catalog is read-only") and err.count("\n") == 1
