"""Mel statistics per speaker and per source, kept up to date as the dataset's own are.

A batch's slice partial is the exact sums of its voices per (slice, label, bin), where a
slice is a column of `voices` (speaker, source) and a label one of its values. The table
`slice_mel_sums` holds them in three kinds of rows, each a part of the Delta table:
- `/folded` (no batch): the sums of every batch as the last fold saw it;
- `<batch>/included` (`included`): a copy of what the folded sums hold of that batch;
- `<batch>/change`: the batch's partial now, minus its included copy.

The rows that are not `included` add up, per key, to the sums over every voice of the lake,
exactly (integer sums). When a batch changes (a run, a rerun, a drop, an erasure), the
dataset statistics step rewrites its `change` part, a pure function of the batch's rows
and its included copy: it costs what the batch holds, whatever the size of the lake, and
a step killed and run again writes the same part. `fold` (run by `voxlake compact`) adds
the changes into the folded sums and the included copies, in one commit, so a query reads
about one row per (label, bin). Both commit against the version they read: one that lost
to the other reads again.

`sql/queries/mel_stats_slices.sql` reads them. The `voice_mel_bins` view still slices by
any column, from every voice's sums.
"""

from __future__ import annotations

import time

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pds

from voxlake.lake.schemas import SLICE_MEL_SUMS, TABLES
from voxlake.lake.store import Lake
from voxlake.lake.tables import PART, part_key

TABLE = "slice_mel_sums"
SLICES = ("speaker", "source")
NONE = "(none)"  # the label of a voice with no value in the slice's column
KEY = ["slice", "label", "bin", "fingerprint"]
TRIES = 5
_SUMS = ["voices", "frames", "sum_q", "sum_square_q"]
_MEL_COLUMNS = ["batch", "n_frames", "sum", "sum_square", "fingerprint"]

_LABELLED = " union all ".join(
    f"select m.batch, '{s}' as slice, coalesce(v.{s}, '{NONE}') as label, "
    "m.n_frames, m.sum, m.sum_square, m.fingerprint from m join v using (voice_id)"
    for s in SLICES
)
_PARTIALS = f"""
with labelled as ({_LABELLED}), bins as (
    select batch, slice, label, fingerprint, n_frames,
        generate_subscripts(sum, 1) - 1 as bin, unnest(sum) as q, unnest(sum_square) as q2
    from labelled
)
select batch, slice, label, bin::integer as bin, count(*) as voices,
    sum(n_frames)::bigint as frames, sum(q)::decimal(38, 0) as sum_q,
    sum(q2)::decimal(38, 0) as sum_square_q, fingerprint
from bins
group by batch, slice, label, bin, fingerprint
order by batch, slice, label, bin, fingerprint
"""


def partials(voice_mel_stats: pa.Table, voices: pa.Table) -> pa.Table:
    """The slice partials of the batches in `voice_mel_stats` (with a `batch` column):
    exact sums per (batch, slice, label, bin), sorted by key."""
    m = voice_mel_stats.select(["voice_id", *_MEL_COLUMNS])  # noqa: F841 - read by DuckDB
    v = voices.select(["voice_id", *SLICES])  # noqa: F841
    with duckdb.connect() as con:
        return con.sql(_PARTIALS).to_arrow_table()


def batch_partial(lake: Lake, batch: str) -> pa.Table:
    """One batch's slice partial, in the table's schema, from its rows as they are now."""
    t = partials(lake.read_table("voice_mel_stats", batch), lake.read_table("voices", batch))
    return _as_table(t.drop_columns(["batch"]), batch, included=False)


def _as_table(t: pa.Table, batch: str | None, included: bool) -> pa.Table:
    """Sums as the table's rows: of `batch` (kept from `t` where it has a batch column)."""
    n = t.num_rows
    if "batch" not in t.column_names:
        t = t.append_column("batch", pa.array([batch] * n, pa.string()))
    t = t.append_column("included", pa.array([included] * n, pa.bool_()))
    return t.select(SLICE_MEL_SUMS.names).cast(SLICE_MEL_SUMS)


def _sum(rows: pa.Table, by: list[str], signed: bool = False) -> pa.Table:
    """`rows` summed per key (and `by`), without the keys whose voices add up to zero;
    with `signed`, an `included` row counts negatively."""
    sign = "(case when included then -1 else 1 end) * " if signed else ""
    cols = [*by, *KEY]
    sums = ", ".join(f"sum({sign}{c})::{_cast(c)} as {c}" for c in _SUMS)
    sql = (
        f"select {', '.join(cols)}, {sums} from r group by {', '.join(cols)} "
        f"having {' or '.join(f'sum({sign}{c}) <> 0' for c in _SUMS)} "
        f"order by {', '.join(cols)}"
    )
    with duckdb.connect() as con:
        con.register("r", rows.select([*by, *KEY, *_SUMS, "included"]) if signed else rows)
        return con.sql(sql).to_arrow_table()


def _cast(column: str) -> str:
    return "bigint" if column in ("voices", "frames") else "decimal(38, 0)"


def update_batch(lake: Lake, batch: str) -> int:
    """Rewrite a batch's `change` part from its rows now and its included copy; the rows
    written."""
    from deltalake.exceptions import CommitFailedError

    for attempt in range(TRIES):
        version = lake.tables.version(TABLE)
        copy = lake.tables.read(TABLE, batch, version, part="included")
        now = batch_partial(lake, batch)
        change = _as_table(_sum(pa.concat_tables([now, copy]), [], signed=True), batch, False)
        stored = lake.tables.read(TABLE, batch, version, part="change")
        if _same_rows(stored, change):  # a visit that changed nothing commits nothing
            return change.num_rows
        try:
            lake.tables.write(TABLE, change, batch, "change", read_version=version)
            return change.num_rows
        except CommitFailedError:  # a fold committed meanwhile: read its copies again
            if attempt == TRIES - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    return 0


def _same_rows(a: pa.Table, b: pa.Table) -> bool:
    if a.num_rows != b.num_rows:
        return False
    keys = [(name, "ascending") for name in ("slice", "label", "bin")]
    cols = b.schema.names
    return bool(a.select(cols).sort_by(keys).equals(b.select(cols).sort_by(keys)))


def _with_parts(t: pa.Table) -> pa.Table:
    keys = [
        part_key(b, "included" if inc else "folded")
        for b, inc in zip(t["batch"].to_pylist(), t["included"].to_pylist(), strict=True)
    ]
    return t.append_column(PART, pa.array(keys, pa.string()))


def _folded(rows: pa.Table) -> pa.Table:
    """The rows of a fold: the sums of every row that is not a copy, and per batch the
    copy plus the change."""
    total = _sum(rows.filter(pc.invert(rows["included"])), [])
    copies = _sum(rows.filter(pc.is_valid(rows["batch"])), ["batch"])
    return _with_parts(
        pa.concat_tables([_as_table(total, None, False), _as_table(copies, None, True)])
    )


def fold(lake: Lake) -> tuple[int, int] | None:
    """Add every batch's change into the folded sums and its included copy, in one commit;
    the table's rows before and after (None: no table, or lost every try to the step)."""
    from deltalake.exceptions import CommitFailedError

    for attempt in range(TRIES):
        version, rows = lake.tables.read_with_parts(TABLE)
        if version is None:
            return None
        changed = sorted(
            {p.rsplit("/", 1)[0] for p in rows[PART].to_pylist() if p.endswith("/change")}
        )
        if not changed:
            return rows.num_rows, rows.num_rows
        parts = [part_key(None, "folded")] + [
            part_key(b, p) for b in changed for p in ("change", "included")
        ]
        touched = rows.filter(pc.is_in(rows[PART], pa.array(parts)))
        new = _folded(touched.drop_columns([PART]))
        try:
            lake.tables.replace(TABLE, new, parts, read_version=version)
            return rows.num_rows, rows.num_rows - touched.num_rows + new.num_rows
        except CommitFailedError:  # a batch's change committed meanwhile: fold again
            time.sleep(0.1 * (attempt + 1))
    return None


def rebuild(lake: Lake, chunk: int = 100) -> int:
    """Every batch's partial from its rows now (one scan of the lake, `chunk` batches at a
    time), as the folded sums and the included copies, replacing the whole table; the rows
    written."""
    mel, voices = lake.tables.dataset("voice_mel_stats"), lake.tables.dataset("voices")
    batches = lake.table_batches("voice_mel_stats") if mel and voices else []
    found = []
    for i in range(0, len(batches), chunk):
        assert mel is not None and voices is not None
        where = pds.field("batch").isin(batches[i : i + chunk])
        m = mel.to_table(filter=where, columns=["voice_id", *_MEL_COLUMNS])
        v = voices.to_table(filter=where, columns=["voice_id", "batch", *SLICES])
        found.append(partials(m, v))
    t = pa.concat_tables(found) if found else partials(*_empty())
    rows = _with_parts(
        pa.concat_tables([_as_table(_sum(t, []), None, False), _as_table(t, None, True)])
    )
    lake.tables.replace(TABLE, rows, None, read_version=lake.tables.version(TABLE))
    return rows.num_rows


def _empty() -> tuple[pa.Table, pa.Table]:
    return TABLES["voice_mel_stats"].empty_table(), TABLES["voices"].empty_table()
