"""The per-voice Stage: what the three batch stages (denoise, mel, embeddings) share.

A `Stage` declares its name (the asset's), the stage it reads after, its input and output
tables, its per-voice function, what its fingerprint covers and where its files go.
`run_stage` is the one skeleton: read the voices that passed the stage before, run the
per-voice function over them (in voice_id order, over `workers` processes), quarantine
the voices that failed in `rejected` with the stage's name, write the stage's table for
the batch wholesale, and record per-voice content hashes and lineage. The rest of the
batch goes on whatever one voice does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from voxlake.lake.fingerprint import code_version, fingerprint
from voxlake.lake.lineage import StageResult, record_stage
from voxlake.lake.store import Lake
from voxlake.parallel import map_voices

C = TypeVar("C")  # the whole configuration a stage picks its settings from
Progress = Callable[[int, int], None] | None


@dataclass(frozen=True)
class VoiceJob:
    """One voice's work: its input file, its output file ("" when none) and settings."""

    voice_id: str
    source: str
    target: str
    settings: Any


@dataclass(frozen=True)
class VoiceOutput:
    """What a stage made of one voice: its table row, content hash and in-memory extras."""

    voice_id: str
    content_hash: str
    row: dict[str, Any]
    carry: Any = None  # handed to the stage's `finish` (mel: the voice's exact sums)


@dataclass(frozen=True)
class VoiceFailure:
    voice_id: str
    error: str


VoiceResult = VoiceOutput | VoiceFailure


def failure(job: VoiceJob, e: Exception) -> VoiceFailure:
    return VoiceFailure(job.voice_id, f"{type(e).__name__}: {e}"[:300])


Finish = Callable[[Lake, str, Sequence[VoiceOutput], StageResult, Any], None]


@dataclass(frozen=True)
class Stage(Generic[C]):
    name: str  # the asset and lineage name
    after: str  # the stage whose output this one reads
    input_table: str  # rows of the voices to process, with `source_column`
    source_column: str  # relative path of each voice's input file
    output_table: str
    per_voice: Callable[[VoiceJob], VoiceResult]  # module-level: it crosses processes
    settings: Callable[[C], Any]  # what of the configuration the per-voice function needs
    params: Callable[[C], dict[str, Any]]  # what of it goes into the fingerprint
    code: tuple[Any, ...]  # functions, classes and modules whose source makes the output
    models: Callable[[C], dict[str, str]] = lambda _: {}  # model name -> file SHA-256
    output_path: Callable[[Lake, str], Path] | None = None  # per-voice file, if any
    path_column: str | None = None  # the output table's column for that file
    finish: Finish | None = None  # batch-level work after the table is written (+ config)

    @property
    def code_version(self) -> str:
        return code_version(self.per_voice, *self.code)

    def fingerprint(self, config: C) -> str:
        return fingerprint(self.params(config), self.models(config), self.code_version)


def quarantine(lake: Lake, batch: str, stage: str, failures: Iterable[VoiceFailure]) -> None:
    rows = [
        {
            "batch": batch,
            "source_path": "",
            "file_name": "",
            "voice_id": f.voice_id,
            "stage": stage,
            "reason": "stage_error",
            "detail": f.error,
        }
        for f in failures
    ]
    lake.write_table("rejected", rows, batch, part=stage)


def job_for(lake: Lake, stage: Stage[C], settings: Any, row: dict[str, Any]) -> VoiceJob:
    """The job of one voice of `stage`, from its row of the stage's input table."""
    voice_id = row["voice_id"]
    target = str(stage.output_path(lake, voice_id)) if stage.output_path else ""
    return VoiceJob(voice_id, str(lake.root / row[stage.source_column]), target, settings)


def jobs_for(lake: Lake, batch: str, stage: Stage[C], config: C) -> list[VoiceJob]:
    settings = stage.settings(config)
    rows = lake.read_table(stage.input_table, batch).to_pylist()
    return sorted((job_for(lake, stage, settings, r) for r in rows), key=lambda j: j.voice_id)


def run_stage(
    lake: Lake,
    batch: str,
    stage: Stage[C],
    config: C,
    workers: int = 1,
    progress: Progress = None,
    then: Callable[[], object] | None = None,
) -> StageResult:
    """One batch through one stage; the voices that fail are quarantined, the rest go on.
    `then` runs once the stage's table is written, before its lineage (the pipeline hands
    the next stages' voices to the pool there: `voxlake.parallel.submit_ahead`)."""
    jobs = jobs_for(lake, batch, stage, config)
    fp = stage.fingerprint(config)
    results = map_voices(stage.per_voice, jobs, workers, progress)
    quarantine(lake, batch, stage.name, (r for r in results if isinstance(r, VoiceFailure)))
    outputs = [r for r in results if isinstance(r, VoiceOutput)]
    rows = []
    for out in outputs:
        row = {**out.row, "voice_id": out.voice_id, "content_hash": out.content_hash}
        row.update(batch=batch, fingerprint=fp)
        if stage.output_path and stage.path_column:
            row[stage.path_column] = lake.relative(stage.output_path(lake, out.voice_id))
        rows.append(row)
    lake.write_table(stage.output_table, rows, batch)
    if then is not None:
        then()
    finish = stage.finish
    return record_stage(
        lake,
        batch,
        stage.name,
        [(o.voice_id, o.content_hash) for o in outputs],
        fp,
        stage.code_version,
        rejected=len(jobs) - len(outputs),
        models=stage.models(config),
        before_lineage=(lambda r: finish(lake, batch, outputs, r, config)) if finish else None,
    )


def stage_order(after: dict[str, str]) -> tuple[str, ...]:
    """Stages in dependency order from each stage's `after` (ties: as declared)."""
    names = list(dict.fromkeys([*(a for a in after.values() if a not in after), *after]))
    done: list[str] = []
    while len(done) < len(names):
        ready = [n for n in names if n not in done and (n not in after or after[n] in done)]
        if not ready:
            raise ValueError(f"the stages' `after` form a cycle: {after}")
        done.append(ready[0])
    return tuple(done)
