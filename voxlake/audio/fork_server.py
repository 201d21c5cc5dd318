"""A pristine DeepFilterNet3 state for every voice, for the cost of a fork of a small process.

The runtime's C API has no reset, and `df_create` costs about 0.3 s, so each voice is
denoised by a fork of a process that holds a runtime it never runs: the fork inherits
that state copy-on-write, pristine. What a fork costs grows with the address space of the
process forked: a pipeline worker holds torch and the GE2E encoder (half a gigabyte), and
forking it, paging in its copy and tearing it down cost about 35-50 ms per voice. So the
worker forks nothing itself. It starts one lean server process (the runtime, numpy and
the audio libraries: about 75 MB) and, for each voice, asks it for a fork.

The fork runs the model and nothing else. Every page a fork writes is copied first, so
the worker keeps the rest of a voice's work (decoding, resampling, metering, the FLAC,
its hash) in its own warm memory and streams the voice's 48 kHz frames through the fork
in chunks of `CHUNK_FRAMES`: the fork reads them into one buffer and writes the model's
output into another, reused, so it copies the runtime's state and little else. A fork
that ran the whole voice's code copied about 2,700 pages (11 MB) for a 2 s voice; a fork
that runs only the model copies about 900, whatever the voice's length.

Channels: the worker holds one end of a Unix socket pair, the server the other (pickled,
length-prefixed messages). For each voice the worker makes a second socket pair and hands
one end to the server with the request (SCM_RIGHTS); the server forks, and the fork
speaks on that socket alone: raw float32 frames in, the model's frames and per-frame
local SNR out. The fork's death ends its socket, so the worker hears of it at once, and
the server never waits on a fork (its forks reap themselves). The server dies with its
worker and each fork with the server (Linux's parent-death signal): a killed run leaves
nothing running. A request of `None` forks a child that only answers: `ping()` measures
the price of a fork.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import pickle
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, cast

import numpy as np

from voxlake.audio.denoise import DeepFilterRuntime, DenoiseConfig
from voxlake.audio.stream import denoise_file, peak_rss_mb

_SERVER = "from voxlake.audio.fork_server import main; main()"
PR_SET_PDEATHSIG = 1  # prctl option: the signal a process gets when its parent dies
_HEADER = struct.Struct("<Q")
CHUNK_FRAMES = 32  # model frames per round trip to the fork (32 x 10 ms)


class ForkLost(EOFError):
    """A socket closed before a whole message: the process at its other end is gone."""


def send(sock: socket.socket, obj: object, fds: tuple[int, ...] = ()) -> None:
    payload = pickle.dumps(obj)
    data = _HEADER.pack(len(payload)) + payload
    sent = socket.send_fds(sock, [data], list(fds)) if fds else 0
    sock.sendall(data[sent:])


def _exact(sock: socket.socket, view: memoryview) -> None:
    while len(view):
        n = sock.recv_into(view)
        if n == 0:
            raise ForkLost("the other end closed")
        view = view[n:]


def receive(sock: socket.socket, with_fds: bool = False) -> Any:
    """The next message (and with `with_fds`, the descriptors sent with it)."""
    head = bytearray(_HEADER.size)
    fds: list[int] = []
    if with_fds:
        data, fds, _, _ = socket.recv_fds(sock, _HEADER.size, 1)
        if not data:
            raise ForkLost("the other end closed")
        head[: len(data)] = data
        _exact(sock, memoryview(head)[len(data) :])
    else:
        _exact(sock, memoryview(head))
    (n,) = _HEADER.unpack(head)
    payload = bytearray(n)
    _exact(sock, memoryview(payload))
    obj = pickle.loads(payload)
    return (obj, fds) if with_fds else obj


def die_with(parent: int) -> None:
    """Make this process die with its parent (Linux): an orphan would go on holding the
    parent's files, lake locks among them, for nothing."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the closed socket still ends it
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


# the fork: the model alone --------------------------------------------------------------


def run_model(runtime: DeepFilterRuntime, sock: socket.socket) -> None:
    """Frames in, the model's frames and local SNRs out, one chunk per message, until a
    chunk of 0 samples; then this process's peak RSS."""
    n = runtime.frame_length
    frames = np.empty(CHUNK_FRAMES * n, np.float32)
    out = np.empty_like(frames)
    snrs = np.empty(CHUNK_FRAMES, np.float64)
    head = bytearray(_HEADER.size)
    proc, state, step = runtime._lib.df_process_frame, runtime._st, n * frames.itemsize
    src, dst = frames.ctypes.data, out.ctypes.data
    while True:
        _exact(sock, memoryview(head))
        (count,) = _HEADER.unpack(head)
        if count == 0:
            break
        _exact(sock, frames[: count * n].data.cast("B"))
        for i in range(count):
            snrs[i] = proc(state, src + i * step, dst + i * step)
        sock.sendall(snrs[:count].data)
        sock.sendall(out[: count * n].data)
    sock.sendall(struct.pack("<d", peak_rss_mb()))


def _child(runtime: DeepFilterRuntime, fd: int, ping: bool) -> None:
    """In the fork: the model over the voice's frames with the inherited pristine state."""
    code = 0
    try:
        with socket.socket(fileno=fd) as sock:
            if ping:
                sock.sendall(b"k")
            else:
                run_model(runtime, sock)
    except BaseException:  # the worker is gone, or gave up on the voice
        code = 1
    finally:
        os._exit(code)


def trim_heap() -> None:
    """Hand the heap's free pages back to the system (glibc's `malloc_trim`). A fork's
    buffers come from the free space of the heap it inherited: a page still held there is
    copied on the fork's first write, a page handed back is only zero-filled. Measured on
    200 voices at 2 workers: 2-9 % less wall time. Elsewhere (no glibc), nothing."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)


def warm_up(runtime: DeepFilterRuntime) -> None:
    """Take a few frames through `run_model` on a scratch runtime, then free it: what the
    path sets up lazily (the runtime's library, numpy's dispatch, the socket calls) is then
    done once here, not again in every fork. The pristine runtime is another state."""
    a, b = socket.socketpair()
    with a, b:
        n = runtime.frame_length
        x = (0.01 * np.random.default_rng(0).standard_normal(2 * n)).astype(np.float32)
        a.sendall(_HEADER.pack(2) + x.tobytes() + _HEADER.pack(0))
        run_model(runtime, b)
        _exact(a, memoryview(bytearray(2 * 8 + x.nbytes + 8)))


def serve(config: DenoiseConfig, control: socket.socket) -> None:
    """The server's loop: one fork per request, until the worker closes its socket."""
    with DeepFilterRuntime(config) as scratch:
        warm_up(scratch)
    runtime = DeepFilterRuntime(config)  # never run in this process
    send(control, {"frame_length": runtime.frame_length, "delay": runtime.delay})
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # forks reap themselves: no zombies
    gc.collect()
    trim_heap()  # a fork's short-lived buffers then land on fresh pages, not copied ones
    gc.freeze()  # a fork's collector leaves the server's objects (and their pages) alone
    me = os.getpid()
    while True:
        try:
            request, fds = receive(control, with_fds=True)
        except (ForkLost, ConnectionError):
            return
        if len(fds) != 1:
            return  # not a worker that speaks this protocol
        (fd,) = fds
        if os.fork() == 0:
            control.close()
            die_with(me)
            _child(runtime, fd, request is None)
        os.close(fd)


def main() -> None:
    die_with(int(sys.argv[1]))
    control = socket.socket(fileno=int(sys.argv[2]))
    os.dup2(2, 1)  # a library that prints goes to stderr
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    serve(DenoiseConfig(**receive(control)), control)


# the worker's side ----------------------------------------------------------------------


def denoise_with(
    runtime: DeepFilterRuntime, config: DenoiseConfig, src: str | Path, dst: str | Path
) -> dict[str, Any]:
    """`denoise_file` on `runtime` with `config`'s settings (a fork's or a warm one)."""
    return denoise_file(src, dst, runtime, config.passthrough_depth_db, config.output_rate)


class PristineRuntime:
    """A fork's pristine runtime, as `denoise_file` uses a runtime: `process_frames`
    streams the frames through the fork in chunks; `finish` ends the fork's stream. Its
    buffers are checked and shaped as in `DeepFilterRuntime.process_frames`, repeated here
    so that `denoise.py`, part of the denoise stage's code version, stays as it is; the
    output is tested bit-identical to a fresh runtime's."""

    def __init__(self, sock: socket.socket, frame_length: int, delay: int):
        self.sock = sock
        self.frame_length = frame_length
        self.delay = delay
        self.fork_peak_rss_mb = float("nan")

    def process_frames(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = self.frame_length
        x = np.ascontiguousarray(x, dtype=np.float32)
        if len(x) % n:
            raise ValueError(f"{len(x)} samples is not a whole number of {n}-sample frames")
        out = np.empty_like(x)
        snrs = np.empty(len(x) // n, dtype=np.float64)
        for first in range(0, len(snrs), CHUNK_FRAMES):
            count = min(CHUNK_FRAMES, len(snrs) - first)
            part = slice(first * n, (first + count) * n)
            self.sock.sendall(_HEADER.pack(count))
            self.sock.sendall(x[part].data.cast("B"))
            _exact(self.sock, snrs[first : first + count].data.cast("B"))
            _exact(self.sock, out[part].data.cast("B"))
        return out, snrs

    def finish(self) -> float:
        """End the fork's stream; the fork's peak RSS (MB)."""
        self.sock.sendall(_HEADER.pack(0))
        peak = bytearray(8)
        _exact(self.sock, memoryview(peak))
        (self.fork_peak_rss_mb,) = struct.unpack("<d", peak)
        return self.fork_peak_rss_mb


class ForkingDenoiser:
    """Denoise files, each with a pristine runtime state forked from a lean server.

    Where there is no fork (not POSIX), each file gets a fresh runtime instead."""

    def __init__(self, config: DenoiseConfig = DenoiseConfig()):
        self.config = config
        self._proc: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._shape: dict[str, int] = {}
        self._lock = threading.Lock()

    def _server(self) -> socket.socket:
        if self._proc is None or self._proc.poll() is not None or self._control is None:
            self.close(kill=True)
            root = str(Path(__file__).resolve().parents[2])
            env = dict(os.environ)
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
            mine, theirs = socket.socketpair()
            with theirs:
                self._proc = subprocess.Popen(
                    [sys.executable, "-c", _SERVER, str(os.getpid()), str(theirs.fileno())],
                    pass_fds=(theirs.fileno(),),
                    env=env,
                )
            self._control = mine
            send(mine, asdict(self.config))
            self._shape = receive(mine)
        return self._control

    def _server_died(self) -> bool:
        if self._proc is None:
            return True
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=0.05)
        return self._proc.poll() is not None

    def _fork(self, ping: bool = False) -> socket.socket:
        """A socket to a fresh fork of the server (a pristine runtime)."""
        control = self._server()
        mine, theirs = socket.socketpair()
        with theirs:
            send(control, None if ping else "voice", (theirs.fileno(),))
        return mine

    @property
    def frame_length(self) -> int:
        self._server()
        return self._shape["frame_length"]

    @property
    def delay(self) -> int:
        self._server()
        return self._shape["delay"]

    def with_fork(self, work: Any, ping: bool = False) -> Any:
        """`work(socket)` on a fork. The server runs no voice itself, so its death is never
        the voice's fault: the voice is tried once more on a fresh server. A fork that dies
        while its server lives fails the voice."""
        with self._lock:
            for attempt in (1, 2):
                try:
                    with self._fork(ping) as sock:
                        return work(sock)
                except (ForkLost, BrokenPipeError, ConnectionResetError) as e:
                    if not self._server_died():
                        raise RuntimeError(f"the denoise fork died ({e})") from None
                    self.close(kill=True)
                    if attempt == 2:
                        raise RuntimeError(f"the denoise server died twice ({e})") from None
        raise AssertionError("unreachable")

    def __call__(self, src: str | Path, dst: str | Path) -> dict[str, Any]:
        if not hasattr(os, "fork"):  # pragma: no cover - POSIX has fork
            with DeepFilterRuntime(self.config) as rt:
                return denoise_with(rt, self.config, src, dst)

        def work(sock: socket.socket) -> dict[str, Any]:
            rt = PristineRuntime(sock, self._shape["frame_length"], self._shape["delay"])
            # it stands in for the runtime: frame_length, delay, process_frames
            row = denoise_with(cast(DeepFilterRuntime, rt), self.config, src, dst)
            row["worker_peak_rss_mb"] = rt.finish()
            return row

        return dict(self.with_fork(work))

    @property
    def server_pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def ping(self) -> float:
        """Seconds for one pristine state: a fork of the server that only answers."""
        t0 = time.perf_counter()
        self.with_fork(lambda sock: _exact(sock, memoryview(bytearray(1))), ping=True)
        return time.perf_counter() - t0

    def close(self, kill: bool = False) -> None:
        """Stop the server: it ends when its socket closes (or at once, with `kill`)."""
        proc, self._proc = self._proc, None
        control, self._control = self._control, None
        if proc is not None and kill:
            proc.kill()
        if control is not None:
            with contextlib.suppress(OSError):
                control.close()
        if proc is None:
            return
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - a stuck server
            proc.kill()
            proc.wait()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # interpreter shutdown
            self.close()
