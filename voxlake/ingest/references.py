"""Ingest by reference: record where files are and what they hold, without copying them.

`reference_files` hashes each file where it lies and appends (absolute path, size, mtime,
voice_id, root) to the lake's reference log; the next inbox scan (`voxlake run` or the
sensor) puts the new ones in batches as it does inbox files. The raw stage copies each
accepted file into the lake by content hash, so the lake holds one copy, not three. A file
that changes or vanishes before that run is rejected as `changed` or `missing`.

Only this explicit command writes the log: a file dropped into a shared inbox can never
make the lake read outside it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from voxlake.ingest.inbox import (
    REFERENCES_LOG,
    InboxFile,
    append_log,
    log_entries,
    rewrite_log,
    walk_inbox,
)
from voxlake.ingest.seen import seen_index
from voxlake.lake.hashing import hash_file
from voxlake.lake.store import Lake


@dataclass(frozen=True)
class Referenced:
    new: int
    known: int  # already referenced, unchanged


def _files(path: Path) -> Iterable[tuple[Path, Path]]:
    """(root, file) for a file, or for every input under a folder (sidecars left out)."""
    p = Path(os.path.abspath(path))
    if p.is_dir():
        yield from ((p, f) for f in walk_inbox(p))
    else:
        yield p.parent, p


def reference_files(lake: Lake, paths: list[Path]) -> Referenced:
    """Record the files (or folders' files) for the next scan; nothing is copied."""
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise FileNotFoundError(f"no such file or folder: {missing[0]}")
    lake.ensure()
    entries = []
    for root, f in (pair for p in paths for pair in _files(p)):
        st = f.stat()
        entries.append(
            InboxFile(f.as_posix(), st.st_size, st.st_mtime_ns, hash_file(f), root.as_posix())
        )
    with lake.lock("batches"), seen_index(lake) as index:
        known = {e.key() for e in log_entries(lake, REFERENCES_LOG)}
        known |= index.seen(e.key() for e in entries)  # already in a batch
        fresh = [e for e in dict.fromkeys(entries) if e.key() not in known]
        append_log(lake, REFERENCES_LOG, fresh)
    return Referenced(len(fresh), len(entries) - len(fresh))


def drop_references(lake: Lake, voice_ids: set[str]) -> int:
    """Forget: remove the voices' references, so that no later scan ingests them again,
    and their files from the scan's index, so that they can be ingested anew if sent."""
    with lake.lock("batches"), seen_index(lake) as index:
        index.forget(voice_ids)
        entries = log_entries(lake, REFERENCES_LOG)
        kept = [e for e in entries if e.voice_id not in voice_ids]
        if len(kept) != len(entries):
            rewrite_log(lake, REFERENCES_LOG, kept)
    return len(entries) - len(kept)
