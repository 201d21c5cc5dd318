"""Natural clean speech for the benchmarks: the demo's Flite voices (`voxlake.demo.flite`)."""

from voxlake.demo.flite import (
    BABBLE_SENTENCES,
    DEV_SENTENCES,
    RATE,
    TARGET_SENTENCES,
    VOICES,
    available,
    babble,
    speech,
    utterance,
)

__all__ = [
    "BABBLE_SENTENCES",
    "DEV_SENTENCES",
    "RATE",
    "TARGET_SENTENCES",
    "VOICES",
    "available",
    "babble",
    "speech",
    "utterance",
]
