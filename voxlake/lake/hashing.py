"""BLAKE3 canonical hashing: content hashes, stage hashes, derived seeds.

Hashes are taken over a canonical encoding of content, never over container bytes:
arrays as (dtype, shape, little-endian bytes); tables sorted by key, column by column.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import blake3
import numpy as np

CHUNK = 1 << 20


def hash_bytes(data: bytes) -> str:
    return blake3.blake3(data).hexdigest()


def _digest_file(h: Any, path: str | Path) -> str:
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return str(h.hexdigest())


def hash_file(path: str | Path) -> str:
    """BLAKE3 of a file's bytes, streamed: the identity of a raw voice."""
    return _digest_file(blake3.blake3(), path)


def sha256_file(path: str | Path) -> str:
    """SHA-256 of a file (model files, as their publishers give them)."""
    return _digest_file(hashlib.sha256(), path)


def _update_array(h: Any, arr: np.ndarray) -> None:
    a = np.ascontiguousarray(arr)
    if a.dtype.byteorder == ">" or (a.dtype.byteorder == "=" and not np.little_endian):
        a = a.byteswap().view(a.dtype.newbyteorder("<"))
    h.update(f"{a.dtype.str.lstrip('<>|=')}|{','.join(map(str, a.shape))}|".encode())
    h.update(a.tobytes())


def hash_array(arr: np.ndarray) -> str:
    """Hash of an array's dtype, shape and little-endian bytes."""
    h = blake3.blake3()
    _update_array(h, arr)
    return h.hexdigest()


def hash_arrays(*arrays: np.ndarray) -> str:
    h = blake3.blake3()
    for a in arrays:
        _update_array(h, a)
    return h.hexdigest()


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False, default=str)


def hash_json(value: Any) -> str:
    return hash_bytes(canonical_json(value).encode())


def stage_hash(pairs: Iterable[tuple[str, str]]) -> str:
    """A batch's stage hash: BLAKE3 over the sorted (voice_id, content hash) pairs."""
    h = blake3.blake3()
    for voice_id, content in sorted(pairs):
        h.update(f"{voice_id}:{content}\n".encode())
    return h.hexdigest()


def derive_seed(*parts: Any) -> int:
    """A seed derived from content: the first 8 bytes of BLAKE3 over the parts."""
    digest = blake3.blake3(canonical_json([str(p) for p in parts]).encode()).digest(length=8)
    return int.from_bytes(digest, "little")
