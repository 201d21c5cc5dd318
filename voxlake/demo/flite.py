"""Natural clean speech for the demo and the benchmarks: CMU Flite's voices (`apt install
flite`; `make demo` installs it where it can, and the demo falls back to its synthesizer).

Flite is deterministic (the same text and voice give the same samples) and its voices
are recorded human speech (slt, rms and awb: unit selection from CMU ARCTIC recordings;
kal16: diphones). The sentences are Harvard sentences (IEEE 1969), public domain. Target
utterances, babble and the held-out sentences that tune parameters (`DEV_SENTENCES`) use
disjoint lists.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 16_000
VOICES = ("slt", "rms", "awb", "kal16")
TARGET_SENTENCES = (
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
    "It's easy to tell the depth of a well.",
    "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.",
    "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.",
    "The hogs were fed chopped corn and garbage.",
    "Four hours of steady work faced us.",
    "A large size in stockings is hard to sell.",
    "The boy was there when the sun rose.",
    "A rod is used to catch pink salmon.",
)
DEV_SENTENCES = (
    "Open the crate but don't break the glass.",
    "Add the sum to the product of these three.",
    "Thieves who rob friends deserve jail.",
    "The ripe taste of cheese improves with age.",
    "Act on these orders with great speed.",
    "The hog crawled under the high fence.",
    "Move the vat over the hot fire.",
    "The bark of the pine tree was shiny and dark.",
)
BABBLE_SENTENCES = (
    "The source of the huge river is the clear spring.",
    "Kick the ball straight and follow through.",
    "Help the woman get back to her feet.",
    "A pot of tea helps to pass the evening.",
    "Smoky fires lack flame and heat.",
    "The soft cushion broke the man's fall.",
    "The salt breeze came across from the sea.",
    "The girl at the booth sold fifty bonds.",
)


def available() -> bool:
    return shutil.which("flite") is not None


def utterance(voice: str, text: str) -> np.ndarray:
    """One sentence by one Flite voice, float64 at 16 kHz, leading/trailing silence kept."""
    return _utterance(voice, text).copy()


@functools.lru_cache(maxsize=256)
def _utterance(voice: str, text: str) -> np.ndarray:
    with tempfile.TemporaryDirectory(prefix="flite-") as d:
        out = Path(d) / "u.wav"
        subprocess.run(["flite", "-voice", voice, "-t", text, "-o", str(out)], check=True)
        x, sr = sf.read(out, dtype="float64")
    if sr != RATE:
        raise RuntimeError(f"flite voice {voice} gave {sr} Hz, expected {RATE}")
    return x


def speech(voice: str, sentences: tuple[str, ...], seconds: float, start: int) -> np.ndarray:
    """Sentences start, start+1, ... by `voice`, joined until `seconds` long (cut there)."""
    parts: list[np.ndarray] = []
    i = start
    while sum(len(p) for p in parts) < seconds * RATE:
        parts.append(utterance(voice, sentences[i % len(sentences)]))
        i += 1
    return np.concatenate(parts)[: int(seconds * RATE)]


def babble(seconds: float, talkers: int, rng: np.random.Generator) -> np.ndarray:
    """`talkers` voices saying babble sentences at once, each from a random offset."""
    out = np.zeros(int(seconds * RATE))
    for _ in range(talkers):
        voice = VOICES[int(rng.integers(len(VOICES)))]
        x = speech(voice, BABBLE_SENTENCES, seconds + 3.0, int(rng.integers(100)))
        off = int(rng.integers(0, 3 * RATE))
        seg = x[off : off + len(out)]
        out[: len(seg)] += seg / (np.sqrt(np.mean(seg**2)) + 1e-12)
    return out
