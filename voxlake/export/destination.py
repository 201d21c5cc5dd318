"""Where shards go: a local folder or an object-store prefix, one file visible at a time.

A file is written under a temporary name and becomes visible under its own name only
when it is complete: renamed into place in a folder, uploaded in one PUT to a store
(both are atomic for a reader). So a reader, or a resumed export, never sees half a shard.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

PARTIAL = ".voxlake-partial"  # temporary files of a local export, removed at the end


class Destination:
    """A folder: files are renamed into place."""

    def __init__(self, root: Path):
        self.root = root

    def __str__(self) -> str:
        return str(self.root)

    def size(self, rel: str) -> int | None:
        try:
            return (self.root / rel).stat().st_size
        except FileNotFoundError:
            return None

    def read_json(self, rel: str) -> Any | None:
        try:
            return json.loads((self.root / rel).read_text())
        except FileNotFoundError:
            return None

    def open_bytes(self, rel: str) -> BinaryIO:
        return open(self.root / rel, "rb")

    def is_empty(self) -> bool:
        return not self.root.exists() or not any(p.name != PARTIAL for p in self.root.iterdir())

    def write_bytes(self, rel: str, data: bytes) -> None:
        with self.writing(rel) as path:
            path.write_bytes(data)

    def write_json(self, rel: str, value: Any) -> None:
        self.write_bytes(rel, (json.dumps(value, indent=1, sort_keys=True) + "\n").encode())

    @contextlib.contextmanager
    def writing(self, rel: str) -> Iterator[Path]:
        """A temporary file to write `rel` into, published (fsynced, then renamed into
        place) when the block ends without an error."""
        final = self.root / rel
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp_dir = self.root / PARTIAL
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=tmp_dir, prefix=final.name + ".")
        os.close(fd)
        tmp = Path(name)
        try:
            yield tmp
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            os.chmod(tmp, 0o644)
            os.replace(tmp, final)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def remove(self, rel: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.root / rel).unlink()

    def finish(self) -> None:
        shutil.rmtree(self.root / PARTIAL, ignore_errors=True)


class StoreDestination(Destination):
    """An object-store prefix (s3://bucket/prefix): files are staged on local disk and put
    in one request."""

    def __init__(self, uri: str):
        from voxlake.lake.objectstore import open_store

        self.uri = uri.rstrip("/")
        self.store = open_store(self.uri)
        super().__init__(Path(tempfile.gettempdir()))

    def __str__(self) -> str:
        return self.uri

    def size(self, rel: str) -> int | None:
        import obstore

        try:
            return int(obstore.head(self.store, rel)["size"])
        except FileNotFoundError:
            return None

    def read_json(self, rel: str) -> Any | None:
        import obstore

        try:
            return json.loads(bytes(obstore.get(self.store, rel).bytes()))
        except FileNotFoundError:
            return None

    def open_bytes(self, rel: str) -> BinaryIO:
        import io

        import obstore

        return io.BytesIO(bytes(obstore.get(self.store, rel).bytes()))

    def is_empty(self) -> bool:
        import obstore

        return all(not chunk for chunk in obstore.list(self.store, chunk_size=1))

    @contextlib.contextmanager
    def writing(self, rel: str) -> Iterator[Path]:
        import obstore

        with tempfile.TemporaryDirectory(prefix="voxlake-shard-") as folder:
            tmp = Path(folder) / Path(rel).name
            tmp.touch()
            yield tmp
            obstore.put(self.store, rel, tmp)

    def remove(self, rel: str) -> None:
        import obstore

        with contextlib.suppress(FileNotFoundError):
            obstore.delete(self.store, rel)

    def finish(self) -> None:
        return None


def destination(out: str | Path) -> Destination:
    from voxlake.lake.objectstore import is_remote

    return StoreDestination(str(out)) if is_remote(str(out)) else Destination(Path(out))
