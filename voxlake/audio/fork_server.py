"""A pristine DeepFilterNet3 state for every voice, for the cost of a fork of a small process.

The runtime's C API has no reset, and `df_create` costs about 0.3 s, so each voice is
denoised by a fork of a process that holds a runtime it never runs: the fork inherits
that state copy-on-write, pristine. What a fork costs grows with the address space of the
process forked: a pipeline worker holds torch and the GE2E encoder (half a gigabyte), and
forking it, paging in its copy and tearing it down cost about 35-50 ms per voice. So the
worker forks nothing itself. It starts one lean server process, `voxlake.audio.fork_model`
run as a script (its runtimes and the standard library: no numpy, no torch), and asks it
for a fork, which then denoises up to `VOICES_PER_FORK` voices, each on a pristine runtime
of its own.

The fork runs the model and nothing else. Every page a fork writes is copied first, so
the worker keeps the rest of a voice's work (decoding, resampling, metering, the FLAC,
its hash) in its own warm memory and streams the voice's 48 kHz frames through the fork
in chunks of `CHUNK_FRAMES`: the fork reads them into one buffer and writes the model's
output into another, reused, so it copies the runtime's state and little else. A fork
that ran the whole voice's code copied about 2,700 pages (11 MB) for a 2 s voice; a fork
that runs only the model copies about 900, whatever the voice's length.

The fork's death ends its socket, so the worker hears of it at once, and the server never
waits on a fork (its forks reap themselves). The server dies with its worker and each fork
with the server (Linux's parent-death signal): a killed run leaves nothing running. A
request of `None` forks a child that only answers: `ping()` measures the price of a fork.
"""

from __future__ import annotations

import contextlib
import os
import select
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

from voxlake.audio import fork_model
from voxlake.audio.denoise import DeepFilterRuntime, DenoiseConfig
from voxlake.audio.fork_model import (
    CHUNK_FRAMES,
    HEADER,
    VOICES_PER_FORK,
    ForkLost,
    exact,
    receive,
    send,
)
from voxlake.audio.stream import denoise_file


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
            self.sock.sendall(HEADER.pack(count))
            self.sock.sendall(x[part].data.cast("B"))
            exact(self.sock, snrs[first : first + count].data.cast("B"))
            exact(self.sock, out[part].data.cast("B"))
        return out, snrs

    def finish(self) -> float:
        """End the fork's stream; the fork's peak RSS (MB)."""
        self.sock.sendall(HEADER.pack(0))
        peak = bytearray(8)
        exact(self.sock, memoryview(peak))
        (self.fork_peak_rss_mb,) = struct.unpack("<d", peak)
        return self.fork_peak_rss_mb


class ForkingDenoiser:
    """Denoise files, each with a pristine runtime state forked from a lean server: each
    fork denoises up to `voices_per_fork` voices, one on each of its pristine runtimes
    (each about 10 MB of the server's memory).

    Where there is no fork (not POSIX), each file gets a fresh runtime instead."""

    def __init__(
        self, config: DenoiseConfig = DenoiseConfig(), voices_per_fork: int = VOICES_PER_FORK
    ):
        if voices_per_fork < 1:
            raise ValueError(f"voices_per_fork is at least 1, not {voices_per_fork}")
        self.config = config
        self.voices_per_fork = voices_per_fork  # the server's runtimes: memory for speed
        self._proc: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._shape: dict[str, int] = {}
        self._lock = threading.Lock()
        self._current: socket.socket | None = None  # the fork now in use
        self._left = 0  # its pristine runtimes not yet used
        self.forks_started = 0  # forks that denoised voices

    def _server(self) -> socket.socket:
        if self._proc is None or self._proc.poll() is not None or self._control is None:
            self.close(kill=True)
            # a script, run with `-P` so that its folder's modules shadow nothing
            script = str(Path(fork_model.__file__).resolve())
            mine, theirs = socket.socketpair()
            with theirs:
                self._proc = subprocess.Popen(
                    [sys.executable, "-P", script, str(os.getpid()), str(theirs.fileno())],
                    pass_fds=(theirs.fileno(),),
                )
            self._control = mine
            send(mine, {**asdict(self.config), "voices_per_fork": self.voices_per_fork})
            self._shape = receive(mine)
        return self._control

    def _server_died(self) -> bool:
        if self._proc is None:
            return True
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=0.05)
        return self._proc.poll() is not None

    def _fork(self, ping: bool = False) -> socket.socket:
        """A socket to a fresh fork of the server (its pristine runtimes)."""
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

    def _voice_fork(self) -> socket.socket:
        """The socket of a fork with a pristine runtime left: the current fork's, or a new
        fork's. A live fork says nothing between voices, so a readable socket is a fork
        that is gone (killed, say): it is dropped, not given the voice."""
        sock = self._current
        if sock is not None and self._left > 0 and not select.select([sock], [], [], 0)[0]:
            return sock
        self._drop_fork()
        self._current = self._fork()
        self._left = self._shape["voices_per_fork"]
        self.forks_started += 1
        return self._current

    def _drop_fork(self) -> None:
        sock, self._current, self._left = self._current, None, 0
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()

    def _one_voice(self, work: Any) -> Any:
        """`work(socket)` on the next pristine runtime of a fork. A voice that fails leaves
        its fork in an unknown state, so the fork is dropped with it."""
        sock = self._voice_fork()
        try:
            result = work(sock)
        except BaseException:
            self._drop_fork()
            raise
        self._left -= 1
        if self._left == 0:  # the fork has exited after its last runtime
            self._drop_fork()
        return result

    def with_fork(self, work: Any, ping: bool = False) -> Any:
        """`work(socket)` on a pristine runtime of a fork (with `ping`, on a fork of its
        own that only answers). The server runs no voice itself, so its death is never the
        voice's fault: the voice is tried once more on a fresh server. A fork that dies
        while its server lives fails the voice."""
        with self._lock:
            for attempt in (1, 2):
                try:
                    if ping:
                        with self._fork(ping=True) as sock:
                            return work(sock)
                    return self._one_voice(work)
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
        self.with_fork(lambda sock: exact(sock, memoryview(bytearray(1))), ping=True)
        return time.perf_counter() - t0

    def close(self, kill: bool = False) -> None:
        """Stop the server: it ends when its socket closes (or at once, with `kill`)."""
        self._drop_fork()
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
