"""The bookkeeping ladder on the Delta tables: a new 500-voice batch's non-audio work in
lakes that already hold 10^4 to 10^6 voices (10^7 projected where the disk cannot hold it).

    python benchmarks/ladder_tables.py [--template build/ladder_tables/template]
        [--sizes 10000 100000 1000000] [--one-by-one 2000] [--out ladder_tables.json]

The template is a lake the real pipeline made (two batches of 500 generated voices,
`voxlake.testing.make_lake` and every batch stage; made here if missing). A rung's old
batches are clones of its first batch, every table's rows with unique synthetic voice
ids and batch keys. The history is realistic: the older batches are bulk-loaded (one
append per table and 200 batches), and the last `--one-by-one` are committed one by one
through `Lake.write_table`, the code path of a real batch, with `voxlake compact` every
200 batches as its nightly schedule would run it. The LanceDB index holds every
embedding (with its ANN index), and the dataset statistics every batch.

Timed for the new batch (the template's second), each as the pipeline runs it:
- `table_commits`: every (table, part) write of the batch, each one Delta commit;
- `sensor_tick`: the inbox sensor (scan, manifest, partition) with its 500 files landed;
- `duplicate_check`: the raw stage's lookup of its ids (`_first`: with the catch-up of
  the files committed since the last lookup; `duplicate_index_after_compaction`: the
  index reading the merged files once after a compaction, which the compaction job pays);
- `mel_stats_update`: its partial merged into the dataset statistics and its change into
  the sums per speaker and source (`slice_mel_sums`), and the GX check;
- `index_sync`: its embeddings appended to the LanceDB index, with the asset's checks;
- `bookkeeping`: the sum of the five (the catalog has nothing to refresh: a query builds
  its views from the snapshot, `catalog_open`);
then, after the maintenance the nightly schedule runs (`voxlake.maintenance.maintain`: the
slice sums folded, every table compacted): `files_per_table` (the most data files of any
table), `batch_summary`, `mel_stats_slices` (and `slice_rows_read`, the rows of
`slice_mel_sums` it adds up), and `cold_open` (`voxlake sql "select count(*) from
voices"` in a fresh process; the lake has no cache to be warm). The last line is the JSON,
also written to benchmarks/results/ladder_tables.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results"
BATCH = 500
CHUNK = 200  # batches per bulk append
COMPACT_EVERY = 200  # one-by-one batches between compactions: a busy day's worth


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def timed(fn: Callable[[], Any], repeats: int = 1) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def synthetic_ids(k: int, n: int) -> list[str]:
    return [hashlib.blake2b(f"sim-{k}-{i}".encode(), digest_size=32).hexdigest() for i in range(n)]


def _with(t: pa.Table, name: str, values: pa.Array) -> pa.Table:
    return t.set_column(t.schema.get_field_index(name), name, values)


def clone_table(t: pa.Table, batch: str, ids: dict[str, str]) -> pa.Table:
    """The template's rows as another batch's: its key, and synthetic voice ids."""
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


def make_template(root: Path) -> tuple[str, str]:
    from voxlake.lake.store import Lake
    from voxlake.testing import make_lake, process_all

    if not (root / "tables" / "voices").exists():
        shutil.rmtree(root, ignore_errors=True)
        log("making the template: 1,000 generated voices through every batch stage")
        process_all(make_lake(root, voices=2 * BATCH, speakers=40, bad_files=False))
    old, new = Lake(root).table_batches("voices")[:2]
    return old, new


def template_parts(src: Any, batch: str) -> dict[str, list[tuple[str, pa.Table]]]:
    """Each table's parts of one batch: (part name, its rows in the stored schema)."""
    from voxlake.lake.schemas import TABLES
    from voxlake.lake.tables import PART, stored_schema

    out: dict[str, list[tuple[str, pa.Table]]] = {}
    for name in TABLES:
        dt = src.tables.open(name)
        if dt is None:
            continue
        t = dt.to_pyarrow_dataset(schema=stored_schema(name)).to_table()
        if "batch" in t.column_names:
            t = t.filter(pc.equal(t.column("batch"), batch))
        for key in sorted(set(t.column(PART).to_pylist())):
            out.setdefault(name, []).append(
                (key.split("/", 1)[1], t.filter(pc.equal(t.column(PART), key)))
            )
    return out


def batch_key(k: int) -> str:
    return f"{k + 1:06d}-sim{k:05d}"


def build(root: Path, template: Path, old: str, n_old: int, one_by_one: int) -> dict[str, Any]:
    from deltalake import write_deltalake

    from voxlake.embed import index_writer
    from voxlake.embed.index_table import connect, state_path
    from voxlake.features import dataset as dataset_stats
    from voxlake.ingest.inbox import InboxFile, Manifest, manifest_path, read_manifest
    from voxlake.lake.compaction import compact
    from voxlake.lake.lineage import stored_stage_hash
    from voxlake.lake.store import Lake, atomic_write_json
    from voxlake.lake.tables import CONFIGURATION, PART, part_key

    shutil.rmtree(root, ignore_errors=True)
    lake, src = Lake(root).ensure(), Lake(template)
    parts = template_parts(src, old)
    manifest = read_manifest(src, old)
    template_ids = sorted(src.read_table("voices", old).column("voice_id").to_pylist())
    index_rows = index_writer._index_rows(src, old)
    emb_hash = stored_stage_hash(src, old, "voice_embeddings") or ""
    k_batches = n_old // BATCH
    bulk = max(0, k_batches - one_by_one)
    seen: dict[str, str] = {}
    vectors: list[pa.Table] = []
    db, tbl = connect(lake), None
    t0 = time.perf_counter()

    def clones(k: int) -> tuple[str, dict[str, str]]:
        batch = batch_key(k)
        return batch, dict(zip(template_ids, synthetic_ids(k, len(template_ids)), strict=True))

    for start in range(0, bulk, CHUNK):
        ks = range(start, min(bulk, start + CHUNK))
        for name, named in parts.items():
            chunk = []
            for k in ks:
                batch, ids = clones(k)
                for part, rows in named:
                    t = clone_table(rows, batch, ids)
                    key = pa.array([part_key(batch, part)] * t.num_rows, pa.string())
                    chunk.append(t.set_column(t.schema.get_field_index(PART), PART, key))
            write_deltalake(
                lake.tables.uri(name),
                pa.concat_tables(chunk),
                mode="append",
                configuration=CONFIGURATION,
            )
        log(f"  bulk-loaded {ks.stop}/{bulk} batches")
    t_bulk = time.perf_counter() - t0
    t1 = time.perf_counter()
    for k in range(bulk, k_batches):  # the last ones, one by one, as a real batch commits
        batch, ids = clones(k)
        for name, named in parts.items():
            for part, rows in named:
                lake.write_table(
                    name, clone_table(rows, batch, ids).drop_columns([PART]), batch, part
                )
        if (k - bulk + 1) % COMPACT_EVERY == 0:  # as the nightly schedule would
            compact(lake, retention_hours=0)
            log(f"  committed {k - bulk + 1}/{k_batches - bulk} batches one by one, compacted")
    t_commits = time.perf_counter() - t1
    for k in range(k_batches):
        batch, ids = clones(k)
        files = tuple(
            InboxFile(
                f"old/{batch}/{i}.wav", f.size, f.mtime_ns, ids.get(f.voice_id or "", f.voice_id)
            )
            for i, f in enumerate(manifest.files)
        )
        atomic_write_json(
            manifest_path(lake, batch), Manifest(batch, files, manifest.created_at).to_json()
        )
        vectors.append(jitter(clone_table(index_rows, batch, ids), k))
        seen[batch] = emb_hash
        if len(vectors) == 2000 or k == k_batches - 1:
            rows = pa.concat_tables(vectors)
            vectors.clear()
            tbl = db.create_table("voices", rows) if tbl is None else (tbl.add(rows) or tbl)
    assert tbl is not None
    index_writer._key_indexes(tbl)
    index_writer._maintain_ann(lake, tbl, tbl.count_rows(), 10_000, True)
    atomic_write_json(state_path(lake), seen)
    partial = src.read_table("batch_mel_stats", old)
    fingerprint = partial.column("fingerprint")[0].as_py()
    dataset_stats.update(lake, fingerprint, len(partial.column("sum")[0]), rebuild=True)
    t2 = time.perf_counter()
    compacted = compact(lake, retention_hours=0)
    return {
        "bulk_loaded_batches": bulk,
        "one_by_one_batches": k_batches - bulk,
        "one_by_one_s_per_batch": round(t_commits / max(1, k_batches - bulk), 4),
        "bulk_load_s": round(t_bulk, 1),
        "history_compaction_s": round(time.perf_counter() - t2, 1),
        "files_before_compaction": max(c.files_before for c in compacted),
    }


def new_batch(root: Path, template: Path, new: str) -> dict[str, float]:
    import dagster as dg

    from voxlake.embed import index_search, index_writer
    from voxlake.features import dataset as dataset_stats
    from voxlake.ingest import raw
    from voxlake.ingest.inbox import list_batches
    from voxlake.lake import catalog
    from voxlake.lake.store import Lake
    from voxlake.lake.tables import PART
    from voxlake.maintenance import maintain
    from voxlake.orchestration.sensors import voice_inbox
    from voxlake.quality.checks import gx_check
    from voxlake.resources import LakeResource

    lake, src = Lake(root), Lake(template)
    out: dict[str, float] = {}
    home = root / "dagster"
    home.mkdir(exist_ok=True)
    instance = dg.DagsterInstance.from_config(str(home))
    before = list_batches(lake)
    instance.add_dynamic_partitions("voice_batches", before)
    resource = LakeResource(root=str(root))
    with dg.build_sensor_context(instance=instance, resources={"lake": resource}) as ctx:
        voice_inbox(ctx)  # warm: the seen-index catches up with the clones' manifests
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
    from voxlake.ingest import voice_keys

    # as the nightly compaction leaves it: the duplicate check's index has read the merged
    # files (once per compaction, paid by the compaction job; timed apart)
    out["duplicate_index_after_compaction"] = timed(lambda: voice_keys.refresh(lake))
    parts = template_parts(src, new)

    def commits() -> None:
        for name, named in parts.items():
            for part, rows in named:
                lake.write_table(
                    name, clone_table(rows, batch, ids).drop_columns([PART]), batch, part
                )

    out["table_commits"] = timed(commits)
    out["duplicate_check_first"] = timed(lambda: raw.voices_elsewhere(lake, batch, ids))
    out["duplicate_check"] = timed(lambda: raw.voices_elsewhere(lake, batch, ids), 3)
    partial = lake.read_table("batch_mel_stats", batch)
    fingerprint = partial.column("fingerprint")[0].as_py()
    n_mels = len(partial.column("sum")[0])

    def mel_stats() -> None:
        dataset_stats.mark_changed(lake, batch, partial.column("partial_hash")[0].as_py())
        dataset_stats.update(lake, fingerprint, n_mels)
        stats = lake.read_table("dataset_mel_stats")
        gx_check(lake, "mel_stats", "dataset_mel_stats", stats, "", n_mels)

    out["mel_stats_update"] = timed(mel_stats)

    def index() -> None:  # as the voice_index asset runs it
        result = index_writer.sync(lake)
        changed = list(result.extra["changed_batches"])
        ids_now = pa.table({"voice_id": index_search.voice_ids(lake, changed)})
        expected = sum(lake.table_rows("embeddings", b) for b in changed)
        gx_check(lake, "voice_index", "index", ids_now, expected_rows=expected)
        index_writer.check_total(lake, result.rows)

    out["index_sync"] = timed(index)
    out["bookkeeping"] = (
        sum(
            out[k]
            for k in ("table_commits", "sensor_tick", "duplicate_check_first", "mel_stats_update")
        )
        + out["index_sync"]
    )
    out["catalog_open"] = timed(lambda: catalog.query(lake, "select 1"), 3)
    maintained = maintain(lake, retention_hours=0)  # as the nightly schedule runs it
    out["files_per_table"] = float(max(c.files_after for c in maintained.compacted))
    out["slice_rows_read"] = float(
        catalog.query(lake, "select count(*) from slice_mel_sums where not included")[1][0][0]
    )
    queries = {
        "batch_summary": "select * from batch_summary",
        "mel_stats_slices": (ROOT / "sql/queries/mel_stats_slices.sql").read_text(),
    }
    for name, sql in queries.items():
        out[name] = timed(lambda sql=sql: catalog.query(lake, sql), 3)
    cmd = [sys.executable, "-m", "voxlake.cli", "sql", "select count(*) from voices"]
    out["cold_open"] = timed(
        lambda: subprocess.run([*cmd, "--lake", str(root)], check=True, capture_output=True)
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--template", type=Path, default=ROOT / "build/ladder_tables/template")
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--one-by-one", type=int, default=2000, help="batches committed singly")
    ap.add_argument("--work", type=Path, default=ROOT / "build/ladder_tables")
    ap.add_argument("--out", default="ladder_tables.json")
    ap.add_argument("--add", action="store_true", help="add these rungs to the results file")
    args = ap.parse_args()
    template = args.template.resolve()
    old, new = make_template(template)
    results: dict[str, Any] = {"batch_size": BATCH, "sizes": {}, "history": {}}
    if args.add and (RESULTS / args.out).exists():
        results = json.loads((RESULTS / args.out).read_text())
    warm = (args.work / "warm-up").resolve()  # imports and first uses, left out
    build(warm, template, old, BATCH, 1)
    new_batch(warm, template, new)
    shutil.rmtree(warm, ignore_errors=True)
    for n in args.sizes:
        root = (args.work / f"lake_{n}").resolve()
        t0 = time.perf_counter()
        results["history"][str(n)] = build(root, template, old, n, args.one_by_one)
        log(f"built a lake of {n} voices in {time.perf_counter() - t0:.0f} s")
        figures = {k: round(v, 4) for k, v in new_batch(root, template, new).items()}
        log(f"{n}: " + ", ".join(f"{k} {v:.3f}" for k, v in figures.items()))
        results["sizes"][str(n)] = figures
        shutil.rmtree(root, ignore_errors=True)
        summarise(results, args.sizes)
        (RESULTS / args.out).write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    print(json.dumps(results, sort_keys=True))


TARGET = 10_000_000
KEYS = {  # result key: the step it reads
    "bookkeeping_s": "bookkeeping",
    "cold_open_s": "cold_open",
    "batch_summary_s": "batch_summary",
    "slices_s": "mel_stats_slices",
    "files_per_table": "files_per_table",
}


def project(a: tuple[int, float], b: tuple[int, float], n: int) -> float:
    """A power law through the two largest rungs, carried to n voices."""
    (na, va), (nb, vb) = a, b
    if va <= 0 or vb <= 0:
        return vb
    slope = math.log(vb / va) / math.log(nb / na)
    return vb * (n / nb) ** max(0.0, slope)


def summarise(results: dict[str, Any], sizes: list[int]) -> None:
    measured = sorted(int(n) for n in results["sizes"])
    first = results["sizes"][str(measured[0])]
    last_n = measured[-1]
    results["largest_measured"] = last_n
    at: dict[str, float] = {}
    projected: list[str] = []
    for key, step in KEYS.items():
        if last_n >= TARGET or len(measured) < 2:
            at[key] = results["sizes"][str(last_n)][step]
            continue
        prev = measured[-2]
        at[key] = round(
            project(
                (prev, results["sizes"][str(prev)][step]),
                (last_n, results["sizes"][str(last_n)][step]),
                TARGET,
            ),
            3,
        )
        projected.append(key)
    at["files_per_table"] = int(at["files_per_table"])
    results.update(at)
    results["bookkeeping_ratio"] = round(at["bookkeeping_s"] / first["bookkeeping"], 2)
    if projected:
        projected.append("bookkeeping_ratio")
    results["projected"] = projected
    results["projected_from"] = measured[-2:] if projected else []


if __name__ == "__main__":
    main()
