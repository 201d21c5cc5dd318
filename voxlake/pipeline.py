"""The batch stages in pipeline order: raw -> denoise -> (mel features, embeddings).

Each per-voice stage is a `Stage` declaration with its per-voice function; `run_stage`
runs any of them. `STAGE_ORDER` is derived from the declarations' `after`, and the Dagster
assets take their dependencies from the same declarations.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from voxlake import parallel
from voxlake.audio import decode, dnsmos, fork_server, stream
from voxlake.audio import denoise as dn
from voxlake.audio.decode import resample
from voxlake.embed import embedders as em
from voxlake.embed import ge2e, mel_profile
from voxlake.features import dataset as dataset_stats
from voxlake.features import mel, mel_file, stats
from voxlake.features.mel import MelConfig
from voxlake.features.mel_file import write_log_mel
from voxlake.features.stats import MelStats, to_decimals
from voxlake.ingest.raw import ASSET as RAW
from voxlake.lake.hashing import hash_array
from voxlake.lake.lineage import StageResult, stored_stage_hash
from voxlake.lake.store import Lake
from voxlake.stage import (
    Progress,
    Stage,
    VoiceJob,
    VoiceOutput,
    VoiceResult,
    failure,
    job_for,
    jobs_for,
    run_stage,
    stage_order,
)

DNSMOS_SECONDS = 60.0  # DNSMOS scores the first minute of each voice


@dataclass(frozen=True)
class PipelineConfig:
    """Every setting of the batch stages (the Dagster resources hand these out)."""

    denoise: dn.DenoiseConfig = dn.DenoiseConfig()
    mel: MelConfig = MelConfig()
    embedder: str = em.DEFAULT
    dnsmos: str = "off"  # DNSMOS P.835 before/after (dnsmos.MODES): a metric, not hashed
    dnsmos_fraction: float = 0.1  # the share of voices `sample` mode scores
    workers: int = 1


@dataclass(frozen=True)
class DenoiseSettings:
    config: dn.DenoiseConfig
    dnsmos: str = "off"
    dnsmos_fraction: float = 0.1

    def scores(self, voice_id: str) -> str | None:
        """The DNSMOS mode this voice is scored in (None: not scored)."""
        if self.dnsmos == "sample":
            return "exact" if dnsmos.sampled(voice_id, self.dnsmos_fraction) else None
        return None if self.dnsmos == "off" else self.dnsmos


# denoise ------------------------------------------------------------------------------


@lru_cache(maxsize=2)
def _denoiser(config: dn.DenoiseConfig) -> fork_server.ForkingDenoiser:
    return fork_server.ForkingDenoiser(config)


def _dnsmos_of(path: str, mode: str) -> dnsmos.Dnsmos:
    import soundfile as sf

    with sf.SoundFile(path) as f:
        x = f.read(int(DNSMOS_SECONDS * f.samplerate), dtype="float32", always_2d=True)
        sr = f.samplerate
    x16k = resample(x.astype(np.float64).mean(axis=1), sr, dnsmos.SAMPLE_RATE)
    return dnsmos.score(x16k, mode)


def denoise_voice(job: VoiceJob) -> VoiceResult:
    """Stream the raw file through DeepFilterNet3 into a FLAC at the voice's own rate (or
    48 kHz by config); metrics of in and out."""
    settings: DenoiseSettings = job.settings
    try:
        row = _denoiser(settings.config)(job.source, job.target)
        mode = settings.scores(job.voice_id)
        if mode:
            before, after = _dnsmos_of(job.source, mode), _dnsmos_of(job.target, mode)
            row.update(
                dnsmos_sig_in=before.sig,
                dnsmos_bak_in=before.bak,
                dnsmos_ovrl_in=before.ovrl,
                dnsmos_sig_out=after.sig,
                dnsmos_bak_out=after.bak,
                dnsmos_ovrl_out=after.ovrl,
            )
        return VoiceOutput(job.voice_id, row.pop("content_hash"), row)
    except Exception as e:
        return failure(job, e)


DENOISE: Stage[PipelineConfig] = Stage(
    name="denoised_voices",
    after=RAW,
    input_table="voices",
    source_column="raw_path",
    output_table="denoise_metrics",
    per_voice=denoise_voice,
    settings=lambda c: DenoiseSettings(c.denoise, c.dnsmos, c.dnsmos_fraction),
    params=lambda c: c.denoise.params(),
    code=(dn, stream, decode),  # fork_server's frame loop: tested bit-identical to dn's
    models=lambda _: {"deepfilternet3": dn.model_info()["model_sha256"]},
    output_path=Lake.denoised_audio,
    path_column="denoised_path",
)


# mel features and partial statistics ---------------------------------------------------


def mel_voice(job: VoiceJob) -> VoiceResult:
    """Log-mel features of the denoised voice (saved as .npy), its summary and exact sums."""
    try:
        cfg: MelConfig = job.settings
        written = write_log_mel(job.source, job.target, cfg)  # streamed: bounded memory
        sums = written.sums
        final = sums.finalize()
        row = {
            "n_frames": sums.n_frames,
            "mean": final.mean.astype(np.float32).tolist(),
            "std": final.std.astype(np.float32).tolist(),
            "sum": to_decimals(sums.sum),
            "sum_square": to_decimals(sums.sum_square),
        }
        return VoiceOutput(job.voice_id, written.content_hash, row, carry=sums)
    except Exception as e:
        return failure(job, e)


def _batch_partial(
    lake: Lake,
    batch: str,
    outputs: Sequence[VoiceOutput],
    result: StageResult,
    config: PipelineConfig,
) -> None:
    """The batch's exact partial statistics, and a marker for the dataset-wide update."""
    partial = MelStats(config.mel.n_mels, result.fingerprint)
    for out in outputs:
        partial.add(out.carry)
    total = partial.sums()
    row = {
        "batch": batch,
        "n_voices": total.n_voices,
        "n_frames": total.n_frames,
        "sum": to_decimals(total.sum),
        "sum_square": to_decimals(total.sum_square),
        "partial_hash": result.stage_hash,
        "fingerprint": result.fingerprint,
    }
    lake.write_table("batch_mel_stats", [row], batch)
    dataset_stats.mark_changed(lake, batch, result.stage_hash)


MEL: Stage[PipelineConfig] = Stage(
    name="voice_mel_stats",
    after="denoised_voices",
    input_table="denoise_metrics",
    source_column="denoised_path",
    output_table="voice_mel_stats",
    per_voice=mel_voice,
    settings=lambda c: c.mel,
    params=lambda c: c.mel.params(),
    code=(mel, mel_file, stats, decode),
    output_path=Lake.mel_features,
    finish=_batch_partial,
)


# embeddings ------------------------------------------------------------------------------


def embed_voice(job: VoiceJob) -> VoiceResult:
    """job.settings is the embedder's name."""
    try:
        v = em.embed_path(job.settings, job.source)
        return VoiceOutput(
            job.voice_id, hash_array(v), {"vector": v.tolist(), "embedder": job.settings}
        )
    except Exception as e:
        return failure(job, e)


EMBED: Stage[PipelineConfig] = Stage(
    name="voice_embeddings",
    after="denoised_voices",
    input_table="denoise_metrics",
    source_column="denoised_path",
    output_table="embeddings",
    per_voice=embed_voice,
    settings=lambda c: c.embedder,
    params=lambda c: em.get(c.embedder).params,
    code=(em, ge2e, mel_profile, mel, decode),
    models=lambda c: em.get(c.embedder).models(),
)


BATCH_STAGES: tuple[Stage[PipelineConfig], ...] = (DENOISE, MEL, EMBED)
STAGES = {s.name: s for s in BATCH_STAGES}
STAGE_ORDER = stage_order({s.name: s.after for s in BATCH_STAGES})  # raw first
# Code versions are made when the code is loaded (a later edit on disk does not change them).
FINAL_STAGES = tuple(n for n in STAGE_ORDER if n not in {s.after for s in BATCH_STAGES})


def batch_complete(lake: Lake, batch: str) -> bool:
    """Whether the batch went through every stage (its last stages have lineage)."""
    return all(stored_stage_hash(lake, batch, s) for s in FINAL_STAGES)


def following(name: str) -> tuple[Stage[PipelineConfig], ...]:
    """The batch stages that read stage `name`'s output."""
    return tuple(s for s in BATCH_STAGES if s.after == name)


def hand_ahead(lake: Lake, batch: str, after: str, config: PipelineConfig) -> int:
    """With work ahead on (`voxlake.parallel.work_ahead`), hand the voices of the stages
    that read `after`'s output (just written) to the pool now; their steps take the
    results. Returns how many voices were handed over."""
    if not parallel.working_ahead():
        return 0
    return sum(
        parallel.submit_ahead(s.per_voice, jobs_for(lake, batch, s, config), config.workers)
        for s in following(after)
    )


def voice_ahead(
    lake: Lake, after: str, config: PipelineConfig
) -> Callable[[dict[str, Any]], None] | None:
    """With work ahead on, what hands one voice to the stages that read `after`'s output
    as soon as its row is made (its file written), before the table is: the raw step
    calls it for each voice it accepts, so the pool denoises while the step goes through
    the rest of the batch. None with work ahead off (or one worker)."""
    if not parallel.working_ahead() or config.workers <= 1:
        return None
    stages = [(s, s.settings(config)) for s in following(after)]

    def hand(row: dict[str, Any]) -> None:
        for stage, settings in stages:
            job = job_for(lake, stage, settings, row)
            parallel.submit_ahead(stage.per_voice, [job], config.workers)

    return hand


def run(
    lake: Lake,
    batch: str,
    stage: Stage[PipelineConfig],
    config: PipelineConfig = PipelineConfig(),
    progress: Progress = None,
) -> StageResult:
    def ahead() -> int:
        return hand_ahead(lake, batch, stage.name, config)

    return run_stage(lake, batch, stage, config, config.workers, progress, then=ahead)


def embedder_fingerprint(name: str) -> str:
    """The fingerprint the embed stage gives rows made by embedder `name`."""
    return EMBED.fingerprint(PipelineConfig(embedder=name))


def mel_fingerprint(cfg: MelConfig = MelConfig()) -> str:
    """The mel extractor's identity: on every mel row and on the dataset statistics."""
    return MEL.fingerprint(PipelineConfig(mel=cfg))


def embedder_by_fingerprint(fp: str) -> em.Embedder:
    """The embedder whose rows carry fingerprint `fp`: the one that built an index."""
    for e in em.EMBEDDERS.values():
        if embedder_fingerprint(e.name) == fp:
            return e
    mine = ", ".join(f"{n}={embedder_fingerprint(n)}" for n in em.EMBEDDERS)
    raise LookupError(
        f"the index was built by embedder {fp}, which this voxlake does not have ({mine}); "
        "rebuild the index with this voxlake first"
    )


def embed_file(path: Path, embedder: str, config: PipelineConfig = PipelineConfig()) -> np.ndarray:
    """Embed an audio file exactly as the pipeline would: its denoise and embed stages.

    Raises ValueError with the reason when the file cannot be read or a stage fails.
    """
    from voxlake.audio.decode import RejectedAudio, read_audio

    try:
        read_audio(path)
    except RejectedAudio as e:
        raise ValueError(f"{path}: {e}") from None
    with tempfile.TemporaryDirectory(prefix="voxlake-query-") as tmp:
        flac = str(Path(tmp) / "query.flac")
        settings = DenoiseSettings(config.denoise)
        result = denoise_voice(VoiceJob("query", str(path), flac, settings))
        if isinstance(result, VoiceOutput):
            result = embed_voice(VoiceJob("query", flac, "", embedder))
    if not isinstance(result, VoiceOutput):
        raise ValueError(f"{path}: {result.error}")
    return np.asarray(result.row["vector"], dtype=np.float32)
