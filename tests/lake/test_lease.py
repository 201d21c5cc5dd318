"""The lake's lease on an object store (an S3 API server on loopback: moto, since no real
store can run here): one holder at a time across processes that share no local files, a
dead holder's lease taken after its expiry, and a holder that lost it told so."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from voxlake.lake.objectstore import ObjectStore, open_store
from voxlake.lake.objectstore.lease import Lease, LeaseLost, LeaseTimeout
from voxlake.testing.s3 import S3Server


@pytest.fixture
def store(s3: S3Server, request: pytest.FixtureRequest) -> ObjectStore:
    return open_store(s3.uri(f"lease-tests/{request.node.name}"))


def test_one_holder_at_a_time_and_the_waiter_is_told_who_holds_it(store: ObjectStore) -> None:
    a, b = Lease(store, "global", owner="a"), Lease(store, "global", owner="b")
    with a.hold():
        assert not b.try_acquire()
        assert b.holder() == "a"
        with pytest.raises(LeaseTimeout, match="held by a"), b.hold(timeout_s=0.3):
            pass
    assert b.holder() is None  # released
    with b.hold():
        assert a.holder() == "b"


def test_a_dead_holders_lease_is_taken_after_it_expires(store: ObjectStore) -> None:
    dead = Lease(store, "global", ttl_s=0.5, owner="dead")
    assert dead.try_acquire()  # and never renews: its process is gone
    waiting = Lease(store, "global", owner="next", poll_s=0.05)
    told: list[str] = []
    t0 = time.monotonic()
    with waiting.hold(on_wait=lambda: told.append("waiting")):
        assert waiting.holder() == "next"
    assert told == ["waiting"] and 0.3 < time.monotonic() - t0 < 5


def test_a_holder_whose_lease_was_taken_fails_loudly(store: ObjectStore) -> None:
    stalled = Lease(store, "global", ttl_s=0.4, owner="stalled")
    stalled._heartbeat = lambda: None  # type: ignore[method-assign]  # a frozen process
    other = Lease(store, "global", owner="other")
    with pytest.raises(LeaseLost, match="taken by other"), stalled.hold():
        time.sleep(0.6)
        assert other.try_acquire()
    assert other.holder() == "other"  # the loser's release did not free the winner's lease


def test_renewals_keep_a_lease_past_its_ttl(store: ObjectStore) -> None:
    holder = Lease(store, "global", ttl_s=0.6, owner="live")
    with holder.hold():
        time.sleep(1.5)
        assert not Lease(store, "global").try_acquire()
    assert not holder.lost


WORKER = """
import json, sys, time
from voxlake.lake.store import Lake
lake = Lake(sys.argv[1])
waited = []
with lake.lock("global", on_wait=lambda: waited.append(1)):
    start = time.time()
    time.sleep(1.0)
    end = time.time()
print(json.dumps({"start": start, "end": end, "waited": bool(waited)}))
"""


def test_lake_locks_on_two_machines_serialise_through_the_lease(
    s3: S3Server, tmp_path: Path
) -> None:
    """Two processes, each with its own lake folder (no shared fcntl lock file), one lease
    prefix: their global sections never overlap."""
    env = {**s3.env(), "VOXLAKE_LEASE_URI": s3.uri("machines-lake")}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(tmp_path / f"machine{i}")],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, **env},
        )
        for i in range(2)
    ]
    spans = sorted(
        (json.loads(p.communicate(timeout=120)[0]) for p in procs), key=lambda s: s["start"]
    )
    assert all(p.returncode == 0 for p in procs)
    assert spans[0]["end"] <= spans[1]["start"], spans
    assert spans[1]["waited"] and not spans[0]["waited"]


def test_wrong_credentials_an_unknown_bucket_or_an_unreachable_store_fail_at_start(
    s3: S3Server,
) -> None:
    from voxlake.lake.objectstore import StoreAccessError, StoreConfig, check_access

    check_access(open_store(s3.uri("ok")), s3.uri("ok"))
    wrong = StoreConfig(s3.uri("ok"), access_key_id=s3.access_key_id, secret_access_key="no")
    with pytest.raises(StoreAccessError, match="refused these credentials"):
        check_access(open_store(wrong), wrong.uri)
    with pytest.raises(StoreAccessError, match="no such bucket"):
        check_access(open_store("s3://no-such-bucket/x"), "s3://no-such-bucket/x")
    closed = StoreConfig("s3://voxlake/x", endpoint="http://127.0.0.1:9")  # discard port
    with pytest.raises(StoreAccessError, match="cannot be reached"):
        check_access(open_store(closed), closed.uri)
