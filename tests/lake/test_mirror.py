"""The working copy of a store lake (an S3 API server on loopback: moto): what a step
pushes, in what order, and what readers trust. A worker killed between two parts of a
batch leaves a batch no reader trusts; two writers of one batch cannot both commit."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import obstore
import pytest

from voxlake.lake import mirror
from voxlake.lake.mirror import (
    CommitConflict,
    StoreFailed,
    WorkingCopy,
    commit_key,
    trusted_listing_on_store,
)
from voxlake.lake.objectstore import ObjectStore, StoreConfig, open_store
from voxlake.testing.s3 import S3Server


@pytest.fixture
def store(s3: S3Server, request: pytest.FixtureRequest) -> ObjectStore:
    return open_store(s3.uri(f"mirror-tests/{request.node.name}"))


def _write(root: Path, rel: str, data: bytes) -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_bytes(data)


def _trusted(store: ObjectStore) -> tuple[list[str], list[str]]:
    trusted, held = trusted_listing_on_store(store)
    return [path for path, _ in trusted], held


def test_a_push_commits_each_batch_it_wrote_and_skips_what_is_machine_local(
    store: ObjectStore, tmp_path: Path
) -> None:
    wc = WorkingCopy(store, tmp_path / "a")
    _write(wc.root, "audio/raw/ab/abc.wav", b"audio")
    _write(wc.root, "tables/voices/batch=b1/part.parquet", b"v1")
    _write(wc.root, "tables/embeddings/batch=b1/part.parquet", b"e1")
    _write(wc.root, "tables/dataset_mel_stats/part.parquet", b"global")
    for local in ("catalog.duckdb", "batches/_seen.sqlite", ".global.lock", "dagster/x"):
        _write(wc.root, local, b"here only")
    pushed = wc.push()
    assert pushed.commits == (commit_key("b1"),)
    names = sorted(m["path"] for c in obstore.list(store) for m in c)
    assert names == [
        "audio/raw/ab/abc.wav",
        commit_key("b1"),
        "tables/dataset_mel_stats/part.parquet",
        "tables/embeddings/batch=b1/part.parquet",
        "tables/voices/batch=b1/part.parquet",
    ]
    trusted, held = _trusted(store)
    assert held == [] and len(trusted) == 3
    assert wc.push().uploaded == 0  # nothing changed: nothing sent


def test_a_part_written_without_its_commit_holds_the_batch_back(
    store: ObjectStore, tmp_path: Path
) -> None:
    wc = WorkingCopy(store, tmp_path / "a")
    _write(wc.root, "tables/voices/batch=b1/part.parquet", b"v1")
    _write(wc.root, "tables/embeddings/batch=b1/part.parquet", b"e1")
    _write(wc.root, "tables/voices/batch=b2/part.parquet", b"v2")
    wc.push()
    # A rerun of b1 on a worker killed after its first part: the new part, no new commit.
    obstore.put(store, "tables/voices/batch=b1/part.parquet", b"v1 rewritten")
    trusted, held = _trusted(store)
    assert held == ["b1"]
    assert trusted == ["tables/voices/batch=b2/part.parquet"]
    reader = WorkingCopy(store, tmp_path / "reader")
    assert reader.pull_committed("tables/") == ["b1"]
    assert not (reader.root / "tables/embeddings/batch=b1/part.parquet").exists()
    assert (reader.root / "tables/voices/batch=b2/part.parquet").read_bytes() == b"v2"


def test_two_writers_of_one_batch_cannot_both_commit(store: ObjectStore, tmp_path: Path) -> None:
    first = WorkingCopy(store, tmp_path / "a")
    _write(first.root, "tables/voices/batch=b1/part.parquet", b"one")
    first.push()
    late = WorkingCopy(store, tmp_path / "b")  # read the batch before the first commit
    _write(late.root, "tables/voices/batch=b1/part.parquet", b"two")
    with pytest.raises(CommitConflict, match="batch b1"):
        late.push()
    parts = json.loads(bytes(obstore.get(store, commit_key("b1")).bytes()))["parts"]
    assert list(parts) == ["tables/voices/batch=b1/part.parquet"]


def test_a_pull_mirrors_removals_and_rebuilds_what_it_derived(
    store: ObjectStore, tmp_path: Path
) -> None:
    writer = WorkingCopy(store, tmp_path / "w")
    _write(writer.root, "batches/b1.json", b"{}")
    _write(writer.root, "batches/b2.json", b"{}")
    writer.push()
    reader = WorkingCopy(store, tmp_path / "r")
    assert reader.pull_prefix("batches/") == 2
    assert reader.pull_prefix("batches/") == 0  # held, same e_tags: nothing fetched
    _write(reader.root, "batches/_seen.sqlite", b"derived from b1 and b2")
    obstore.delete(store, "batches/b2.json")  # a batch dropped elsewhere
    reader.pull_prefix("batches/")
    assert not (reader.root / "batches/b2.json").exists()
    assert not (reader.root / "batches/_seen.sqlite").exists()


def test_a_store_lost_mid_push_fails_the_step_and_its_batch_stays_untrusted(
    s3: S3Server, store: ObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The network to the store goes after the first table part of a rewrite is sent: the
    step fails with a clear error (Dagster then retries the run), and readers hold the
    batch back rather than mix its old and new parts."""
    wc = WorkingCopy(store, tmp_path / "a")
    _write(wc.root, "tables/voices/batch=b1/part.parquet", b"v1")
    _write(wc.root, "tables/embeddings/batch=b1/part.parquet", b"e1")
    wc.push()
    _write(wc.root, "tables/voices/batch=b1/part.parquet", b"v1 again")
    _write(wc.root, "tables/embeddings/batch=b1/part.parquet", b"e1 again")
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
    monkeypatch.setattr(mirror, "TRANSFER_THREADS", 1)  # one part, then the loss
    with pytest.raises(StoreFailed, match="the store failed while pushing"):
        wc.push()
    trusted, held = _trusted(store)
    assert held == ["b1"] and trusted == []


def test_what_a_failed_step_left_is_never_pushed_by_a_later_one(
    store: ObjectStore, tmp_path: Path
) -> None:
    """A step that raised (or was killed) wrote a batch's part and pushed nothing; the next
    step in the same working copy starts by discarding it, so it never reaches the store
    under a commit."""
    wc = WorkingCopy(store, tmp_path / "slot")
    _write(wc.root, "tables/voices/batch=b1/part.parquet", b"committed")
    wc.push()
    _write(wc.root, "tables/voices/batch=b1/part.parquet", b"from a failed step")
    _write(wc.root, "tables/voices/batch=b2/part.parquet", b"from a failed step")
    later = WorkingCopy(store, tmp_path / "slot")  # the next step in this slot
    assert later.discard() == 2
    assert later.push().uploaded == 0
    assert _trusted(store) == (["tables/voices/batch=b1/part.parquet"], [])
    later.pull_committed("tables/")
    assert (later.root / "tables/voices/batch=b1/part.parquet").read_bytes() == b"committed"
