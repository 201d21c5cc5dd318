"""The per-voice batch stages' assets: denoised audio, mel features, embeddings."""

import base64
from typing import Any

import dagster as dg

from voxlake import pipeline
from voxlake.audio.denoise import model_info
from voxlake.audio.denoise_picture import denoise_picture
from voxlake.features.plots import markdown_image
from voxlake.lake.store import Lake

from .batch_stage import batch_stage_asset


def _denoise_metadata(lake: Lake, batch: str) -> dict[str, Any]:
    """The model, and one voice's spectrogram before and after."""
    picture = denoise_picture(lake, batch)
    if picture is None:
        return model_info()
    png = base64.b64encode(picture.png).decode()
    md = markdown_image(png, f"voice {picture.voice_id[:12]} before and after denoising")
    return {**model_info(), "spectrogram": dg.MetadataValue.md(md)}


denoised_voices = batch_stage_asset(pipeline.DENOISE, "voices", metadata=_denoise_metadata)
# Mel before embeddings: both read the denoised audio, and with work ahead the pool takes
# the mel voices first and is done with them soon, so the mel step's bookkeeping (its
# tables, statistics and checks) runs while the pool is still embedding.
voice_mel_stats = batch_stage_asset(
    pipeline.MEL, "features", summary_tables=("batch_mel_stats",), priority=1
)
voice_embeddings = batch_stage_asset(pipeline.EMBED, "embeddings")
