"""A fault-injecting object store for tests: an HTTP proxy in front of the S3 emulator.

Every request of the code under test (delta-rs' commits and data files, obstore's files)
goes through it unchanged, until a fault is armed for the n-th state-changing request
(a PUT, a conditional PUT or a DELETE):
- `crash_before`: that request and every later one fail, as if the writer died before
  sending it;
- `crash_after`: the request reaches the store, then every request fails, as if the
  writer died with the store's answer on the way;
- `lost_ack`: the request reaches the store and its answer is lost (the connection is
  cut); later requests pass, so the writer may retry, not knowing whether it landed.

A failed request is a cut connection. The proxy records each state-changing request, so a
test can first count them and then put a fault at each. It runs in a process of its own.
"""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing import Queue, get_context
from multiprocessing.managers import SyncManager
from urllib.parse import urlsplit

MODES = ("crash_before", "crash_after", "lost_ack")
CHANGES = frozenset({"PUT", "POST", "DELETE"})


class Faults:
    """The fault switch. Its state lives in a manager process, shared with the proxy's own
    process: the proxy must not share the caller's interpreter, since a delta-rs call that
    holds the GIL while it waits on the store (`alter.set_table_properties` does) would
    starve a proxy thread of it until the request times out."""

    def __init__(self, upstream: str, manager: SyncManager):
        self.upstream = upstream
        self._state = manager.dict(mode="", at=-1, dead=False, injected=False)
        self._seen = manager.list()
        self._lock = manager.Lock()

    @property
    def seen(self) -> list[str]:
        """ "METHOD path" of each state-changing request since the last arm."""
        return list(self._seen)

    @property
    def injected(self) -> bool:
        return bool(self._state["injected"])

    def arm(self, mode: str, at: int) -> None:
        assert mode in MODES, mode
        with self._lock:
            self._state.update(mode=mode, at=at, dead=False, injected=False)
            self._seen[:] = []

    def disarm(self) -> None:
        with self._lock:
            self._state.update(mode="", at=-1, dead=False)
            self._seen[:] = []

    def decide(self, method: str, path: str) -> tuple[bool, bool]:
        """(forward it, answer it) for this request."""
        with self._lock:
            state = dict(self._state)
            if state["dead"]:
                return False, False
            if method not in CHANGES:
                return True, True
            index = len(self._seen)
            self._seen.append(f"{method} {path}")
            if index != state["at"]:
                return True, True
            self._state["injected"] = True
            if state["mode"] == "crash_before":
                self._state["dead"] = True
                return False, False
            if state["mode"] == "crash_after":
                self._state["dead"] = True
                return True, False
            return True, False  # lost_ack


def _handler(faults: Faults) -> type[BaseHTTPRequestHandler]:
    up = urlsplit(faults.upstream)

    class Proxy(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _proxy(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            forward, answer = faults.decide(self.command, self.path)
            if not forward:
                self.close_connection = True
                self.connection.close()
                return
            conn = http.client.HTTPConnection(up.hostname or "127.0.0.1", up.port, timeout=60)
            try:
                headers = {k: v for k, v in self.headers.items()}
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
            finally:
                conn.close()
            if not answer:
                self.close_connection = True
                self.connection.close()
                return
            self.send_response_only(resp.status, resp.reason)
            for k, v in resp.getheaders():
                if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _proxy

    return Proxy


def _serve(faults: Faults, ports: Queue[int]) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(faults))
    server.daemon_threads = True
    ports.put(server.server_address[1])
    server.serve_forever()


@contextmanager
def faulty_store(upstream: str) -> Iterator[tuple[str, Faults]]:
    """(the proxy's endpoint, its fault switch) in front of `upstream` (an http:// URL);
    the proxy runs in a process of its own."""
    ctx = get_context("spawn")
    with ctx.Manager() as manager:
        faults = Faults(upstream, manager)
        ports: Queue[int] = ctx.Queue()
        proxy = ctx.Process(target=_serve, args=(faults, ports), daemon=True)
        proxy.start()
        try:
            yield f"http://127.0.0.1:{ports.get(timeout=60)}", faults
        finally:
            proxy.kill()
            proxy.join()
