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
test can first count them and then put a fault at each.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

MODES = ("crash_before", "crash_after", "lost_ack")
CHANGES = frozenset({"PUT", "POST", "DELETE"})


@dataclass
class Faults:
    upstream: str
    mode: str = ""
    at: int = -1  # the state-changing request to fail (0-based); -1: none
    seen: list[str] = field(default_factory=list)  # "METHOD path" of each change
    dead: bool = False
    injected: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def arm(self, mode: str, at: int) -> None:
        assert mode in MODES, mode
        with self.lock:
            self.mode, self.at, self.dead, self.injected = mode, at, False, False
            self.seen.clear()

    def disarm(self) -> None:
        with self.lock:
            self.mode, self.at, self.dead = "", -1, False
            self.seen.clear()

    def decide(self, method: str, path: str) -> tuple[bool, bool]:
        """(forward it, answer it) for this request."""
        with self.lock:
            if self.dead:
                return False, False
            if method not in CHANGES:
                return True, True
            index = len(self.seen)
            self.seen.append(f"{method} {path}")
            if index != self.at:
                return True, True
            self.injected = True
            if self.mode == "crash_before":
                self.dead = True
                return False, False
            if self.mode == "crash_after":
                self.dead = True
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


@contextmanager
def faulty_store(upstream: str) -> Iterator[tuple[str, Faults]]:
    """(the proxy's endpoint, its fault switch) in front of `upstream` (an http:// URL)."""
    faults = Faults(upstream)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(faults))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", faults
    finally:
        server.shutdown()
        server.server_close()
