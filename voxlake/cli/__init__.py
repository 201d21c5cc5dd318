"""The `voxlake` command: demo, ingest, run, sql, search, verify."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from voxlake.lake.store import Lake, default_root


def _table(cols: Sequence[str], rows: Sequence[Sequence[Any]], limit: int = 200) -> str:
    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        s = "" if v is None else str(v)
        return s if len(s) <= 48 else s[:45] + "..."

    cells = [[fmt(v) for v in r] for r in rows[:limit]]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(cols)]
    line = "  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    if len(rows) > limit:
        out.append(f"... {len(rows) - limit} more rows")
    return "\n".join(out)


def _lake(args: argparse.Namespace) -> Lake:
    return Lake(args.lake or default_root()).ensure()


# ingest -------------------------------------------------------------------------------


def cmd_ingest(args: argparse.Namespace) -> int:
    lake = _lake(args)
    copied = 0
    for p in map(Path, args.paths):
        if not p.exists():
            print(f"voxlake: no such file or folder: {p}", file=sys.stderr)
            return 2
        files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
        base = p if p.is_dir() else p.parent
        for f in files:
            dst = lake.inbox / p.name / f.relative_to(base) if p.is_dir() else lake.inbox / f.name
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, dst)
            copied += 1
    print(f"copied {copied} file(s) into {lake.inbox}; `voxlake run` ingests them")
    return 0


# run ----------------------------------------------------------------------------------


def _run(lake: Lake, workers: int, dnsmos: bool = False, embedder: str = "ge2e") -> int:
    from voxlake.orchestration.runner import instance_for, run_pending

    summary = run_pending(lake, instance_for(lake), workers, dnsmos=dnsmos, embedder=embedder)
    from voxlake.lake import catalog

    catalog.refresh(lake)
    print(
        f"new batches: {len(summary.new_batches)}; materialised: {len(summary.succeeded)}; "
        f"failed: {len(summary.failed)}"
    )
    for b in summary.failed:
        print(f"  FAILED: {b} (see `make ui` for the run's logs)", file=sys.stderr)
    return 1 if summary.failed else 0


def _lake_embedder(lake: Lake) -> str:
    """The embedder the lake's index was built with (so new batches match it), else GE2E."""
    from voxlake.embed import embedders as embed
    from voxlake.embed import index

    fp = index.index_fingerprint(lake) if lake.index_dir.exists() else None
    try:
        return embed.by_fingerprint(fp).name if fp else embed.DEFAULT
    except LookupError:
        return embed.DEFAULT


def cmd_run(args: argparse.Namespace) -> int:
    lake = _lake(args)
    return _run(lake, args.workers, args.dnsmos, args.embedder or _lake_embedder(lake))


# sql ----------------------------------------------------------------------------------


def cmd_sql(args: argparse.Namespace) -> int:
    import duckdb

    from voxlake.lake import catalog

    sql = args.query
    if Path(sql).suffix == ".sql" and Path(sql).exists():
        sql = Path(sql).read_text()
    try:
        cols, rows = catalog.query(_lake(args), sql)
    except duckdb.Error as e:
        print(f"voxlake sql: {e}", file=sys.stderr)
        return 1
    if args.format == "json":
        print(json.dumps([dict(zip(cols, r, strict=True)) for r in rows], default=str, indent=1))
    elif args.format == "csv":
        print(",".join(cols))
        for r in rows:
            print(",".join("" if v is None else str(v) for v in r))
    else:
        print(_table(cols, rows))
    return 0


# search -------------------------------------------------------------------------------


def _embed_file(path: Path, embedder: str) -> Any:
    """Embed an audio file exactly as the pipeline would: its denoise and embed stages."""
    import tempfile

    import numpy as np

    from voxlake.audio.decode import RejectedAudio, read_audio
    from voxlake.audio.denoise import DenoiseConfig
    from voxlake.stages import DenoiseSettings, VoiceJob, denoise_voice, embed_voice

    try:
        read_audio(path)
    except RejectedAudio as e:
        raise SystemExit(f"voxlake search: {path}: {e}") from None
    with tempfile.TemporaryDirectory(prefix="voxlake-query-") as tmp:
        flac = str(Path(tmp) / "query.flac")
        settings = DenoiseSettings(DenoiseConfig())
        row = denoise_voice(VoiceJob("query", str(path), flac, settings))
        if "error" not in row:
            row = embed_voice(VoiceJob("query", flac, "", embedder))
    if "error" in row:
        raise SystemExit(f"voxlake search: {path}: {row['error']}")
    return np.asarray(row["vector"], dtype=np.float32)


def cmd_search(args: argparse.Namespace) -> int:
    from voxlake.embed import embedders as embed
    from voxlake.embed import index

    lake = _lake(args)
    try:
        if args.voice:
            vector, exclude = index.vector_of(lake, args.voice), args.voice
        else:
            stored = index.index_fingerprint(lake)
            if stored is None:
                raise LookupError("the index is empty")
            try:
                embedder = embed.by_fingerprint(stored)
            except LookupError as e:
                print(f"voxlake search: {e}", file=sys.stderr)
                return 2
            vector, exclude = _embed_file(Path(args.audio), embedder.name), None
        hits = index.search(lake, vector, args.k, where=args.where, exclude=exclude)
    except LookupError as e:
        print(f"voxlake search: {e}", file=sys.stderr)
        return 1
    print(
        _table(
            ["voice_id", "score", "speaker", "source", "batch"],
            [(h.voice_id, h.score, h.speaker, h.source, h.batch) for h in hits],
        )
    )
    return 0 if hits else 1


def cmd_duplicates(args: argparse.Namespace) -> int:
    from voxlake.embed import index

    pairs = index.near_duplicates(_lake(args), args.threshold, args.k)
    print(_table(["voice_a", "voice_b", "cosine"], pairs))
    print(f"{len(pairs)} near-duplicate pair(s) at cosine >= {args.threshold}")
    return 0


# verify -------------------------------------------------------------------------------


STAGE_RANK = {
    "raw_voices": 0,
    "denoised_voices": 1,
    "voice_mel_stats": 2,
    "voice_embeddings": 3,
    "mel_stats": 4,
}


def _report(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """One line per (batch, check, stage): runs, all matched, first voice, max difference."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["batch"], r["check"], r["stage"]), []).append(r)
    out = []
    for (batch, check, stage), rs in sorted(
        groups.items(), key=lambda kv: (kv[0][0], kv[0][1], STAGE_RANK.get(kv[0][2], 9))
    ):
        firsts = [r["first_voice"] for r in rs if r["first_voice"]]
        diffs = [r["max_abs_diff"] for r in rs if r["max_abs_diff"] is not None]
        out.append(
            (
                batch or "(dataset)",
                check,
                stage,
                len(rs),
                all(r["match"] for r in rs),
                firsts[0] if firsts else "",
                max(diffs) if diffs else 0.0,
            )
        )
    return out


def _verify(
    lake: Lake, runs: int, batches: list[str] | None, workers: int, cross: bool = False
) -> int:
    from voxlake.features import dataset as dataset_stats
    from voxlake.lake import catalog
    from voxlake.orchestration.runner import completed_batches, instance_for, run_verify
    from voxlake.repro import recompute as verify

    chosen = batches or completed_batches(lake)
    if not chosen:
        print("voxlake verify: no completed batch to verify; `voxlake run` first", file=sys.stderr)
        return 1
    failed = run_verify(lake, instance_for(lake), chosen, runs, workers, cross) if runs else []
    rows = [
        r
        for b in chosen
        for r in lake.read_table("reproducibility", b).to_pylist()
        if r["check"] == "rerun" or (cross and (r["check"] or "").startswith("workers="))
    ]
    if cross:
        print("cross-checks: batch merge orders, regrouped voices ...")
        rows += dataset_stats.verify_merge_orders(lake)
        rows += verify.verify_regroup(lake, chosen, verify.VerifyConfig(workers=workers))
    catalog.refresh(lake)
    table = _report(rows)
    print(
        _table(["batch", "check", "stage", "runs", "match", "first_voice", "max_abs_diff"], table)
    )
    bad = [r for r in table if not r[4]]
    for r in bad:
        print(
            f"MISMATCH: {r[2]} diverged ({r[1]}, batch {r[0]}), first voice {r[5] or '?'}, "
            f"largest difference {r[6]}",
            file=sys.stderr,
        )
    verdict = "bit-identical" if not bad and not failed else "MISMATCH"
    print(f"reproducibility: {verdict} ({len(table)} checks; {runs} rerun(s) per batch)")
    return 0 if verdict == "bit-identical" else 1


def _against(lake: Lake, path: Path) -> int:
    from voxlake.repro import manifest

    try:
        rows, diffs = manifest.compare(lake, json.loads(path.read_text()))
    except (OSError, ValueError) as e:
        print(f"voxlake verify: {path}: {e}", file=sys.stderr)
        return 2
    print(f"environment differences ({len(diffs)}):")
    for k, (here, there) in diffs.items():
        print(f"  {k}: {here} here, {there} there")
    print(
        _table(
            ["batch", "stage", "match", "first_voice", "explained_by"],
            [
                (
                    r["batch"] or "(dataset)",
                    r["stage"],
                    r["match"],
                    r["first_voice"],
                    r["explained_by"],
                )
                for r in rows
            ],
        )
    )
    bad = [r for r in rows if not r["match"]]
    print(f"against {path.name}: {'bit-identical' if not bad else f'{len(bad)} MISMATCH(ES)'}")
    return 1 if bad else 0


def cmd_verify(args: argparse.Namespace) -> int:
    from voxlake.repro import manifest

    lake = _lake(args)
    if args.against:
        return _against(lake, Path(args.against))
    code = _verify(lake, args.runs, args.batches, args.workers, args.cross)
    if args.export_manifest:
        manifest.write(lake, Path(args.export_manifest))
        print(f"hash manifest written to {args.export_manifest}")
    return code


# forget and stats ------------------------------------------------------------------------


def cmd_forget(args: argparse.Namespace) -> int:
    from voxlake.ingest.forget import forget
    from voxlake.lake import catalog

    lake = _lake(args)
    report = forget(lake, args.voice_ids, args.reason or "")
    catalog.refresh(lake)
    for voice_id, batch in sorted(report.forgotten.items()):
        print(f"forgot {voice_id} (batch {batch})")
    for voice_id in report.unknown:
        print(f"voxlake forget: no voice {voice_id}", file=sys.stderr)
    print(
        f"{len(report.forgotten)} voice(s) erased: {report.files_removed} files and "
        f"{report.rows_removed} rows removed; dataset stats and index updated"
    )
    return 0 if report.forgotten and not report.unknown else 1


def cmd_stats_export(args: argparse.Namespace) -> int:
    from voxlake.features.export import export

    try:
        data = export(_lake(args), args.format, args.window)
    except LookupError as e:
        print(f"voxlake stats export: {e}", file=sys.stderr)
        return 1
    if args.output:
        Path(args.output).write_bytes(data)
        print(f"wrote {args.output}")
    elif args.format == "json":
        sys.stdout.write(data.decode())
    else:
        print("voxlake stats export: npz is binary; give --output FILE", file=sys.stderr)
        return 2
    return 0


# demo ---------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    from voxlake.demo import corpus
    from voxlake.demo import scoring as demo
    from voxlake.embed import index
    from voxlake.lake import catalog

    lake = _lake(args)
    t0 = time.perf_counter()
    print(f"lake: {lake.root}")
    print(
        f"generating {args.voices} voices from {max(6, args.voices // 4)} synthetic speakers "
        f"(seed {args.seed}) ..."
    )
    corpus.generate(
        lake.inbox,
        demo.clean_dir(lake),
        args.voices,
        n_speakers=min(max(6, args.voices // 4), max(args.voices, 1)),
        seed=args.seed,
    )
    if _run(lake, args.workers, dnsmos=not args.no_dnsmos) != 0:
        return 1
    q = lambda sql: catalog.query(lake, sql)[1]  # noqa: E731
    n_voices = q("select count(*) from voices")[0][0]
    print("\n== summary ==")
    print(f"voices ingested: {n_voices}")
    rejected = q("select file_name, reason, detail from rejected order by file_name")
    print(f"rejected: {len(rejected)}")
    for name, reason, detail in rejected:
        print(f"  {name}: {reason} ({detail})")
    scores = demo.score_pairs(lake)
    print(f"SI-SDR gain on {len(scores)} noisy/clean pairs: mean {demo.mean_gain(scores):+.2f} dB")
    bands = demo.gain_by_band(scores)
    print(
        "  median by input SNR and noise: "
        + ", ".join(f"{k} {v:+.1f} dB" for k, v in bands.items())
    )
    mos = q(
        "select avg(dnsmos_ovrl_in), avg(dnsmos_ovrl_out), avg(dnsmos_bak_in), "
        "avg(dnsmos_bak_out) from denoise_metrics"
    )[0]
    if mos[0] is not None:
        print(
            f"DNSMOS P.835 mean: OVRL {mos[0]:.2f} -> {mos[1]:.2f}, "
            f"BAK {mos[2]:.2f} -> {mos[3]:.2f}"
        )
    stats = q("select count(*), min(n_frames), min(n_voices) from dataset_mel_stats")[0]
    print(
        f"dataset mel stats: mean/std shape ({stats[0]},) over {stats[1]} frames "
        f"of {stats[2]} voices"
    )
    print(f"index rows: {index.count(lake)}")
    top1, n_queries = index.speaker_top1(lake)
    if n_queries:
        print(f"top-1 speaker retrieval: {top1:.2f} ({n_queries} voices whose speaker has another)")
    first = q("select voice_id, speaker from voices order by source_path limit 1")
    if first:
        vid, spk = first[0]
        hits = index.search(lake, index.vector_of(lake, vid), 5, exclude=vid)
        print(f"voices most like {vid[:12]} ({spk}):")
        for h in hits:
            print(f"  {h.voice_id[:12]}  {h.score:.3f}  {h.speaker}")
    print()
    code = _verify(lake, 1, None, args.workers)
    print(
        f"\ndone in {time.perf_counter() - t0:.0f} s. Open the UI on this lake with:\n"
        f"  make ui LAKE={lake.root}\n"
        f"or: VOXLAKE_HOME={lake.root} DAGSTER_HOME={lake.root}/dagster "
        f"dagster dev -w workspace.yaml"
    )
    return code


# main ---------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="voxlake", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    def add(name: str, help_: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_)
        sp.add_argument("--lake", help="lake root (default: $VOXLAKE_HOME or ./.voxlake)")
        return sp

    d = add("demo", "generate a corpus, run the whole pipeline, print a summary")
    d.add_argument("--voices", type=int, default=24)
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--workers", type=int, default=1)
    d.add_argument("--no-dnsmos", action="store_true", help="skip DNSMOS (faster)")
    d.set_defaults(fn=cmd_demo)
    i = add("ingest", "copy files or folders into the inbox")
    i.add_argument("paths", nargs="+")
    i.set_defaults(fn=cmd_ingest)
    r = add("run", "materialise pending batches and what depends on them (no daemon)")
    r.add_argument("--workers", type=int, default=1)
    r.add_argument("--dnsmos", action="store_true", help="DNSMOS P.835 before/after per voice")
    r.add_argument(
        "--embedder",
        choices=["ge2e", "mel_profile"],
        help="speaker embedder; default: the one the lake's index holds, else ge2e "
        "(every batch of a lake must use the same one)",
    )
    r.set_defaults(fn=cmd_run)
    s = add("sql", "run a read-only SQL query (or a .sql file) on the catalog")
    s.add_argument("query")
    s.add_argument("--format", choices=["table", "csv", "json"], default="table")
    s.set_defaults(fn=cmd_sql)
    se = add("search", "find the voices most like a voice or an audio file")
    g = se.add_mutually_exclusive_group(required=True)
    g.add_argument("--voice", help="voice_id")
    g.add_argument("--audio", help="an audio file (denoised and embedded on the fly)")
    se.add_argument("-k", type=int, default=5)
    se.add_argument("--where", help="SQL filter on speaker, source, batch")
    se.set_defaults(fn=cmd_search)
    du = add("duplicates", "list near-duplicate voice pairs (by embedding similarity)")
    du.add_argument("--threshold", type=float, default=0.95)
    du.add_argument("-k", type=int, default=5, help="neighbours asked per voice")
    du.set_defaults(fn=cmd_duplicates)
    v = add("verify", "recompute batches and compare BLAKE3 stage hashes (exit 1 on mismatch)")
    v.add_argument("--runs", type=int, default=3)
    v.add_argument("--batches", nargs="*")
    v.add_argument("--workers", type=int, default=1)
    v.add_argument(
        "--cross",
        action="store_true",
        help="also: the other worker count, permuted merge orders, regrouped batches",
    )
    v.add_argument(
        "--export-manifest", metavar="FILE", help="write the lake's hashes + environment"
    )
    v.add_argument(
        "--against", metavar="FILE", help="compare the lake with a manifest from elsewhere"
    )
    v.set_defaults(fn=cmd_verify)
    f = add("forget", "erase voices everywhere and retract them from the statistics exactly")
    f.add_argument("voice_ids", nargs="+", metavar="VOICE_ID")
    f.add_argument("--reason", help="recorded in the erasures table")
    f.set_defaults(fn=cmd_forget)
    st = sub.add_parser("stats", help="dataset mel statistics")
    st_sub = st.add_subparsers(dest="stats_command", required=True)
    ex = st_sub.add_parser("export", help="export as npz (ESPnet count/sum/sum_square) or JSON")
    ex.add_argument("--lake", help="lake root (default: $VOXLAKE_HOME or ./.voxlake)")
    ex.add_argument("--format", choices=["npz", "json"], default="json")
    ex.add_argument("--output", "-o", help="file to write (required for npz)")
    ex.add_argument(
        "--window",
        type=int,
        metavar="N_FRAMES",
        help="fixed-window mode: each voice's first N frames as one sample",
    )
    ex.set_defaults(fn=cmd_stats_export)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    import warnings

    warnings.filterwarnings("ignore")
    args = parser().parse_args(argv)
    return int(args.fn(args))


if __name__ == "__main__":
    sys.exit(main())
