"""The per-voice batch stages' assets: denoised audio, mel features, embeddings."""

from voxlake import pipeline
from voxlake.audio.denoise import model_info

from .batch_stage import batch_stage_asset

denoised_voices = batch_stage_asset(pipeline.DENOISE, "voices", metadata=model_info)
voice_mel_stats = batch_stage_asset(pipeline.MEL, "features", summary_tables=("batch_mel_stats",))
voice_embeddings = batch_stage_asset(pipeline.EMBED, "embeddings")
