"""A full disk, named as such: the errors it causes and the free space left to the lake."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

LOW_BYTES = 64 << 20  # below this a run cannot be trusted to finish a batch
FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
FULL_MESSAGES = ("no space left", "disk is full", "disk i/o error", "quota exceeded")


def free_bytes(path: Path) -> int:
    """Free bytes on the filesystem holding `path` (or its nearest existing parent)."""
    p = Path(path)
    while not p.exists() and p != p.parent:
        p = p.parent
    return shutil.disk_usage(p).free


def caused_by_full_disk(error: BaseException) -> bool:
    """Whether the error, or one that caused it, is a filesystem out of space."""
    seen: set[int] = set()
    e: BaseException | None = error
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno in FULL_ERRNOS:
            return True
        if any(m in str(e).lower() for m in FULL_MESSAGES):
            return True
        e = e.__cause__ or e.__context__
    return False


def full_disk_message(lake_root: Path) -> str:
    free = free_bytes(lake_root) / (1 << 20)
    return (
        f"the disk holding the lake ({lake_root}) is full ({free:.0f} MB free). Nothing that "
        "was committed is lost: free some space, then run `voxlake run` again to finish"
    )
