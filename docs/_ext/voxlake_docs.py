"""The manual's generated pages, written into docs/_generated/ when a build starts.

- the SQL reference, from the table schemas, `voxlake.descriptions` and `sql/views`;
- the asset reference, from the code location's Definitions;
- the benchmark tables and plots, from `benchmarks/results/*.json`.

The CLI reference is sphinx-argparse's, over `voxlake.cli.full_parser`. A command or option
without help text, a table or view without a description or a working example, or a
result file that does not parse stops the build with an error that names it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
GENERATED = "_generated"


def _table(header: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    head = list(header)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _cell(value: object) -> str:
    if isinstance(value, float):
        text = f"{value:.4g}" if abs(value) < 1e5 else f"{value:,.0f}"
    elif isinstance(value, int) and not isinstance(value, bool):
        text = f"{value:,}"
    else:
        text = str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _fence(sql: str) -> str:
    return f"```sql\n{sql.strip()}\n```\n"


# --- the CLI ---------------------------------------------------------------------------


def check_cli() -> None:
    from voxlake.cli import full_parser, missing_help

    missing = missing_help(full_parser())
    if missing:
        raise ExtensionError("CLI options without help text: " + ", ".join(missing))


# --- SQL --------------------------------------------------------------------------------


def sql_reference() -> str:
    from voxlake.lake.catalog_reference import UndescribedRelation, describe

    try:
        relations = describe()
    except UndescribedRelation as e:
        raise ExtensionError(f"SQL reference: {e}") from None
    parts = []
    for kind, title in (("table", "Tables"), ("view", "Views")):
        parts.append(f"## {title}\n")
        for r in (r for r in relations if r.kind == kind):
            parts.append(f"({r.kind}-{r.name})=\n### `{r.name}`\n\n{r.description}\n")
            parts.append(_table(["column", "type"], ((f"`{c.name}`", c.type) for c in r.columns)))
            parts.append("\n" + _fence(r.example))
    return "\n".join(parts)


# --- assets -----------------------------------------------------------------------------


def asset_reference() -> str:
    import dagster as dg

    from voxlake.orchestration.definitions import defs

    rows = []
    graph = defs.resolve_asset_graph()
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        partitioned = "per batch" if node.partitions_def is not None else "dataset-wide"
        upstream = ", ".join(f"`{p.to_user_string()}`" for p in sorted(node.parent_keys)) or "-"
        checks = ", ".join(f"`{c.name}`" for c in sorted(node.check_keys, key=str)) or "-"
        rows.append(
            (f"`{key.to_user_string()}`", node.description or "", partitioned, upstream, checks)
        )
    jobs = [(f"`{j.name}`", j.description or "") for j in defs.jobs or [] if hasattr(j, "name")]
    sensors = [
        (f"`{s.name}`", (s.description or "").split("\n\n")[0].replace("\n", " "))
        for s in defs.sensors or []
        if isinstance(s, dg.SensorDefinition)
    ]
    schedules = [
        (f"`{s.name}`", f"`{s.cron_schedule}`", f"`{s.job_name}`", s.default_status.value.lower())
        for s in defs.schedules or []
        if isinstance(s, dg.ScheduleDefinition)
    ]
    return (
        "## Assets\n\n"
        + _table(["asset", "what it holds", "partitioned", "reads after", "checks"], rows)
        + "\n## Jobs\n\n"
        + _table(["job", "what a run does"], jobs)
        + "\n## Sensors\n\n"
        + _table(["sensor", "what a tick does"], sensors)
        + "\n## Schedules\n\n"
        + _table(["schedule", "cron", "job", "by default"], schedules)
    )


# --- benchmarks -------------------------------------------------------------------------


def _load(name: str) -> dict[str, Any]:
    path = RESULTS / name
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ExtensionError(f"benchmarks/results/{name}: {e}") from None
    if not isinstance(data, dict):
        raise ExtensionError(f"benchmarks/results/{name}: not a JSON object")
    return data


def _plot(out: Path, name: str, draw: Any) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    draw(ax)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / name, metadata={"Software": None})
    plt.close(fig)
    return f"![{name}](/{GENERATED}/{name})\n"


def _ladder_figure(
    out: Path, name: str, sizes: dict[int, dict[str, float]], steps: list[str], plotted: int
) -> str:
    """A ladder's steps against the lake's size: the first `plotted` drawn, all tabled."""
    ns = sorted(sizes)

    def draw(ax: Any) -> None:
        for step in steps[:plotted]:
            pts = [(n, sizes[n][step]) for n in ns if step in sizes[n]]
            ax.plot(*zip(*pts, strict=True), marker="o", label=step)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("voices in the lake")
        ax.set_ylabel("seconds for one new batch of 500")
        ax.legend(fontsize=7)

    rows = [[f"`{s}`", *(sizes[n].get(s, "-") for n in ns)] for s in steps]
    return (
        _plot(out, name, draw) + "\n" + _table(["step (s)", *(f"{n:,} voices" for n in ns)], rows)
    )


def _ladder(out: Path) -> str:
    """The former layout's ladder (ladder.json, ladder_10m.json)."""
    sizes: dict[int, dict[str, float]] = {}
    for name in ("ladder.json", "ladder_10m.json"):
        for size, steps in _load(name)["sizes"].items():
            sizes.setdefault(int(size), {}).update(steps)
    steps = [
        "sensor_tick",
        "duplicate_check",
        "mel_stats_update",
        "index_sync_alone",
        "catalog_refresh",
        "gx_batch",
        "query_batch_summary",
    ]
    return _ladder_figure(out, "ladder.png", sizes, steps, len(steps))


def _ladder_tables(out: Path) -> str:
    """The same new batch on the Delta tables (ladder_tables.json)."""
    data = _load("ladder_tables.json")
    sizes = {int(n): steps for n, steps in data["sizes"].items()}
    steps = [
        "table_commits",
        "sensor_tick",
        "duplicate_check_first",
        "mel_stats_update",
        "index_sync",
        "bookkeeping",
        "batch_summary",
        "mel_stats_slices",
        "cold_open",
        "files_per_table",
    ]
    return _ladder_figure(out, "ladder_tables.png", sizes, steps, 6)


def _throughput(out: Path) -> str:
    runs = []
    for name in ("pipeline.json", "pipeline_floor_1000.json", "ladder_real.json"):
        d = _load(name)
        audio_s = d.get("audio_s") or d.get("audio_h", 0) * 3600
        if d.get("voices") and audio_s and d.get("x_realtime"):
            runs.append((name, d["voices"], audio_s / d["voices"], d["x_realtime"], d))
    pipeline = _load("pipeline.json")
    short = [pipeline.get(k) for k in ("short_voices", "short_voice_s", "short_stage_s")]
    if all(isinstance(v, int | float) and v > 0 for v in short):  # the stages' time alone
        n, length, stage_s = short
        runs.append(("pipeline.json (short, stages)", n, length, n * length / stage_s, {}))

    def draw(ax: Any) -> None:
        for name, _, length, x, _ in runs:
            ax.scatter([length], [x])
            ax.annotate(name, (length, x), fontsize=7, xytext=(4, 4), textcoords="offset points")
        ax.set_xscale("log")
        ax.set_xlabel("mean voice length (s)")
        ax.set_ylabel("x real time (2 shared cores)")

    rows = [
        (f"`{n}`", v, length, x, d.get("floor_ratio", "-"), d.get("workers", "-"))
        for n, v, length, x, d in runs
    ]
    header = ["result", "voices", "mean length (s)", "x real time", "floor ratio", "workers"]
    return _plot(out, "throughput.png", draw) + "\n" + _table(header, rows)


def _voice_lengths(out: Path) -> str:
    """One worker's throughput and floor ratio against voice length (voice_costs.json)."""
    costs = _load("voice_costs.json")
    rows = costs["per_length"]
    lengths = [float(k) for k in rows]

    def draw(ax: Any) -> None:
        ax.plot(lengths, [rows[k]["voices_per_s"] for k in rows], marker="o", label="voices/s")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(lengths, [f"{x:g}" for x in lengths])
        ax.set_xlabel("voice length (s)")
        ax.set_ylabel("voices per second (one worker, all stages)")
        twin = ax.twinx()
        twin.plot(lengths, [rows[k]["floor_ratio"] for k in rows], "s--", color="C1")
        twin.axhline(1.0, color="C1", lw=0.6)
        twin.set_ylabel("floor ratio (stages / models + pristine state)", color="C1")
        twin.set_ylim(0.9, max(1.6, max(rows[k]["floor_ratio"] for k in rows) + 0.1))

    header = ["voice length (s)", "voices", "voices/s", "x real time", "floor ratio"]
    table = _table(
        header,
        [
            (k, r["voices"], r["voices_per_s"], r["x_realtime"], r["floor_ratio"])
            for k, r in rows.items()
        ],
    )
    by_stage = ", ".join(f"{k} {v} ms" for k, v in costs["per_voice_overhead_by_stage_ms"].items())
    note = (
        "\nOn 1 s voices (`voice_costs.json`): a pristine DeepFilterNet3 state costs "
        f"**{costs['pristine_state_ms']} ms**: how much longer a voice's denoising takes "
        "through the worker's denoise server than the same code on a warm runtime (the "
        "mean: a fork serves eight voices, each on a never-run runtime of its own; of it, "
        f"an eighth of {costs['pristine_fork_ms']} ms, the round trip of a fork that only "
        f"answers, and {costs['pristine_first_run_ms']} ms the rest: the model's run on the "
        "fork's copied pages and the frames' round trips; a negative figure is the "
        "machine's noise). The rest of a voice's time "
        f"beyond its models is **{costs['per_voice_overhead_ms']} ms** (median; by stage: "
        f"{by_stage}).\n"
    )
    reuse = _load("fork_reuse.json")

    def span(lo_hi: list[float]) -> str:
        return f"{lo_hi[0]}-{lo_hi[1]}"

    note += (
        f"\nA fork serves {reuse['voices_per_fork']} voices (`fork_reuse.json`): on "
        f"{reuse['voices']} voices of 1-3 s at {reuse['workers']} workers, in "
        f"{reuse['pairs']} alternated pairs against a fork per voice, it was faster in "
        f"{reuse['faster_pairs']}, median wall ratio **{reuse['wall_ratio_median']}**; the "
        f"kernel's share {span(reuse['kernel_pct']['shared'])} % against "
        f"{span(reuse['kernel_pct']['per_voice'])} %, the idle share "
        f"{span(reuse['idle_pct']['shared'])} % against {span(reuse['idle_pct']['per_voice'])} "
        "% (lowest to highest pair).\n"
    )
    return _plot(out, "voice_lengths.png", draw) + "\n" + table + note


def _steady_state() -> str:
    """Batch runs 2..N against their floor, and the run's fixed cost (pipeline_steady.json);
    the 10,000-voice run against the floor and its bytes (ladder_real.json)."""
    steady = _load("pipeline_steady.json")
    rows = []
    for name, run in steady["steady_runs"].items():
        parts = ", ".join(f"{k} {v}" for k, v in run["fixed_cost_parts_s"].items())
        rows.append(
            (
                f"{run['seconds'][0]:g}-{run['seconds'][1]:g} s ({name})",
                f"{run['batches']} x {run['voices'] // run['batches']}",
                run["floor_ratio"],
                f"{run.get('floor_ratio_before', '-')} / {run.get('floor_ratio_after', '-')}",
                run.get("floor_ratio_pristine_measured", "-"),
                run["wall_s"],
                run["fixed_cost_s"],
                parts,
            )
        )
    header = [
        "corpus",
        "batches",
        "floor ratio, runs 2..N",
        "against the floor timed before / after the run",
        "the same, pristine states measured on these voices",
        "wall (s)",
        "fixed (s)",
        "fixed: parts",
    ]
    short = steady["steady_runs"]["short"]
    pristine = (
        "\nThe floor counts a pristine DeepFilterNet3 state per voice at `pristine_state_ms` "
        f"({steady['pristine_state_ms']} ms, measured on 1 s voices with one worker): "
        f"{short.get('steady_pristine_s', '-')} s over the 1-3 s corpus's batches 2..N. "
        "Measured side by side on those voices with the run's workers (the model from a fork "
        "of the denoise server, less the model warm) the same states cost "
        f"{short.get('steady_pristine_measured_s', '-')} s: a pristine state costs more on a "
        "longer voice and with every core busy. The column beside the floor ratio counts "
        "that instead. The models alone are timed just before the run and just after it, "
        "and the floor is their mean: this shared machine's speed drifts by several percent "
        "over minutes (the third column shows by how much during this run; "
        "`pipeline_steady.log` holds every run of the day).\n"
    )
    handoff = _load("raw_handoff.json")
    pristine += (
        "\nThe raw step hands each voice to the pool as it accepts it (`raw_handoff.json`): "
        f"{handoff['voices']} voices of 1-3 s, {handoff['batches']} batches, "
        f"{handoff['workers']} workers, in {len(handoff['steady_ratio'])} alternated pairs of "
        "whole runs against handing the batch over once its tables are written, batch runs "
        f"2..N took **{handoff['steady_ratio_median']}x** the time (median; the pairs "
        f"{', '.join(map(str, handoff['steady_ratio']))}), whole runs "
        f"{handoff['wall_ratio_median']}x.\n"
    )
    chunks = _load("pool_chunks.json")
    pristine += (
        "\nThe pool takes a map's voices in guided chunks of up to "
        f"{chunks['chunk_max']} (`pool_chunks.json`): a batch's {chunks['voices']} mel and "
        f"{chunks['voices']} embedding voices handed over ahead, in {chunks['pairs']} "
        f"alternated pairs against one task per voice, took **{chunks['wall_ratio_median']}x** "
        f"the time (median; faster in {chunks['faster_pairs']} pairs), and the CLI's CPU per "
        f"task went from {chunks['cli_cpu_ms_per_voice']['per_voice']} to "
        f"{chunks['cli_cpu_ms_per_voice']['chunked']} ms.\n"
    )
    ab = _load("ab_checkouts.json")
    pristine += (
        f"\nThis code (`{ab['new']}`) against `{ab['old']}` (`ab_checkouts.json`, whole "
        f"`voxlake run`s of {ab['voices']} voices of 1-3 s in {len(ab['steady_ratio'])} "
        "alternated pairs, so that the machine's drift falls on both alike): batch runs 2..N "
        f"took **{ab['steady_ratio_median']}x** the time (the pairs "
        f"{', '.join(map(str, ab['steady_ratio']))}), whole runs {ab['wall_ratio_median']}x; "
        f"the same per-voice hashes: {ab['same_hashes']}.\n"
    )
    split = _load("steady_split.json")
    parts = split["split"]
    pristine += (
        f"\nWhere a steady batch's time goes (`steady_split.json`, {split['voices']} voices of "
        f"{split['seconds'][0]:g}-{split['seconds'][1]:g} s, {split['workers']} workers on "
        f"{split['cores']} cores; CPU seconds per batch of {split['batch_wall_s']} s, "
        f"{split['machine_s']} s of the machine in all): DeepFilterNet3 in the forks (and "
        f"any other tenant) {parts['deepfilternet3_in_forks_and_rest']}, against "
        f"{parts['deepfilternet3_alone_pristine']} for the model alone from a pristine state; "
        "the workers beyond GE2E and the mel extractor (decoding, resampling, the FLAC and "
        f"its hash, the .npy, results to the CLI) {parts['workers_beyond_ge2e_and_mel']}; the "
        f"CLI (Dagster, the raw step, tables, checks, lineage, pictures) {parts['cli']}; the "
        f"denoise servers {parts['servers']}; idle {parts['idle']}; the sampling script "
        f"{parts['this_script']}. The models alone are {split['models_over_machine']} of the "
        "machine's time.\n"
    )
    pristine += (
        "\nBy Dagster step (wall, idle and CLI seconds per steady batch): "
        + "; ".join(
            f"{k} {v['wall']:g} / {v['idle']:g} / {v['main']:g}"
            for k, v in split["by_step"].items()
        )
        + ".\n"
    )
    ladder = _load("ladder_real.json")
    gib = 1 << 30
    note = pristine + (
        f"\nThe 10,000-voice run (`ladder_real.json`, 1-3 s voices, {ladder['workers']} workers): "
        f"**{ladder['x_realtime']}x** real time, **{ladder.get('floor_ratio', '-')}x** the models' "
        f"floor measured on {ladder.get('floor', {}).get('floor_sample_voices', '-')} of its "
        "voices in the same run. Per hour of audio the lake holds "
        f"**{ladder.get('lake_bytes_per_audio_hour', 0) / gib:.2f} GiB** against "
        f"**{ladder.get('raw_bytes_per_audio_hour', 0) / gib:.2f} GiB** of raw input "
        f"({ladder.get('lake_over_raw', '-')}x).\n"
    )
    return _table(header, rows) + note


def _index(out: Path) -> str:
    engines = _load("index.json")["engines"]

    def draw(ax: Any) -> None:
        for family in sorted({k.split()[0] for k in engines}):
            pts = sorted(
                (v["p50_ms"], v["recall_at_10"]) for k, v in engines.items() if k.startswith(family)
            )
            ax.plot(*zip(*pts, strict=True), marker="o", label=family)
        ax.set_xlabel("median query latency (ms)")
        ax.set_ylabel("recall@10")
        ax.legend(fontsize=7)

    rows = [
        (f"`{k}`", v["recall_at_10"], v["p50_ms"], v["p95_ms"], v["build_s"])
        for k, v in sorted(engines.items())
    ]
    header = ["setting", "recall@10", "p50 ms", "p95 ms", "build s"]
    return _plot(out, "index.png", draw) + "\n" + _table(header, rows)


def _cluster(out: Path) -> str:
    runs = {n: _load(f"cluster_500_w{n}.json") for n in (1, 2)}
    # orchestration: the daemon and the workers less the stages' work (table traffic apart)
    parts = ["stages_own_work", "table_traffic", "orchestration", "postgres", "s3", "broker"]

    def draw(ax: Any) -> None:
        bottom = [0.0, 0.0]
        for part in parts:
            values = [float(runs[n]["cpu_s"].get(part, 0.0)) for n in (1, 2)]
            ax.bar(["1 worker", "2 workers"], values, bottom=bottom, label=part)
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        ax.set_ylabel("CPU seconds (1,000 voices)")
        ax.legend(fontsize=7)

    keys = ["voices", "wall_s", "voices_per_s", "worker_overhead_fraction"]
    keys += ["cluster_cpu_fraction", "cluster_cpu_fraction_without_s3_emulator"]
    rows = [(f"`{k}`", runs[1].get(k, "-"), runs[2].get(k, "-")) for k in keys]
    nested = {
        "control_plane_cpu_per_s": ("busy", "idle"),
        "per_batch": ("table_traffic_s", "audio_transfer_mb", "audio_transfer_mb_per_s"),
    }
    for key, inner in nested.items():
        for k in inner:
            got = [runs[n].get(key, {}).get(k, "-") for n in (1, 2)]
            rows.append((f"`{key}.{k}`", *got))
    return _plot(out, "cluster.png", draw) + "\n" + _table(["key", "1 worker", "2 workers"], rows)


def _export_shards(out: Path) -> str:
    """Shard export throughput beside tar of the same files (export_shards.json)."""
    data = _load("export_shards.json")
    formats = data["formats"]

    def draw(ax: Any) -> None:
        names = list(formats)
        ax.bar(names, [formats[n]["mb_per_s"] for n in names])
        ax.set_ylabel(f"MB/s of audio ({data['voices']:,} voices, median of {data['rounds']})")

    rows = [
        (
            f"`{name}`",
            f["voices_per_s"],
            f["mb_per_s"],
            f.get("ratio_to_tar", "-"),
            ", ".join(f"{s:.2f}" for s in f["seconds"]),
        )
        for name, f in formats.items()
    ]
    header = ["format", "voices/s", "MB/s", "speed / tar's", "seconds, each round"]
    note = (
        f"{data['voices']:,} voices, {data['audio_mb']:,} MB of denoised FLAC, "
        f"{data['workers']} writers on {data['cores']} cores; target: "
        f"{data['target_ratio_to_tar']} of tar's speed for webdataset and hf-parquet. "
        f"{data['conditions']}.\n"
    )
    return _plot(out, "export_shards.png", draw) + "\n" + note + "\n" + _table(header, rows)


def _ingest_manifests() -> str:
    """Ingest from a NeMo manifest beside ingest from a folder (ingest_manifests.json)."""
    data = _load("ingest_manifests.json")
    rows = [
        (
            arm,
            data[arm]["voices_per_s"],
            data[arm]["ingest_command_s"],
            data[arm]["peak_rss_mb"],
            ", ".join(f"{r['seconds']:.1f}" for r in data["runs"][arm]),
        )
        for arm in ("folder", "manifest")
    ]
    header = [
        "from",
        "voices/s (median run)",
        "ingest command, s",
        "peak RSS, MB",
        "seconds, each run",
    ]
    t = data["targets"]
    note = (
        f"{data['voices']:,} generated files, each ingested by `voxlake ingest` and the raw "
        f"stage up to the `voices` rows; runs in the order folder, manifest, manifest, "
        f"folder. Manifest over folder: **{data['manifest_ingest_ratio']:.2f}x** (target "
        f"{t['manifest_ingest_ratio']}); peak RSS of the manifest ingest: "
        f"**{data['peak_rss_mb']:.0f} MB** (target {t['peak_rss_mb']:,}).\n"
    )
    return note + "\n" + _table(header, rows)


def _every_result() -> str:
    parts = []
    for path in sorted(RESULTS.glob("*.json")):
        data = _load(path.name)
        flat = [(f"`{k}`", v) for k, v in data.items() if isinstance(v, str | int | float | bool)]
        if flat:
            parts.append(f"### `{path.name}`\n\n" + _table(["key", "value"], flat))
    return "\n".join(parts)


def benchmarks(out: Path) -> str:
    return "\n".join(
        [
            "## The ladder: a new batch's bookkeeping on the Delta tables\n",
            _ladder_tables(out),
            "## The ladder under the former layout (a Parquet file per batch)\n",
            _ladder(out),
            "## Throughput against voice length\n",
            _voice_lengths(out),
            "## The steady state: batch runs against the models' floor\n",
            _steady_state(),
            "## Throughput of whole runs\n",
            _throughput(out),
            "## The voice index: recall against latency\n",
            _index(out),
            "## The cluster's overhead\n",
            _cluster(out),
            "## Shard exports against tar\n",
            _export_shards(out),
            "## Ingest from a corpus manifest against a folder\n",
            _ingest_manifests(),
            "## Every result's headline keys\n",
            _every_result(),
        ]
    )


# --- the build --------------------------------------------------------------------------


def _write(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:  # unchanged pages are not rebuilt
        path.write_text(text)


def generate(app: Sphinx) -> None:
    out = Path(app.srcdir) / GENERATED
    out.mkdir(exist_ok=True)
    check_cli()
    _write(out / "sql.md", sql_reference())
    _write(out / "assets.md", asset_reference())
    _write(out / "benchmarks.md", benchmarks(out))


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("builder-inited", generate)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
