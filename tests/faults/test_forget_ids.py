"""`forget` with an unknown id, an ambiguous prefix, the same id twice: clear errors, nothing
erased by mistake, and a consistent lake after each."""

from __future__ import annotations

from pathlib import Path

import pytest

from voxlake.cli import main
from voxlake.lake.store import Lake
from voxlake.testing import completed_copy
from voxlake.testing.consistency import inconsistencies


@pytest.fixture
def lake(processed_lake: Lake, tmp_path: Path) -> Lake:
    copy = completed_copy(processed_lake, tmp_path / "lake")
    assert inconsistencies(copy) == []
    return copy


def _forget(lake: Lake, *ids: str) -> int:
    return main(["forget", *ids, "--lake", str(lake.root)])


def test_an_unknown_id(lake: Lake, capsys: pytest.CaptureFixture[str]) -> None:
    before = lake.read_table("voices").num_rows
    assert _forget(lake, "0123abcd") == 1
    err = capsys.readouterr().err
    assert "no voice 0123abcd" in err and "nothing erased" in err
    assert lake.read_table("voices").num_rows == before
    assert inconsistencies(lake) == []


def test_an_ambiguous_prefix(lake: Lake, capsys: pytest.CaptureFixture[str]) -> None:
    voices = lake.read_table("voices").to_pylist()
    real = sorted(v["voice_id"] for v in voices)[0]
    twin = real[:8] + ("0" if real[8] != "0" else "1") * 56  # another voice, same 8 characters
    (batch,) = lake.table_batches("voices")
    lake.write_table("rejected", [{"voice_id": twin, "batch": batch}], batch, part="twin")
    assert _forget(lake, real[:8]) == 1
    err = capsys.readouterr().err
    assert "ambiguous" in err and real[:12] in err and twin[:12] in err and "nothing erased" in err
    assert lake.read_table("voices").num_rows == len(voices)
    lake.tables.delete("rejected", batch, part="twin")
    assert inconsistencies(lake) == []


def test_the_same_id_twice_in_one_command_and_again(
    lake: Lake, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = sorted(lake.read_table("voices")["voice_id"].to_pylist())[0]
    assert _forget(lake, victim, victim[:10]) == 0
    assert capsys.readouterr().out.count(f"forgot {victim}") == 1
    assert inconsistencies(lake) == []
    assert _forget(lake, victim) == 1
    assert "nothing erased" in capsys.readouterr().err
    assert inconsistencies(lake) == []
