"""`voxlake compact`: small files merged with no row changed, old snapshots expired unless
recorded, and a compaction during batch commits loses nothing."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from voxlake.cli import main
from voxlake.lake import catalog, compaction, snapshots
from voxlake.lake.store import Lake


def _voices(batch: str, n: int) -> list[dict[str, object]]:
    return [{"voice_id": f"{batch}-{i:03d}", "batch": batch, "speaker": "s"} for i in range(n)]


def _lake(tmp_path: Path, batches: int = 12) -> Lake:
    lake = Lake(tmp_path / "lake").ensure()
    for b in range(batches):
        lake.write_table("voices", _voices(f"b{b:03d}", 3), f"b{b:03d}")
    return lake


def _ids(lake: Lake) -> list[str]:
    return sorted(lake.read_table("voices").column("voice_id").to_pylist())


def test_compaction_merges_files_and_changes_no_row(tmp_path: Path) -> None:
    lake = _lake(tmp_path)
    before = _ids(lake)
    (voices,) = [c for c in compaction.compact(lake, retention_hours=0) if c.table == "voices"]
    assert voices.files_before == 12 and voices.files_after == 1
    assert voices.expired_files == 12  # the small files no kept snapshot reads
    assert _ids(lake) == before
    assert len(lake.tables.files("voices")) == 1


def test_compaction_expires_the_log_older_than_the_retention(tmp_path: Path) -> None:
    """Every commit lists the table's log: compaction keeps it to the retention window
    (here none), from the checkpoint on, and the table goes on taking commits."""
    lake = _lake(tmp_path, batches=25)
    log = Path(lake.tables.uri("voices")) / "_delta_log"
    assert len([p for p in log.iterdir() if p.suffix == ".json"]) == 25
    (voices,) = [c for c in compaction.compact(lake, retention_hours=0) if c.table == "voices"]
    left = sorted(p.name for p in log.iterdir())
    checkpoints = [n for n in left if n.endswith(".checkpoint.parquet")]
    assert len(checkpoints) == 1 and voices.expired_log_files >= 25
    entries = [n for n in left if n.endswith(".json")]
    assert entries and all(n[:20] >= checkpoints[0][:20] for n in entries)  # none before it
    lake.write_table("voices", _voices("b999", 2), "b999")
    assert len(_ids(lake)) == 25 * 3 + 2
    assert catalog.query(lake, "select count(*) from voices")[1] == [(77,)]


def test_writers_leave_the_log_to_compaction(tmp_path: Path) -> None:
    """After a compaction set the log's retention, later writers' checkpoints clean
    nothing: a snapshot recorded since stays readable until a compaction, which stretches
    the retention for it, decides."""
    lake = _lake(tmp_path, batches=3)
    compaction.compact(lake, retention_hours=0)
    for b in range(10, 35):  # two checkpoints' worth of commits
        lake.write_table("voices", _voices(f"b{b:03d}", 1), f"b{b:03d}")
        if b == 12:
            kept = snapshots.current(lake.tables)
            snapshots.record(lake.root / "snapshots", kept)
    log = Path(lake.tables.uri("voices")) / "_delta_log"
    assert len([p for p in log.iterdir() if p.suffix == ".json"]) >= 25
    sql = "select count(*) from voices"
    assert catalog.query(lake, sql, as_of=kept.id)[1] == [(12,)]


def test_a_recorded_snapshot_survives_compaction(tmp_path: Path) -> None:
    """Delta expires by age (in whole hours): the retention stretches back to the commit
    that superseded the oldest recorded snapshot, so it stays readable, with anything
    newer. (With nothing recorded, retention 0 expires every superseded file: above.)"""
    lake = _lake(tmp_path, batches=3)
    lake.write_table("voices", _voices("b000", 1), "b000")  # a rerun keeps one voice
    kept = snapshots.current(lake.tables)
    snapshots.record(lake.root / "snapshots", kept)
    lake.write_table("voices", _voices("b001", 1), "b001")
    time.sleep(1.1)
    compaction.compact(lake, retention_hours=0)
    sql = "select count(*) from voices"
    assert catalog.query(lake, sql, as_of=kept.id)[1] == [(7,)]
    assert catalog.query(lake, sql)[1] == [(5,)]


def test_compaction_during_batch_commits_loses_no_row(tmp_path: Path) -> None:
    lake = _lake(tmp_path, batches=20)
    stop = threading.Event()
    errors: list[BaseException] = []

    def commits() -> None:
        try:
            for b in range(20, 40):
                lake.write_table("voices", _voices(f"b{b:03d}", 3), f"b{b:03d}")
                lake.write_table("voices", _voices(f"b{b - 20:03d}", 3), f"b{b - 20:03d}")
        except BaseException as e:
            errors.append(e)
        finally:
            stop.set()

    writer = threading.Thread(target=commits)
    writer.start()
    while not stop.is_set():
        compaction.compact(lake, retention_hours=0)
    writer.join()
    assert errors == []
    assert _ids(lake) == sorted(f"b{b:03d}-{i:03d}" for b in range(40) for i in range(3))


def test_the_cli_prints_files_before_and_after(tmp_path: Path, capsys: object) -> None:
    lake = _lake(tmp_path, batches=4)
    assert main(["compact", "--retention-hours", "0", "--lake", str(lake.root)]) == 0
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert "voices" in out and "files_before" in out and "expired_log_files" in out
