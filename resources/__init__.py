"""Dagster resources: typed configuration for the lake and each stage."""

from voxlake.resources.config import (
    CatalogResource,
    DenoiserResource,
    EmbedderResource,
    IndexResource,
    LakeResource,
    MelResource,
    default_resources,
)

__all__ = [
    "CatalogResource",
    "DenoiserResource",
    "EmbedderResource",
    "IndexResource",
    "LakeResource",
    "MelResource",
    "default_resources",
]
