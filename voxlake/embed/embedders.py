"""Voice embedders behind one interface, chosen by name in the embedder config.

- `ge2e`: the GE2E speaker encoder (resemblyzer's weights), voxlake.embed.ge2e.
- `mel_profile`: the voice's mel profile, model-free, voxlake.embed.mel_profile.

Both take mono 16 kHz audio and give an L2-normalised 256-d float32 vector; every row
carries its embedder's fingerprint, and a query is embedded by the embedder whose
fingerprint the index holds (`voxlake.pipeline.embedder_by_fingerprint`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from voxlake.audio.decode import mono_blocks, read_mono, resample
from voxlake.embed import ge2e, mel_profile

SAMPLE_RATE = 16_000
DIM = 256
DEFAULT = "ge2e"


LONG_S = 300.0  # a longer voice is embedded as a stream (bounded memory)


@dataclass(frozen=True)
class Embedder:
    name: str
    embed: Callable[[np.ndarray], np.ndarray]  # mono 16 kHz -> unit vector [DIM] float32
    embed_stream: Callable[[Callable[[], Iterator[np.ndarray]]], np.ndarray]  # re-readable
    params: dict[str, object]  # what goes into the embed stage's fingerprint
    models: Callable[[], dict[str, str]]  # model name -> sha256 of its weights


EMBEDDERS: dict[str, Embedder] = {
    "ge2e": Embedder(
        "ge2e",
        ge2e.embed,
        ge2e.embed_stream,
        ge2e.PARAMS,
        lambda: {"ge2e": ge2e.model_sha256()},
    ),
    "mel_profile": Embedder(
        "mel_profile", mel_profile.embed, mel_profile.embed_stream, mel_profile.PARAMS, dict
    ),
}


def embed_path(name: str, path: str | Path) -> np.ndarray:
    """The embedding of an audio file: whole in memory up to LONG_S, else as a stream."""
    embedder = get(name)
    if sf.info(str(path)).duration <= LONG_S:
        y, sr = read_mono(path)
        return embedder.embed(resample(y, sr, SAMPLE_RATE))
    return embedder.embed_stream(lambda: mono_blocks(path, SAMPLE_RATE))


def get(name: str) -> Embedder:
    try:
        return EMBEDDERS[name]
    except KeyError:
        known = ", ".join(sorted(EMBEDDERS))
        raise ValueError(f"unknown embedder {name!r} (known: {known})") from None
