"""Dagster assets, one module per stage; each body calls into voxlake."""

from assets.denoise import denoised_voices
from assets.embed import voice_embeddings
from assets.index import voice_index
from assets.mel import mel_stats, voice_mel_stats
from assets.raw import raw_voices
from assets.reproducibility import reproducibility

BATCH_ASSETS = [raw_voices, denoised_voices, voice_mel_stats, voice_embeddings]
GLOBAL_ASSETS = [mel_stats, voice_index]
ALL_ASSETS = [*BATCH_ASSETS, *GLOBAL_ASSETS, reproducibility]

__all__ = ["ALL_ASSETS", "BATCH_ASSETS", "GLOBAL_ASSETS"]
