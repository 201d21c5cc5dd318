"""A lake on read-only media answers: `sql`, `search`, `export`, `stats` and `doctor` take
no lock, write no cache and create no file in it."""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from voxlake.cli import main
from voxlake.lake.store import Lake


@pytest.fixture
def read_only(processed_lake: Lake, tmp_path: Path) -> Iterator[Lake]:
    lake = Lake(tmp_path / "lake")
    shutil.copytree(processed_lake.root, lake.root)
    from voxlake import pipeline
    from voxlake.embed import index_writer
    from voxlake.features import dataset as dataset_stats
    from voxlake.features.mel import MelConfig

    index_writer.sync(lake)
    cfg = MelConfig()
    dataset_stats.update(lake, pipeline.mel_fingerprint(cfg), cfg.n_mels)
    paths = [lake.root, *lake.root.rglob("*")]
    for p in sorted(paths, key=lambda p: -len(p.parts)):
        p.chmod(0o555 if p.is_dir() else 0o444)
    try:
        yield lake
    finally:
        for p in paths:
            p.chmod(0o755 if p.is_dir() else 0o644)


def _listing(lake: Lake) -> list[str]:
    return sorted(str(p.relative_to(lake.root)) for p in lake.root.rglob("*"))


def test_every_reading_command_answers_and_writes_nothing(
    read_only: Lake,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if os.geteuid() == 0:  # root writes through a read-only mode: refuse as a mount would
        from voxlake.lake import snapshots

        def refused(folder: Path, snapshot: object) -> Path:
            raise OSError(errno.EROFS, "Read-only file system", str(folder))

        monkeypatch.setattr(snapshots, "record", refused)
    before = _listing(read_only)
    at = ["--lake", str(read_only.root)]
    assert main(["sql", "select count(*) from voices", *at]) == 0
    assert main(["stats", "export", "--format", "json", *at]) == 0
    assert main(["doctor", *at]) == 0
    voice = read_only.read_table("voices").column("voice_id").to_pylist()[0]
    assert main(["search", "--voice", voice[:12], "-k", "2", *at]) == 0
    assert main(["export", "--format", "nemo", "--out", str(tmp_path / "out"), *at]) == 0
    err = capsys.readouterr().err
    assert "read-only" in err and "compact" in err  # retention cannot protect that export
    assert _listing(read_only) == before
