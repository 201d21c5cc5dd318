"""The lake checks what it serves: stored files and tables against lineage, no recompute.

`verify` recomputes batches from raw audio; `doctor` reads the bytes the lake actually
serves and compares them with what lineage recorded:
- every table file can be read;
- every raw file still hashes to its voice_id (its name);
- every denoised FLAC, mel array and embedding still hashes to its stage's content hash;
- the dataset statistics and the voice index cover the batches as they are now.
Each finding names the batch, the voice and the file, and the command that repairs it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voxlake import pipeline
from voxlake.audio.stream import hash_flac
from voxlake.embed import index_table, index_writer
from voxlake.features import dataset as dataset_stats
from voxlake.lake.hashing import hash_array, hash_file
from voxlake.lake.schemas import TABLES
from voxlake.lake.store import Lake


@dataclass(frozen=True)
class Finding:
    what: str  # table_file, raw_file, stage_file, coverage
    batch: str
    voice_id: str
    path: str  # relative to the lake
    problem: str
    repair: str  # the command that repairs it


def rerun(batch: str) -> str:
    return f"voxlake run --batches {batch}"


def _batch_of(rel: str) -> str:
    part = next((p for p in Path(rel).parts if p.startswith("batch=")), "")
    return part.removeprefix("batch=")


def damaged_tables(lake: Lake) -> Iterator[Finding]:
    """Table data files that are missing or cannot be read (deleted, truncated or
    overwritten by hand)."""
    for table in TABLES:
        for d in lake.tables.damaged(table):
            batch = d.batch or ""
            yield Finding(
                "table_file",
                batch,
                "",
                f"tables/{d.path}",
                f"table {d.table}: {d.problem}",
                rerun(batch) if batch else "voxlake run",
            )


def _raw_files(lake: Lake, keep: Callable[[str], bool]) -> Iterator[Finding]:
    for v in lake.read_table("voices").to_pylist():
        if not keep(v["batch"]):
            continue
        path = lake.root / v["raw_path"]
        problem = "missing" if not path.exists() else ""
        if not problem and hash_file(path) != path.stem:  # named by its hash (a cut segment
            problem = "content differs from its name"  # by its own, a file by its voice_id)
        if problem:
            repair = (
                f"voxlake ingest <the original of {v['source_path']}> && voxlake run, "
                f"or voxlake forget {v['voice_id']}"
            )
            yield Finding("raw_file", v["batch"], v["voice_id"], v["raw_path"], problem, repair)


def _stage_files(
    lake: Lake,
    hashes: list[dict[str, str]],
    path_of: Callable[[str], Path],
    content: Callable[[Path], str],
) -> Iterator[Finding]:
    for h in hashes:
        path = path_of(h["voice_id"])
        try:
            problem = "" if content(path) == h["content_hash"] else "content differs from lineage"
        except (OSError, ValueError, RuntimeError) as e:
            problem = "missing" if not path.exists() else f"unreadable: {str(e)[:80]}"
        if problem:
            rel = lake.relative(path)
            yield Finding("stage_file", h["batch"], h["voice_id"], rel, problem, rerun(h["batch"]))


def _embeddings(
    lake: Lake, hashes: list[dict[str, str]], keep: Callable[[str], bool]
) -> Iterator[Finding]:
    stored = {h["voice_id"]: h["content_hash"] for h in hashes}
    for e in lake.read_table("embeddings").to_pylist():
        if not keep(e["batch"]):
            continue
        if hash_array(np.asarray(e["vector"], dtype=np.float32)) != stored.get(e["voice_id"]):
            rel = f"tables/embeddings (batch {e['batch']})"
            problem = "vector differs from lineage"
            yield Finding("stage_file", e["batch"], e["voice_id"], rel, problem, rerun(e["batch"]))


def _coverage(lake: Lake) -> Iterator[Finding]:
    for batch in dataset_stats.behind(lake):
        yield Finding("coverage", batch, "", "stats/", "mel statistics behind", "voxlake run")
    for batch in index_writer.behind(lake):
        yield Finding("coverage", batch, "", "index/", "voice index behind", "voxlake run")
    voices = lake.read_table("embeddings").num_rows
    indexed = index_table.count(lake) if index_table.present(lake) else voices
    if indexed != voices:
        problem = f"index holds {indexed} voices, embeddings {voices}"
        yield Finding("coverage", "", "", "index/", problem, "voxlake run")


def served_files(lake: Lake, batches: Collection[str] | None = None) -> list[Finding]:
    """The stored raw, denoised, mel and embedding data of the batches (all: None) that do
    not hash to their lineage: read back and hashed, no audio recomputed."""

    def keep(batch: str) -> bool:
        return batches is None or batch in batches

    findings = list(_raw_files(lake, keep))
    by_stage: dict[str, list[dict[str, str]]] = {s: [] for s in pipeline.STAGES}
    for h in lake.read_table("voice_hashes").to_pylist():
        if keep(h["batch"]):
            by_stage.setdefault(h["stage"], []).append(h)
    denoised = by_stage[pipeline.DENOISE.name]
    findings += _stage_files(lake, denoised, lake.denoised_audio, lambda p: hash_flac(p)[0])
    mels = by_stage[pipeline.MEL.name]
    findings += _stage_files(lake, mels, lake.mel_features, lambda p: hash_array(np.load(p)))
    findings += _embeddings(lake, by_stage[pipeline.EMBED.name], keep)
    return findings


def doctor(lake: Lake) -> list[Finding]:
    """Everything the lake serves that does not match its lineage; empty when healthy."""
    findings = list(damaged_tables(lake))
    if findings:  # the rest reads these tables: repair them first
        return findings
    return [*served_files(lake), *_coverage(lake)]
