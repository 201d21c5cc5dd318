"""A voice's log-mel features, computed and stored as a stream.

The denoised file is decoded and resampled block by block (`mono_blocks`), framed by
`MelFramer`, and each block's rows go to disk and into the voice's exact sums at once, so
a two-hour recording costs no more memory than a two-minute one. The rows, the .npy file,
its content hash and the sums are bit-identical to computing `log_mel` on the whole
signal (tests compare them).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import blake3
import numpy as np

from voxlake.audio.decode import mono_blocks
from voxlake.features.mel import MelConfig, MelFramer, to_log
from voxlake.features.stats import MelStats, MelSums

COPY_BYTES = 1 << 22


@dataclass(frozen=True)
class MelFile:
    n_frames: int
    content_hash: str  # hash_array of the [n_frames, n_mels] float32 features
    sums: MelSums


def write_log_mel(source: str | Path, target: str | Path, cfg: MelConfig) -> MelFile:
    """Log-mel features of `source` written to `target` (.npy, atomically)."""
    out = Path(target)
    out.parent.mkdir(parents=True, exist_ok=True)
    stats = MelStats(cfg.n_mels)
    framer = MelFramer(cfg)
    n_frames = 0
    fd, rows_path = tempfile.mkstemp(dir=out.parent, prefix=".tmp-", suffix=".rows")
    try:
        with os.fdopen(fd, "wb") as rows_file:

            def put(power: np.ndarray) -> None:
                nonlocal n_frames
                if len(power) == 0:
                    return
                rows = np.ascontiguousarray(to_log(power, cfg), dtype="<f4")
                stats.add_frames(rows, voices=1 if n_frames == 0 else 0)
                rows_file.write(rows.tobytes())
                n_frames += len(rows)

            for block in mono_blocks(source, cfg.sample_rate):
                put(framer.feed(block))
            put(framer.finish())
        content_hash = _write_npy(Path(rows_path), out, (n_frames, cfg.n_mels))
    finally:
        if os.path.exists(rows_path):
            os.unlink(rows_path)
    return MelFile(n_frames, content_hash, stats.sums())


def _write_npy(rows_path: Path, out: Path, shape: tuple[int, int]) -> str:
    """The rows as a float32 .npy at `out` (atomic); returns their hash_array."""
    h = blake3.blake3()
    h.update(f"f4|{shape[0]},{shape[1]}|".encode())
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=".tmp-", suffix=".npy")
    try:
        with os.fdopen(fd, "wb") as f, open(rows_path, "rb") as rows:
            header = {"descr": "<f4", "fortran_order": False, "shape": shape}
            np.lib.format.write_array_header_1_0(f, header)
            while chunk := rows.read(COPY_BYTES):
                h.update(chunk)
                f.write(chunk)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return str(h.hexdigest())


__all__ = ["MelFile", "write_log_mel"]
