"""A pristine DeepFilterNet3 state for every voice, for the cost of a fork of a small process.

The runtime's C API has no reset, and `df_create` costs about 0.3 s, so each voice is
denoised in a fork of a process that holds a runtime it never runs: the fork inherits
that state copy-on-write, pristine. What a fork costs grows with the address space of the
process forked: a pipeline worker holds torch and the GE2E encoder (half a gigabyte), and
forking it, paging in its copy and tearing it down cost about 35-50 ms per voice. So the
worker forks nothing itself. It starts one lean server process (numpy, soundfile, soxr and
the runtime; about 100 MB) and sends it each file; the server forks a child per file,
relays the child's result as soon as it arrives and reaps the child afterwards, so the
child's exit overlaps the worker's next voice. A fork of the server costs a few ms. Before
its first fork the server takes a short voice through the same code on a scratch runtime
(what is set up lazily is then set up once) and freezes its objects out of the garbage
collector, so a fork copies fewer of the server's pages.

The protocol is length-prefixed pickles on the server's own copies of stdin and stdout
(its fd 1 is pointed at stderr, so a library that prints cannot corrupt it). The server
dies with its worker and each child with the server (Linux's parent-death signal): a
killed run leaves nothing running. A job of `None` forks a child that only answers:
`ping()` measures the price of a pristine state.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import pickle
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

import numpy as np
import soundfile as sf

from voxlake.audio.denoise import DeepFilterRuntime, DenoiseConfig
from voxlake.audio.stream import denoise_file, peak_rss_mb

_SERVER = "from voxlake.audio.fork_server import main; main()"
PR_SET_PDEATHSIG = 1  # prctl option: the signal a process gets when its parent dies
_HEADER = struct.Struct("<Q")


def send(fh: IO[bytes], obj: object) -> None:
    payload = pickle.dumps(obj)
    fh.write(_HEADER.pack(len(payload)) + payload)
    fh.flush()


def receive(fh: IO[bytes]) -> Any:
    """The next message, or EOFError when the other end closed before a whole one."""
    head = fh.read(_HEADER.size)
    if len(head) < _HEADER.size:
        raise EOFError("the other end closed")
    (n,) = _HEADER.unpack(head)
    payload = fh.read(n)
    if len(payload) < n:
        raise EOFError("the other end closed mid-message")
    return pickle.loads(payload)


def die_with(parent: int) -> None:
    """Make this process die with its parent (Linux): an orphan would go on holding the
    parent's files, lake locks among them, for nothing."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the broken pipe still ends it
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _denoise(
    runtime: DeepFilterRuntime, config: DenoiseConfig, src: str | Path, dst: str | Path
) -> dict[str, Any]:
    return denoise_file(src, dst, runtime, config.passthrough_depth_db, config.output_rate)


def _child(runtime: DeepFilterRuntime, config: DenoiseConfig, job: Any, w: int) -> None:
    """In the fork: denoise one file with the inherited pristine state, report, exit."""
    code = 0
    try:
        try:
            if job is None:
                reply: tuple[str, Any] = ("ok", {})
            else:
                row = _denoise(runtime, config, *job)
                row["worker_peak_rss_mb"] = peak_rss_mb()
                reply = ("ok", row)
        except BaseException as e:
            reply = ("error", f"{type(e).__name__}: {e}")
        with os.fdopen(w, "wb") as fh:
            send(fh, reply)
    except BaseException:  # the server is gone: nobody to tell
        code = 1
    finally:
        os._exit(code)


def warm_up(config: DenoiseConfig) -> None:
    """Take a short voice through `denoise_file` on a scratch runtime, then free it: what
    the code path sets up lazily (libsndfile, soxr, numpy's dispatch, the runtime's
    library) is then done once here, not again in every fork. The pristine runtime is
    untouched (it is another state)."""
    with tempfile.TemporaryDirectory(prefix="voxlake-warm-") as tmp:
        src, dst = Path(tmp) / "warm.wav", Path(tmp) / "warm.flac"
        noise = np.random.default_rng(0).standard_normal(8000).astype(np.float32)
        sf.write(src, 0.1 * noise, 16_000, subtype="PCM_16")
        with DeepFilterRuntime(config) as scratch:
            _denoise(scratch, config, src, dst)


def serve(config: DenoiseConfig, jobs: IO[bytes], replies: IO[bytes]) -> None:
    """The server's loop: one fork per job, until the worker closes the pipe."""
    warm_up(config)
    runtime = DeepFilterRuntime(config)  # never run in this process
    gc.collect()
    gc.freeze()  # a fork's collector leaves the server's objects (and their pages) alone
    me = os.getpid()
    while True:
        try:
            job = receive(jobs)
        except EOFError:
            return
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            die_with(me)
            _child(runtime, config, job, w)
        os.close(w)
        with os.fdopen(r, "rb") as fh:
            try:
                reply = receive(fh)
                status = None
            except EOFError:
                _, status = os.waitpid(pid, 0)
                reply = ("error", f"the denoise fork died (wait status {status})")
        send(replies, reply)  # before the reap: the child's exit overlaps the next voice
        if status is None:
            os.waitpid(pid, 0)


class ForkingDenoiser:
    """Denoise files, each with a pristine runtime state forked from a lean server.

    Where there is no fork (not POSIX), each file gets a fresh runtime instead."""

    def __init__(self, config: DenoiseConfig = DenoiseConfig()):
        self.config = config
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def _server(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            root = str(Path(__file__).resolve().parents[2])
            env = dict(os.environ)
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
            self._proc = subprocess.Popen(
                [sys.executable, "-c", _SERVER, str(os.getpid())],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=env,
            )
            assert self._proc.stdin is not None
            send(self._proc.stdin, asdict(self.config))
        return self._proc

    def _ask(self, job: Any) -> Any:
        """The server's answer to `job`. The server runs no voice itself, so its death is
        never the voice's fault: the job is tried once more on a fresh server."""
        with self._lock:
            for attempt in (1, 2):
                proc = self._server()
                assert proc.stdin is not None and proc.stdout is not None
                try:
                    send(proc.stdin, job)
                    kind, value = receive(proc.stdout)
                    break
                except (EOFError, BrokenPipeError) as e:
                    self.close(kill=True)
                    if attempt == 2:
                        raise RuntimeError(f"the denoise server died twice ({e})") from None
                except BaseException:  # interrupted mid-job: the protocol is out of step
                    self.close(kill=True)
                    raise
        if kind == "error":
            raise RuntimeError(value)
        return value

    def __call__(self, src: str | Path, dst: str | Path) -> dict[str, Any]:
        if not hasattr(os, "fork"):  # pragma: no cover - POSIX has fork
            with DeepFilterRuntime(self.config) as rt:
                return _denoise(rt, self.config, src, dst)
        return dict(self._ask((str(src), str(dst))))

    @property
    def server_pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def ping(self) -> float:
        """Seconds for one pristine state: a fork of the server that only answers."""
        t0 = time.perf_counter()
        self._ask(None)
        return time.perf_counter() - t0

    def close(self, kill: bool = False) -> None:
        """Stop the server: it ends when its input closes (or at once, with `kill`)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if kill:
            proc.kill()
        for fh in (proc.stdin, proc.stdout):
            if fh is not None:
                with contextlib.suppress(OSError):
                    fh.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - a stuck server
            proc.kill()
            proc.wait()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # interpreter shutdown
            self.close()


def main() -> None:
    die_with(int(sys.argv[1]))
    jobs = os.fdopen(os.dup(0), "rb")
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a library that prints goes to stderr, not into the protocol
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    config = DenoiseConfig(**receive(jobs))
    serve(config, jobs, replies)
