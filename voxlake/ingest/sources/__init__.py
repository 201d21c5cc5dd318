"""Corpora in the layouts their owners hold: Lhotse, Hugging Face Parquet, NeMo, Kaldi,
LibriSpeech and VCTK. Each module registers one reader (see `registry`)."""

from voxlake.ingest.sources import hf, kaldi, lhotse_manifests, librispeech, nemo, vctk  # noqa: F401
from voxlake.ingest.sources.item import ManifestError, SourceItem
from voxlake.ingest.sources.registry import SOURCES, read_source, register

__all__ = ["SOURCES", "ManifestError", "SourceItem", "read_source", "register"]
