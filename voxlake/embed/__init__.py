"""Embeddings: the speaker embedders (GE2E, mel profile) and the LanceDB voice index."""

from voxlake.embed.embedders import DEFAULT, EMBEDDERS, Embedder, get
from voxlake.embed.index_search import Hit, near_duplicates, search, speaker_top1, vector_of
from voxlake.embed.index_table import count, index_fingerprint
from voxlake.embed.index_writer import sync

__all__ = [
    "DEFAULT",
    "EMBEDDERS",
    "Embedder",
    "Hit",
    "count",
    "get",
    "index_fingerprint",
    "near_duplicates",
    "search",
    "speaker_top1",
    "sync",
    "vector_of",
]
