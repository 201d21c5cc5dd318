"""Dagster assets, one module per part of the pipeline; each body calls into voxlake."""

from voxlake.assets.dataset import mel_stats, voice_index
from voxlake.assets.maintenance import table_compaction
from voxlake.assets.raw import raw_voices
from voxlake.assets.reproducibility import reproducibility
from voxlake.assets.stages import denoised_voices, voice_embeddings, voice_mel_stats

ALL_ASSETS = [
    raw_voices,
    denoised_voices,
    voice_mel_stats,
    voice_embeddings,
    mel_stats,
    voice_index,
    reproducibility,
    table_compaction,
]

__all__ = ["ALL_ASSETS"]
