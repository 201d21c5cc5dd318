"""A lease that holds across machines: one small JSON object on the lake's store, taken and
renewed by conditional writes (S3's If-None-Match / If-Match), never by `fcntl`.

The holder renews it every `ttl_s / 3` from a thread. A holder that dies stops renewing,
and after `ttl_s` the next taker replaces the object (conditionally, so of two takers one
wins). A holder whose renewal finds the object changed has lost the lease: leaving the
`hold` block then raises `LeaseLost`, so work done without it fails loudly instead of
being trusted. Clocks of the machines must agree to well within `ttl_s`.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from voxlake.lake.objectstore.client import (
    Conflict,
    ObjectStore,
    create_json,
    read_json,
    replace_json,
)

PREFIX = "_leases"
DEFAULT_TTL_S = 60.0


class LeaseLost(RuntimeError):
    """Another holder took the lease while this one held it (renewals stopped in time)."""


class LeaseTimeout(TimeoutError):
    """The lease was not free within the time asked for."""


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class Lease:
    """One named lease on a store; `hold()` is the way to use it."""

    store: ObjectStore
    name: str
    ttl_s: float = DEFAULT_TTL_S
    poll_s: float = 0.25
    owner: str = field(default_factory=default_owner)
    clock: Callable[[], float] = time.time
    _etag: str = field(default="", init=False, repr=False)
    _lost: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _mutex: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def key(self) -> str:
        return f"{PREFIX}/{self.name}.json"

    def _record(self, released: bool = False) -> dict[str, object]:
        expires = 0.0 if released else self.clock() + self.ttl_s
        return {"owner": self.owner, "expires_at": expires, "released": released}

    def try_acquire(self) -> bool:
        """Take the lease if it is free (absent, released or expired); never waits."""
        try:
            self._etag = create_json(self.store, self.key, self._record())
            return True
        except Conflict:
            pass
        current = read_json(self.store, self.key)
        if current is None:  # deleted by hand between the two calls: try again later
            return False
        value, etag = current
        if not value.get("released") and float(value.get("expires_at", 0)) > self.clock():
            return False
        try:
            self._etag = replace_json(self.store, self.key, self._record(), etag)
            return True
        except Conflict:
            return False

    def holder(self) -> str | None:
        """The owner holding the lease now, if any."""
        current = read_json(self.store, self.key)
        if current is None:
            return None
        value, _ = current
        live = not value.get("released") and float(value.get("expires_at", 0)) > self.clock()
        return str(value["owner"]) if live else None

    def renew(self) -> bool:
        """Push the expiry out; False (and the lease marked lost) if it was taken."""
        with self._mutex:
            if self._lost.is_set():
                return False
            try:
                self._etag = replace_json(self.store, self.key, self._record(), self._etag)
                return True
            except Conflict:
                self._lost.set()
                return False

    def release(self) -> None:
        with self._mutex:
            if self._lost.is_set():
                return
            try:
                replace_json(self.store, self.key, self._record(released=True), self._etag)
            except Conflict:
                self._lost.set()

    @property
    def lost(self) -> bool:
        return self._lost.is_set()

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.ttl_s / 3):
            try:
                if not self.renew():
                    return
            except Exception:  # the store unreachable for a moment: the next beat retries
                continue

    @contextmanager
    def hold(
        self, on_wait: Callable[[], None] | None = None, timeout_s: float | None = None
    ) -> Iterator[Lease]:
        """Wait for the lease (calling `on_wait` once if it is held), hold it while the block
        runs, release it after. LeaseLost on leaving if it was taken meanwhile."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        waited = False
        while not self.try_acquire():
            if not waited and on_wait is not None:
                on_wait()
            waited = True
            if deadline is not None and time.monotonic() > deadline:
                raise LeaseTimeout(f"lease {self.name!r} held by {self.holder()}")
            time.sleep(self.poll_s)
        self._stop.clear()
        self._lost.clear()
        beat = threading.Thread(target=self._heartbeat, name=f"lease-{self.name}", daemon=True)
        beat.start()
        try:
            yield self
        finally:
            self._stop.set()
            beat.join()
            self.release()
        if self.lost:
            raise LeaseLost(
                f"lease {self.name!r} was taken by {self.holder()} while {self.owner} held it"
            )
