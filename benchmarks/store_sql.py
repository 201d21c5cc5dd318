"""`voxlake sql` on a store lake: a query's cost before and after the schema cache.

    python benchmarks/store_sql.py [--sizes 10000 50000] [--template build/ladder/lake]

Builds lakes as benchmarks/ladder_sim.py does (clones of one real batch of the template:
every table file, real schemas, new ids), publishes each to an S3 API server on loopback
(moto, an emulator: no network latency, so a real store's per-request cost comes on top of
every footer read below), and times `catalog.query_store` of `select count(*) from voices`:
- `before`: every view with union_by_name (what each query did), which opens every footer
  (one run: it is the slow one);
- `first`: with the cache empty (reads every footer once, as `before` does);
- `warm`: the cache filled (reads none; each view opens its first file's footer); median
  of 3.
The last line is the JSON, also written to benchmarks/results/store_sql.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))
RESULTS = Path(__file__).parent / "results"
SQL = "select count(*) from voices"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000])
    ap.add_argument("--template", type=Path, default=ROOT / "build/ladder/lake")
    args = ap.parse_args()
    from ladder_sim import build, timed

    from voxlake.lake import catalog, store_schemas
    from voxlake.lake.objectstore import StoreConfig
    from voxlake.lake.remote import StoreLake
    from voxlake.lake.store import Lake
    from voxlake.pipeline import batch_complete
    from voxlake.testing.s3 import s3_server

    src = Lake(args.template.resolve())
    old = next(b for b in sorted(src.table_batches("voices")) if batch_complete(src, b))
    out: dict[str, Any] = {"sql": SQL, "store": "moto on loopback", "sizes": {}}
    with tempfile.TemporaryDirectory() as tmp, s3_server() as s3:
        os.environ["VOXLAKE_CACHE"] = str(Path(tmp) / "cache")
        for n in args.sizes:
            lake = Path(tmp) / f"lake_{n}"
            build(lake, src.root, old, n)
            uri = s3.uri(f"lakes/{n}")
            t0 = time.perf_counter()
            objects = StoreLake.of(StoreConfig(uri)).publish(Lake(lake))
            published = time.perf_counter() - t0
            files = sum(1 for _ in (lake / "tables").rglob("*.parquet"))
            shutil.rmtree(lake)
            real = store_schemas.uniform
            store_schemas.uniform = lambda schemas: False  # type: ignore[assignment]
            before = timed(lambda uri=uri: catalog.query_store(uri, SQL), 1)
            store_schemas.uniform = real
            (Path(tmp) / "cache" / store_schemas.FILE).unlink(missing_ok=True)
            first = timed(lambda uri=uri: catalog.query_store(uri, SQL), 1)
            warm = timed(lambda uri=uri: catalog.query_store(uri, SQL), 3)
            answer = catalog.query_store(uri, SQL)[1][0][0]
            assert answer == n, answer
            out["sizes"][str(n)] = {
                "table_files": files,
                "objects_published": objects,
                "publish_s": round(published, 1),
                "before_s": round(before, 3),
                "first_s": round(first, 3),
                "warm_s": round(warm, 3),
            }
            print(f"{n}: {out['sizes'][str(n)]}", file=sys.stderr, flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "store_sql.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out))


if __name__ == "__main__":
    os.environ.setdefault("VOXLAKE_PROGRESS", "off")
    main()
