"""ConfigurableResources: each holds a part's typed settings and hands out core objects.

They are wired once, in the code location's Definitions. A run sets any field through
its run config (`resources: {denoiser: {config: {dnsmos: fast}}}`); the CLI does the same.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import dagster as dg

from voxlake.audio.decode import AudioLimits
from voxlake.audio.denoise import DenoiseConfig
from voxlake.audio.dnsmos import MODES as DNSMOS_MODES
from voxlake.embed.embedders import DEFAULT as DEFAULT_EMBEDDER
from voxlake.embed.index_table import DEFAULT_ANN_THRESHOLD, DEFAULT_OPTIMIZE_AFTER
from voxlake.export.lake_files import LakeFiles, LocalFiles
from voxlake.features.mel import MelConfig
from voxlake.ingest.inbox import DEFAULT_BATCH_SIZE
from voxlake.lake.compaction import DEFAULT_RETENTION_HOURS
from voxlake.lake.objectstore import StoreConfig, is_remote
from voxlake.lake.objectstore.remote import DATASET_NEEDS, StoreLake
from voxlake.lake.store import Lake, default_root
from voxlake.pipeline import PipelineConfig


class LakeResource(dg.ConfigurableResource):
    """Where the lake lives, how big a batch may be, and what a voice must satisfy.

    `root` is a folder, or an object-store URI (`s3://bucket/prefix`) for cluster mode.
    On a store, the endpoint, region and keys come from these fields (set them with
    `dg.EnvVar`) or else from the AWS_* environment, and each step works on a working copy
    under `cache` ($VOXLAKE_CACHE or ~/.cache/voxlake): `voxlake.lake.objectstore.remote`.
    Assets use the sessions, which are the local lake itself when `root` is a folder.
    """

    root: str = ""  # "" means $VOXLAKE_HOME or ./.voxlake
    batch_size: int = DEFAULT_BATCH_SIZE
    min_duration_s: float = AudioLimits.min_duration_s
    max_duration_s: float = AudioLimits.max_duration_s
    silence_dbfs: float = AudioLimits.silence_dbfs
    max_rms_dbfs: float = AudioLimits.max_rms_dbfs
    cache: str = ""
    retention_hours: float = DEFAULT_RETENTION_HOURS  # earlier snapshots kept by `compact`
    endpoint: str = ""
    region: str = ""
    access_key_id: str = ""
    secret_access_key: str = ""

    def _uri(self) -> str:
        return self.root or os.environ.get("VOXLAKE_HOME", "")

    def on_store(self) -> bool:
        return is_remote(self._uri())

    def lake(self) -> Lake:
        if self.on_store():
            raise ValueError(f"{self._uri()} is on a store: use a session of the lake resource")
        return Lake(self.root or default_root()).ensure()

    def store_config(self) -> StoreConfig:
        """The lake's location as a store: its object-store prefix, or its folder."""
        if not self.on_store():
            return StoreConfig(str(self.root or default_root()))
        return StoreConfig(
            self._uri(), self.endpoint, self.region, self.access_key_id, self.secret_access_key
        )

    def store_lake(self) -> StoreLake:
        return StoreLake.of(self.store_config(), self.cache)

    @contextmanager
    def _session(
        self, on_store: Callable[[StoreLake], AbstractContextManager[Lake]]
    ) -> Iterator[Lake]:
        if not self.on_store():
            yield self.lake()
            return
        with on_store(self.store_lake()) as lake:
            yield lake

    def batch_session(
        self, batch: str, reads: tuple[str, ...] = (), inbox: bool = False
    ) -> AbstractContextManager[Lake]:
        """The lake for one batch's step (on a store: what it reads, pushed after)."""
        return self._session(lambda store: store.batch_session(batch, reads, inbox))

    def dataset_session(
        self, needs: tuple[str, ...] = DATASET_NEEDS
    ) -> AbstractContextManager[Lake]:
        """The lake for a dataset-wide step (on a store: under the global lease, with what
        it `needs` pulled: `voxlake.lake.objectstore.remote.DATASET_NEEDS`)."""
        return self._session(lambda store: store.dataset_session(needs))

    @contextmanager
    def read_session(self) -> Iterator[tuple[Lake, LakeFiles]]:
        """The lake for a step that only reads it (an export's), and how its files are
        reached: on a store, `StoreLake.read_session` (no lease; each shard's audio fetched
        as it is written; nothing pushed but the snapshots it records)."""
        if not self.on_store():
            yield self.lake(), LocalFiles()
            return
        with self.store_lake().read_session() as reading:
            yield reading.lake, reading

    def inbox_session(self) -> AbstractContextManager[Lake]:
        """The lake for an inbox scan (on a store: under the batches lease)."""
        return self._session(StoreLake.inbox_session)

    def limits(self) -> AudioLimits:
        return AudioLimits(
            self.min_duration_s, self.max_duration_s, self.silence_dbfs, self.max_rms_dbfs
        )


class ComputeResource(dg.ConfigurableResource):
    """Processes per batch: voices are spread over `workers` (results never depend on it)."""

    workers: int = 1


class DenoiserResource(dg.ConfigurableResource):
    """DeepFilterNet3 settings (all in the fingerprint) and the DNSMOS switch."""

    atten_lim_db: float = DenoiseConfig.atten_lim_db
    post_filter_beta: float = DenoiseConfig.post_filter_beta
    passthrough_depth_db: float = DenoiseConfig.passthrough_depth_db  # 0: denoise every voice
    output_rate: str = DenoiseConfig.output_rate  # "source" (the voice's own) or "model" (48k)
    dnsmos: str = "off"  # DNSMOS P.835 before/after: off, exact, fast or sample (a metric)
    dnsmos_fraction: float = 0.1  # the share of voices `sample` mode scores

    def config(self) -> DenoiseConfig:
        return DenoiseConfig(
            self.atten_lim_db, self.post_filter_beta, self.passthrough_depth_db, self.output_rate
        )


class MelResource(dg.ConfigurableResource):
    """The log-mel extractor's settings."""

    n_mels: int = MelConfig.n_mels
    n_fft: int = MelConfig.n_fft
    hop_length: int = MelConfig.hop_length

    def config(self) -> MelConfig:
        return MelConfig(
            n_fft=self.n_fft, win_length=self.n_fft, hop_length=self.hop_length, n_mels=self.n_mels
        )


class EmbedderResource(dg.ConfigurableResource):
    """Which embedder: "ge2e" or the model-free "mel_profile"."""

    name: str = DEFAULT_EMBEDDER


class IndexResource(dg.ConfigurableResource):
    """The LanceDB index: rows from which an ANN index is built."""

    ann_threshold: int = DEFAULT_ANN_THRESHOLD
    optimize_after: int = DEFAULT_OPTIMIZE_AFTER  # new rows searched exactly until then


def pipeline_config(
    compute: ComputeResource,
    denoiser: DenoiserResource,
    mel: MelResource,
    embedder: EmbedderResource,
) -> PipelineConfig:
    """The core's configuration of the batch stages, from the resources."""
    if denoiser.dnsmos not in DNSMOS_MODES:
        raise ValueError(
            f"denoiser.dnsmos is {denoiser.dnsmos!r}: one of {', '.join(DNSMOS_MODES)}"
        )
    return PipelineConfig(
        denoise=denoiser.config(),
        mel=mel.config(),
        embedder=embedder.name,
        dnsmos=denoiser.dnsmos,
        dnsmos_fraction=denoiser.dnsmos_fraction,
        workers=compute.workers,
    )


def default_resources() -> dict[str, Any]:
    """Every resource with its defaults: what the code location is wired with."""
    return {
        "lake": LakeResource(),
        "compute": ComputeResource(),
        "denoiser": DenoiserResource(),
        "mel": MelResource(),
        "embedder": EmbedderResource(),
        "vector_index": IndexResource(),
    }
