"""The working copy of a store lake (an S3 API server on loopback: moto): what a step
pushes and in what order. The tables are Delta tables on the store itself: a commit's rows
never name a file the store lacks, and two writers of one batch leave it there once."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import obstore
import pytest

from voxlake.lake.objectstore import ObjectStore, StoreConfig, mirror, open_store, store_tables
from voxlake.lake.objectstore.mirror import StoreFailed, WorkingCopy
from voxlake.testing.s3 import S3Server


@pytest.fixture
def uri(s3: S3Server, request: pytest.FixtureRequest) -> str:
    return s3.uri(f"mirror-tests/{request.node.name}")


@pytest.fixture
def store(uri: str) -> ObjectStore:
    return open_store(uri)


def _copy(store: ObjectStore, uri: str, folder: Path) -> WorkingCopy:
    return WorkingCopy(store, folder, store_tables(uri))


def _write(root: Path, rel: str, data: bytes) -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_bytes(data)


def _names(store: ObjectStore, prefix: str | None = None) -> list[str]:
    return sorted(m["path"] for c in obstore.list(store, prefix=prefix) for m in c)


def _voice(batch: str, voice_id: str) -> dict[str, object]:
    return {"voice_id": voice_id, "batch": batch, "raw_path": f"audio/raw/ab/{voice_id}.wav"}


def test_a_push_sends_files_and_skips_tables_and_what_is_machine_local(
    store: ObjectStore, uri: str, tmp_path: Path
) -> None:
    wc = _copy(store, uri, tmp_path / "a")
    _write(wc.root, "audio/raw/ab/abc.wav", b"audio")
    _write(wc.root, "batches/b1.json", b"{}")
    for local in ("tables/voices/x.parquet", "batches/_seen.sqlite", ".global.lock", "dagster/x"):
        _write(wc.root, local, b"here only")
    pushed = wc.push()
    assert pushed.uploaded == 2
    assert _names(store) == ["audio/raw/ab/abc.wav", "batches/b1.json"]
    assert wc.push().uploaded == 0  # nothing changed: nothing sent


def test_a_table_commit_follows_the_files_its_rows_name(
    store: ObjectStore, uri: str, tmp_path: Path
) -> None:
    """A step writes its audio, then its rows: the audio reaches the store before the
    commit does, so a worker killed at any point leaves no row naming a missing file."""
    wc = _copy(store, uri, tmp_path / "a")
    lake = wc.lake()
    _write(wc.root, "audio/raw/ab/abc.wav", b"audio")
    lake.write_table("voices", [_voice("b1", "abc")], "b1")
    assert "audio/raw/ab/abc.wav" in _names(store, "audio/")
    assert any(n.startswith("tables/voices/_delta_log/") for n in _names(store, "tables/"))
    reader = _copy(store, uri, tmp_path / "reader").lake()
    assert reader.read_table("voices", "b1").column("voice_id").to_pylist() == ["abc"]


def test_two_writers_of_one_batch_leave_it_there_once(
    store: ObjectStore, uri: str, tmp_path: Path
) -> None:
    lakes = [_copy(store, uri, tmp_path / n).lake() for n in ("a", "b")]
    lakes[0].write_table("voices", [_voice("b0", "seed")], "b0")  # the table exists
    errors: list[BaseException] = []

    def write(i: int) -> None:
        try:
            rows = [_voice("b1", f"{i}-{k}") for k in range(3)]
            lakes[i].write_table("voices", rows, "b1")
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=write, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    ids = lakes[1].read_table("voices", "b1").column("voice_id").to_pylist()
    assert len(ids) == 3 and len({i.split("-")[0] for i in ids}) == 1  # one writer's, whole


def test_a_pull_mirrors_removals_and_rebuilds_what_it_derived(
    store: ObjectStore, uri: str, tmp_path: Path
) -> None:
    writer = _copy(store, uri, tmp_path / "w")
    _write(writer.root, "batches/b1.json", b"{}")
    _write(writer.root, "batches/b2.json", b"{}")
    writer.push()
    reader = _copy(store, uri, tmp_path / "r")
    assert reader.pull_prefix("batches/") == 2
    assert reader.pull_prefix("batches/") == 0  # held, same e_tags: nothing fetched
    _write(reader.root, "batches/_seen.sqlite", b"derived from b1 and b2")
    obstore.delete(store, "batches/b2.json")  # a batch dropped elsewhere
    reader.pull_prefix("batches/")
    assert not (reader.root / "batches/b2.json").exists()
    assert not (reader.root / "batches/_seen.sqlite").exists()


def test_a_store_lost_mid_push_fails_the_step_with_a_clear_error(
    s3: S3Server, store: ObjectStore, uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wc = _copy(store, uri, tmp_path / "a")
    _write(wc.root, "stats/dataset.json", b"1")
    _write(wc.root, "batches/b1.json", b"{}")
    with socket.socket() as s:  # a port nothing listens on: the store, unreachable
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    unreachable = open_store(StoreConfig(s3.uri("mirror-tests/unreachable"), endpoint=dead))
    upload = WorkingCopy._upload

    def first_then_lost(self: WorkingCopy, rel: str) -> int:
        sent = upload(self, rel)
        self.store = unreachable  # every later request of this step fails
        return sent

    monkeypatch.setattr(WorkingCopy, "_upload", first_then_lost)
    monkeypatch.setattr(mirror, "TRANSFER_THREADS", 1)
    with pytest.raises(StoreFailed, match="the store failed while pushing"):
        wc.push()


def test_what_a_failed_step_left_is_never_pushed_by_a_later_one(
    store: ObjectStore, uri: str, tmp_path: Path
) -> None:
    """A step that raised (or was killed) wrote files and pushed nothing; the next step in
    the same working copy starts by discarding them."""
    wc = _copy(store, uri, tmp_path / "slot")
    _write(wc.root, "stats/dataset.json", b"committed")
    wc.push()
    _write(wc.root, "stats/dataset.json", b"from a failed step")
    _write(wc.root, "stats/pending/b2", b"from a failed step")
    later = _copy(store, uri, tmp_path / "slot")  # the next step in this slot
    assert later.discard() == 2
    assert later.push().uploaded == 0
    later.pull_prefix("stats/")
    assert (later.root / "stats/dataset.json").read_bytes() == b"committed"
