"""Dagster assets, one module per stage; each body calls into voxlake."""

from voxlake.assets.denoise import denoised_voices
from voxlake.assets.embed import voice_embeddings
from voxlake.assets.index import voice_index
from voxlake.assets.mel import mel_stats, voice_mel_stats
from voxlake.assets.raw import raw_voices
from voxlake.assets.reproducibility import reproducibility

BATCH_ASSETS = [raw_voices, denoised_voices, voice_mel_stats, voice_embeddings]
GLOBAL_ASSETS = [mel_stats, voice_index]
ALL_ASSETS = [*BATCH_ASSETS, *GLOBAL_ASSETS, reproducibility]

__all__ = ["ALL_ASSETS", "BATCH_ASSETS", "GLOBAL_ASSETS"]
