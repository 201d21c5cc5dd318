"""A corpus on an object store (`voxlake ingest --from FORMAT s3://bucket/prefix`): its
objects are copied into the lake's `sources/<bucket>/<prefix>/` (through the store
mirror: an object held with the same e_tag is not fetched again, and each copy keeps the
store's modification time), then read as a folder. The raw stage then takes each voice in
from that copy, as from any referenced file; `sources/` may be deleted once `voxlake run`
has taken them in (a later `ingest --from` of the prefix copies again)."""

from __future__ import annotations

from pathlib import Path

from voxlake.lake.objectstore import StoreConfig, open_store
from voxlake.lake.objectstore.mirror import WorkingCopy
from voxlake.lake.store import Lake
from voxlake.lake.tables import Tables

SOURCES_DIR = "sources"


def copy_prefix(lake: Lake, uri: str) -> Path:
    """Copy every object under `uri` into the lake; returns the local folder."""
    bucket, prefix = StoreConfig(uri).bucket_and_prefix
    folder = lake.root / SOURCES_DIR / bucket / prefix
    copy = WorkingCopy(open_store(uri), folder, Tables(str(folder / ".tables")))
    copy.pull_prefix("")
    copy.save()
    return folder
