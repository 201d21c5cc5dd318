"""How an export reaches the stored audio its plan names.

The plan needs each file's size (shards are cut by bytes) and a writer needs the file's
bytes. On a local lake both are the files themselves. On a lake on an object store, a step
works on a working copy (`voxlake.lake.objectstore.remote.StoreLake.read_session`): sizes
come from the store's listing of the files' folders, and a writer fetches its shard's files
into the copy just before it writes that shard and drops them once the shard is written,
so a machine holds no more audio than the shards it is writing. The bytes are the stored
objects either way, so the shards are the same.
"""

from __future__ import annotations

import os
from typing import Protocol


class LakeFiles(Protocol):
    def sizes(self, paths: list[str]) -> list[int]:
        """Bytes of each stored file (absolute paths under the lake's root)."""
        ...

    def fetch(self, paths: list[str]) -> None:
        """Make these files readable at their paths."""
        ...

    def release(self, paths: list[str]) -> None:
        """The writer is done with these files."""
        ...


class LocalFiles:
    """A local lake's files: already where their paths say."""

    def sizes(self, paths: list[str]) -> list[int]:
        return [os.stat(p).st_size for p in paths]

    def fetch(self, paths: list[str]) -> None:
        return None

    def release(self, paths: list[str]) -> None:
        return None
