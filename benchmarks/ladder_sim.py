"""The validation ladder, simulated: a new 500-voice batch's non-audio work in lakes that
already hold 10^4 to 5 * 10^6 voices (and 10^7 where the tables fit on a disk).

    python benchmarks/ladder_sim.py --template build/ladder/lake [--sizes 10000 100000 1000000]
        [--leave-out TABLE ...] [--skip-before] [--out ladder.json]

The old batches are clones of one real batch of the template lake (a lake the real
pipeline made, e.g. by benchmarks/ladder_real.py): every table file, with the real
schemas and partitioning, its voice ids and batch key replaced by unique synthetic ones;
their manifests; their Dagster partitions; a LanceDB index of all their embeddings with
its ANN index; and the dataset statistics over them. The new batch is another real batch
of the template: its 500 raw files land in the inbox, and its tables are the real ones.

Timed, for the new batch, each the way the pipeline runs it:
- `sensor_tick`: the inbox sensor on the lake's instance (scan, manifest, partitions);
- `duplicate_check`: the raw stage's lookup of the batch's ids in the other batches;
- `mel_stats_update`: the batch's partial merged into the dataset statistics + its GX check;
- `index_sync`: the batch upserted into the LanceDB index + the index's GX check;
- `catalog_refresh`: the DuckDB catalog's views (`_cold`: its first refresh, which reads
  every footer once; `before_`: the refresh as it was, union_by_name over every footer);
- `index_rows_cold`: the first count of the embeddings rows, which fills the index's
  row-count cache from every footer (once per lake; `index_sync` then finds it warm);
- `gx_batch`: the GX suites of the batch's four tables;
- `query_batch_summary`, `query_mel_stats_slices`, `query_search`: the catalog queries.
The last line is the JSON, also written to benchmarks/results/ladder.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = Path(__file__).parent / "results"
BATCH = 500
TABLES = (
    "voices",
    "denoise_metrics",
    "embeddings",
    "voice_mel_stats",
    "batch_mel_stats",
    "lineage",
    "voice_hashes",
    "rejected",
    "duplicates",
    "quality_results",
)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def synthetic_ids(k: int, n: int) -> list[str]:
    return [hashlib.blake2b(f"sim-{k}-{i}".encode(), digest_size=32).hexdigest() for i in range(n)]


def _with(t: pa.Table, name: str, values: pa.Array) -> pa.Table:
    return t.set_column(t.schema.get_field_index(name), name, values)


def clone_table(t: pa.Table, batch: str, ids: dict[str, str]) -> pa.Table:
    if "batch" in t.column_names:
        t = _with(t, "batch", pa.array([batch] * t.num_rows, pa.string()))
    if "voice_id" in t.column_names:
        old = t.column("voice_id").to_pylist()
        t = _with(t, "voice_id", pa.array([ids.get(v, v) for v in old], pa.string()))
    return t


def jitter(rows: pa.Table, k: int) -> pa.Table:
    """Distinct unit vectors near the template's (an index of 2000 copies of 500 vectors
    would not cluster like a real one)."""
    v = np.stack(rows.column("vector").to_numpy(zero_copy_only=False)).astype(np.float32)
    v += np.random.default_rng(k).normal(0, 0.05, v.shape).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    vectors = pa.FixedSizeListArray.from_arrays(pa.array(v.ravel()), v.shape[1])
    return _with(rows, "vector", vectors.cast(rows.schema.field("vector").type))


def build(
    lake_root: Path, template: Path, old_batch: str, n_old: int, leave_out: tuple[str, ...] = ()
) -> None:
    """Clone the template's `old_batch` into n_old / 500 batches of a fresh lake (without
    the tables in `leave_out`, where the disk cannot hold them)."""
    from voxlake.embed import index_writer
    from voxlake.embed.index_table import connect, state_path
    from voxlake.features import dataset as dataset_stats
    from voxlake.ingest.inbox import InboxFile, Manifest, manifest_path, read_manifest
    from voxlake.lake.lineage import stored_stage_hash
    from voxlake.lake.store import Lake, atomic_write_json

    shutil.rmtree(lake_root, ignore_errors=True)
    lake, src = Lake(lake_root).ensure(), Lake(template)
    tables = {t: src.read_table(t, old_batch) for t in TABLES}
    parts_of = {  # every part file of each table, read once
        (t, f.stem): pq.read_table(f)
        for t in TABLES
        if t not in leave_out
        for f in src.table_files(t, old_batch)
    }
    manifest = read_manifest(src, old_batch)
    template_ids = sorted(tables["voices"].column("voice_id").to_pylist())
    index_rows = index_writer._index_rows(src, old_batch)
    emb_hash = stored_stage_hash(src, old_batch, "voice_embeddings") or ""
    k_batches = n_old // BATCH
    parts, seen = [], {}
    db = connect(lake)
    chunk = 2_000  # batches (10^6 rows) a write: the vectors of 10^7 voices do not fit in memory
    tbl = None

    def flush() -> Any:
        if not parts:
            return tbl
        rows = pa.concat_tables(parts)
        parts.clear()
        if tbl is None:
            return db.create_table("voices", rows)
        tbl.add(rows)
        return tbl

    for k in range(k_batches):
        batch = f"{k + 1:06d}-{hashlib.sha256(str(k).encode()).hexdigest()[:8]}"
        ids = dict(zip(template_ids, synthetic_ids(k, len(template_ids)), strict=True))
        for (name, part), t in parts_of.items():
            path = lake.table_file(name, batch, part=part)
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(clone_table(t, batch, ids), path)
        files = tuple(
            InboxFile(
                f"old/{batch}/{i}.wav", f.size, f.mtime_ns, ids.get(f.voice_id or "", f.voice_id)
            )
            for i, f in enumerate(manifest.files)
        )
        m = Manifest(batch, files, manifest.created_at)
        atomic_write_json(manifest_path(lake, batch), m.to_json())
        parts.append(jitter(clone_table(index_rows, batch, ids), k))
        seen[batch] = emb_hash
        if len(parts) == chunk:
            tbl = flush()
        if (k + 1) % 200 == 0:
            log(f"  cloned {k + 1}/{k_batches} batches")
    tbl = flush()
    assert tbl is not None
    index_writer._key_indexes(tbl)
    index_writer._maintain_ann(lake, tbl, tbl.count_rows(), 10_000, True)
    atomic_write_json(state_path(lake), seen)
    # a lake synced before: the index's lineage cache is warm (its first fill is once)
    atomic_write_json(
        index_writer._lineage_cache_path(lake), index_writer._current_and_cache(lake)[1]
    )
    fingerprint = tables["batch_mel_stats"].column("fingerprint")[0].as_py()
    n_mels = len(tables["batch_mel_stats"].column("sum")[0])
    dataset_stats.update(lake, fingerprint, n_mels, rebuild=True)


def timed(fn: Callable[[], Any], repeats: int = 1) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def new_batch(
    lake_root: Path,
    template: Path,
    new: str,
    leave_out: tuple[str, ...] = (),
    time_before: bool = True,
) -> dict[str, float]:
    """Land the template's batch `new` in the lake and time its non-audio work."""
    import dagster as dg

    from voxlake.embed import index_search, index_writer
    from voxlake.features import dataset as dataset_stats
    from voxlake.ingest import raw
    from voxlake.ingest.inbox import list_batches
    from voxlake.lake import catalog
    from voxlake.lake.store import Lake
    from voxlake.orchestration.sensors import voice_inbox
    from voxlake.quality.checks import gx_check
    from voxlake.resources import LakeResource

    lake, src = Lake(lake_root), Lake(template)
    out: dict[str, float] = {}
    home = lake_root / "dagster"
    home.mkdir(exist_ok=True)
    instance = dg.DagsterInstance.from_config(str(home))
    before = list_batches(lake)
    instance.add_dynamic_partitions("voice_batches", before)
    resource = LakeResource(root=str(lake_root))
    with dg.build_sensor_context(instance=instance, resources={"lake": resource}) as ctx:
        voice_inbox(ctx)  # warm: the seen-index catches up with the clones' manifests
    # a lake refreshed before: the catalog's file-schema cache is warm (this first fill is
    # once per lake, or after an upgrade from a catalog without it)
    out["catalog_refresh_cold"] = timed(lambda: catalog.refresh(lake))
    # the same for the index's row-count cache (once per lake, or after an upgrade)
    out["index_rows_cold"] = timed(lambda: index_writer.embedding_rows(lake))
    raws = src.read_table("voices", new)
    for rel in raws.column("raw_path").to_pylist():
        shutil.copy2(src.root / rel, lake.inbox / Path(rel).name)
    with dg.build_sensor_context(instance=instance, resources={"lake": resource}) as ctx:
        t0 = time.perf_counter()
        result = voice_inbox(ctx)
        out["sensor_tick"] = time.perf_counter() - t0
    assert isinstance(result, dg.SensorResult), result
    (batch,) = sorted(set(list_batches(lake)) - set(before))
    ids = {v: v for v in raws.column("voice_id").to_pylist()}
    for name in TABLES:
        for f in src.table_files(name, new):
            path = lake.table_file(name, batch, part=f.stem)
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(clone_table(pq.read_table(f), batch, ids), path)
    raw.voices_elsewhere(lake, "(warm)", [])  # nothing to look up: no catch-up either
    out["duplicate_check_first"] = timed(lambda: raw.voices_elsewhere(lake, batch, ids))
    out["duplicate_check"] = timed(lambda: raw.voices_elsewhere(lake, batch, ids), 3)

    def before_duplicate_scan() -> None:  # the column scan the keyed index replaced
        import duckdb

        files = [f.as_posix() for f in lake.table_files("voices") if batch not in f.as_posix()]
        with duckdb.connect() as con:
            con.execute("create temp table wanted as select unnest(?) as voice_id", [list(ids)])
            con.execute(
                "select voice_id, min(batch) from read_parquet(?) join wanted using (voice_id) "
                "group by voice_id",
                [files],
            ).fetchall()

    if time_before:
        out["before_duplicate_scan"] = timed(before_duplicate_scan)
    partial = lake.read_table("batch_mel_stats", batch)
    fingerprint = partial.column("fingerprint")[0].as_py()
    n_mels = len(partial.column("sum")[0])

    def mel_stats() -> None:
        dataset_stats.mark_changed(lake, batch, partial.column("partial_hash")[0].as_py())
        dataset_stats.update(lake, fingerprint, n_mels)
        gx_check(
            lake, "mel_stats", "dataset_mel_stats", lake.read_table("dataset_mel_stats"), "", n_mels
        )

    out["mel_stats_update"] = timed(mel_stats)

    out["index_sync_alone"] = timed(lambda: index_writer.sync(lake))
    index_writer.state_path(lake).write_text(  # once more, with its check, as the asset runs
        json.dumps({**json.loads(index_writer.state_path(lake).read_text()), batch: "again"})
    )

    def index() -> None:  # as the voice_index asset runs it
        result = index_writer.sync(lake)
        changed = list(result.extra["changed_batches"])
        ids_now = pa.table({"voice_id": index_search.voice_ids(lake, changed)})
        expected = sum(lake.table_rows("embeddings", b) for b in changed)
        gx_check(lake, "voice_index", "index", ids_now, expected_rows=expected)
        index_writer.check_total(lake, result.rows)

    out["index_sync"] = timed(index)

    def before_index_reads() -> None:  # what each sync read before the lineage cache
        import blake3

        from voxlake.embed.index_table import columns, connect, open_table
        from voxlake.lake.hashing import canonical_json
        from voxlake.lake.lineage import stored_stage_hash

        def hash_table(table: pa.Table, key: str) -> str:  # the index's hash, as it was
            t = table.sort_by([(key, "ascending")])
            h = blake3.blake3()
            for name in sorted(t.column_names):
                col = t.column(name)
                h.update(f"{name}:{col.type}|{len(col)}|".encode())
                h.update(canonical_json(col.to_pylist()).encode())
            return h.hexdigest()

        for b in lake.table_batches("embeddings"):
            stored_stage_hash(lake, b, "voice_embeddings")
        hash_table(
            columns(open_table(connect(lake)), ["voice_id", "batch", "fingerprint"]), "voice_id"
        )
        assert lake.read_table("embeddings").num_rows >= 0

    if time_before:
        out["before_index_reads"] = timed(before_index_reads)
    out["catalog_refresh"] = timed(lambda: catalog.refresh(lake), 3)

    def before_catalog_refresh() -> None:  # the refresh as it was: rglob, union_by_name
        import duckdb

        path = lake.root / "catalog_before.duckdb"
        with duckdb.connect(str(path)) as con:
            for name, schema in catalog.TABLES.items():
                catalog._drop(con, name)
                d = lake.table_dir(name)
                if sorted(p for p in d.rglob("*.parquet") if not p.name.startswith(".tmp-")):
                    glob = (d / "**" / "*.parquet").as_posix()
                    catalog._create_view(con, name, f"'{glob}'", union_by_name=True)
                else:
                    catalog._create_empty(con, name, schema)
            catalog._create_derived_views(con)

    if time_before:
        out["before_catalog_refresh"] = timed(before_catalog_refresh, 3)

    def gx_batch() -> None:
        for table in ("voices", "denoise_metrics", "embeddings", "voice_mel_stats"):
            gx_check(lake, table, table, lake.read_table(table, batch), batch)

    out["gx_batch"] = timed(gx_batch)
    queries = {
        "batch_summary": "select * from batch_summary",
        "mel_stats_slices": (ROOT / "sql/queries/mel_stats_slices.sql").read_text(),
    }
    if "voice_mel_stats" in leave_out:  # it would aggregate the new batch alone
        del queries["mel_stats_slices"]
    for name, sql in queries.items():
        out[f"query_{name}"] = timed(lambda sql=sql: catalog.query(lake, sql), 3)
    vec = index_search.vector_of(lake, next(iter(ids)))
    out["query_search"] = timed(lambda: index_search.search(lake, vec, k=10), 5)
    return out


FORMER_LAYOUT = (
    "ladder_sim.py measures the former table layout (a Parquet file per batch), which the "
    "Delta tables replaced; its results (ladder_*.json) are the baseline that the Delta "
    "ladder (benchmarks/results/ladder_tables.json, still to be written) is compared with"
)


def main() -> None:
    raise SystemExit(FORMER_LAYOUT)
    ap = argparse.ArgumentParser()
    ap.add_argument("--template", type=Path, default=ROOT / "build/ladder/lake")
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--work", type=Path, default=ROOT / "build/ladder_sim")
    ap.add_argument("--keep", action="store_true", help="keep the built lakes")
    ap.add_argument(
        "--leave-out",
        nargs="*",
        default=[],
        metavar="TABLE",
        help="tables the old batches do not get (a disk too small for them); their queries "
        "are not timed",
    )
    ap.add_argument("--out", default="ladder.json", help="the results file's name")
    ap.add_argument(
        "--skip-before",
        action="store_true",
        help="do not time what each step did before (the slow comparisons)",
    )
    ap.add_argument(
        "--phase",
        choices=("build", "measure", "both"),
        default="both",
        help="build the lakes (kept), measure lakes built before, or both",
    )
    args = ap.parse_args()
    from voxlake.lake.store import Lake
    from voxlake.pipeline import batch_complete

    src = Lake(args.template.resolve())
    done = [b for b in sorted(src.table_batches("voices")) if batch_complete(src, b)]
    if len(done) < 2:
        raise SystemExit("the template needs two complete batches (benchmarks/ladder_real.py)")
    old, new = done[0], done[1]
    leave_out = tuple(args.leave_out)
    results: dict[str, Any] = {
        "template": str(args.template),
        "batch_size": BATCH,
        "left_out": list(leave_out),
        "sizes": {},
    }
    path = RESULTS / args.out
    if args.phase != "build":  # imports and first-use costs, left out of every size's figures
        warm = (args.work / "warm-up").resolve()
        build(warm, src.root, old, BATCH)
        new_batch(warm, src.root, new)
        shutil.rmtree(warm, ignore_errors=True)
    for n in args.sizes:
        root = (args.work / f"lake_{n}").resolve()
        if args.phase != "measure":
            t0 = time.perf_counter()
            build(root, src.root, old, n, leave_out)
            log(f"built a lake of {n} voices in {time.perf_counter() - t0:.0f} s")
        if args.phase == "build":
            continue
        figures = new_batch(root, src.root, new, leave_out, time_before=not args.skip_before)
        figures = {k: round(v, 4) for k, v in figures.items()}
        log(f"{n}: " + ", ".join(f"{k} {v:.3f}s" for k, v in figures.items()))
        results["sizes"][str(n)] = figures
        first = results["sizes"][str(args.sizes[0])]
        results["ratio_to_smallest"] = {
            k: round(v / first[k], 2) if first.get(k) else None for k, v in figures.items()
        }
        RESULTS.mkdir(exist_ok=True)
        path.write_text(json.dumps(results, indent=2) + "\n")
        if not args.keep and args.phase == "both":
            shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(results))


if __name__ == "__main__":
    os.environ.setdefault("VOXLAKE_PROGRESS", "off")
    main()
