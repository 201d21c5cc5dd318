"""Dagster resources: typed configuration for the lake, the compute and each stage."""

from voxlake.resources.config import (
    ComputeResource,
    DenoiserResource,
    EmbedderResource,
    IndexResource,
    LakeResource,
    MelResource,
    default_resources,
    pipeline_config,
)

__all__ = [
    "ComputeResource",
    "DenoiserResource",
    "EmbedderResource",
    "IndexResource",
    "LakeResource",
    "MelResource",
    "default_resources",
    "pipeline_config",
]
