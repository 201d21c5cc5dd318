"""The LanceDB voice index's table: where it lives, how it is opened, whole-column reads.

One table `voices` of every embedding (voice_id, batch, speaker, source, fingerprint,
vector). `voxlake.embed.index_writer` keeps it current; `voxlake.embed.index_search`
queries it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from voxlake.lake.store import Lake

ASSET = "voice_index"
TABLE = "voices"
DEFAULT_ANN_THRESHOLD = 100_000
DEFAULT_NPROBES_FRACTION = 0.04
DEFAULT_REFINE_FACTOR = 5
REBUILD_GROWTH = 2.0  # retrain once sqrt(rows) exceeds this many times the partitions
# Rows upserted since the last optimize that search scans exactly (LanceDB searches rows
# the ANN index does not cover yet by brute force, so results stay complete). `optimize`
# compacts the table: it rewrites the fragment being filled (up to 1M rows, ~1 GB), so it
# runs once this many rows have piled up (40 batches of 500), not after every batch.
DEFAULT_OPTIMIZE_AFTER = 20_000


@dataclass(frozen=True)
class AnnPolicy:
    threshold: int = DEFAULT_ANN_THRESHOLD
    nprobes_fraction: float = DEFAULT_NPROBES_FRACTION
    refine_factor: int = DEFAULT_REFINE_FACTOR

    @staticmethod
    def partitions(rows: int) -> int:
        return max(2, round(float(np.sqrt(rows))))


def location(lake: Lake) -> tuple[str, dict[str, str] | None]:
    """Where the index's Lance data lives, and the object-store options to reach it: the
    lake's `index/` folder; or, for a lake whose tables are on an object store (a step's
    working copy), its `index/` prefix there, read and written in place with the tables'
    credentials. Only `_state.json` and `_ann.json` stay in the working copy."""
    tables = lake.tables.location
    if "://" not in tables:
        return str(lake.index_dir), None
    options = {
        k.lower(): v
        for k, v in (lake.tables.storage_options or {}).items()
        if k.lower() != "aws_conditional_put"  # the lease serialises the index's writers
    }
    return tables.rsplit("/", 1)[0] + "/index", options


def present(lake: Lake) -> bool:
    """Whether the lake may hold an index (on a store: always asked, never listed)."""
    return location(lake)[1] is not None or lake.index_dir.exists()


def connect(lake: Lake) -> Any:
    import lancedb

    uri, options = location(lake)
    if options is None:
        lake.index_dir.mkdir(parents=True, exist_ok=True)
        return lancedb.connect(uri)
    return lancedb.connect(uri, storage_options=options)


def state_path(lake: Lake) -> Path:
    return lake.index_dir / "_state.json"


def open_table(db: Any) -> Any | None:
    listing = db.list_tables()
    names = listing.tables if hasattr(listing, "tables") else listing
    return db.open_table(TABLE) if TABLE in names else None


def columns(tbl: Any, names: list[str]) -> pa.Table:
    """Whole columns of the table, without reading the vectors unless asked for."""
    return tbl.search().select(names).limit(None).to_arrow()


def quote(values: list[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def ann_path(lake: Lake) -> Path:
    return lake.index_dir / "_ann.json"


def ann_partitions(lake: Lake) -> int:
    """The partitions of the current ANN index (0: none, search is exact)."""
    path = ann_path(lake)
    return int(json.loads(path.read_text())["partitions"]) if path.exists() else 0


def count(lake: Lake) -> int:
    tbl = open_table(connect(lake)) if present(lake) else None
    return int(tbl.count_rows()) if tbl is not None else 0


def first_fingerprint(tbl: Any) -> str | None:
    """The embedder fingerprint of the table's first row (the index holds only one)."""
    fps = tbl.search().select(["fingerprint"]).limit(1).to_arrow()["fingerprint"].to_pylist()
    return fps[0] if fps else None


def index_fingerprint(lake: Lake) -> str | None:
    tbl = open_table(connect(lake))
    return None if tbl is None else first_fingerprint(tbl)
