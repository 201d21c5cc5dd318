"""Splits that do not leak and do not move: a unit's split is a pure function of its key.

`--split train=0.98,dev=0.01,test=0.01 --by speaker` puts every voice of a speaker in one
split. The unit's key (its speaker, or any other column) is hashed with a named seed
(BLAKE3) into a number in [0, 1), and the fractions, in the order given, cut that interval.
Nothing depends on which other units exist, so a speaker keeps its split when later
batches add voices, and two exports of different selections agree on every shared unit.
A voice whose key is empty (no speaker) is its own unit: it is split by its voice id.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import blake3

DEFAULT_SEED = "voxlake"
BY_VOICE = ("voice", "voice_id")
NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


class BadSplit(ValueError):
    """A split spec or key that cannot be used (the message is one line)."""


@dataclass(frozen=True)
class SplitSpec:
    """Named fractions in order, the column that makes a unit, and the seed."""

    fractions: tuple[tuple[str, float], ...] = (("train", 1.0),)
    by: str = "speaker"
    seed: str = DEFAULT_SEED

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.fractions]

    def to_json(self) -> dict[str, Any]:
        return {"fractions": dict(self.fractions), "by": self.by, "seed": self.seed}

    def split_of(self, key: str) -> str:
        """The split of a unit with this key."""
        if len(self.fractions) == 1:
            return self.fractions[0][0]
        digest = blake3.blake3(f"{self.seed}\0{self.by}\0{key}".encode()).digest(8)
        point = int.from_bytes(digest, "big") / 2**64
        edge = 0.0
        for name, fraction in self.fractions:
            edge += fraction
            if point < edge:
                return name
        return self.fractions[-1][0]  # the float sum fell a hair short of 1

    def key_of(self, voice_id: str, row: Mapping[str, Any], labels: Mapping[str, Any]) -> str:
        """A voice's unit key: its `by` column (from the overview row, else its labels);
        its own id when that is empty."""
        if self.by in BY_VOICE:
            return voice_id
        value = row.get(self.by) if self.by in row else labels.get(self.by)
        if value is None or value == "":
            return "voice:" + voice_id
        return f"{type(value).__name__}:{value}"


def parse_split(text: str | None, by: str = "speaker", seed: str = DEFAULT_SEED) -> SplitSpec:
    """`train=0.98,dev=0.01,test=0.01` as a SplitSpec; no text is one split, `train` (what
    `datasets` calls a dataset of one split)."""
    if not text:
        return SplitSpec(by=by, seed=seed)
    fractions: list[tuple[str, float]] = []
    for part in text.split(","):
        name, eq, value = part.strip().partition("=")
        name = name.strip()
        if not eq or not name:
            raise BadSplit(f"--split: {part.strip()!r} is not NAME=FRACTION")
        if not set(name) <= NAME_CHARS:
            raise BadSplit(f"--split: split name {name!r} may use letters, digits, _ and -")
        if name in dict(fractions):
            raise BadSplit(f"--split: {name!r} is named twice")
        try:
            fraction = float(value)
        except ValueError:
            raise BadSplit(f"--split: {value.strip()!r} is not a number") from None
        if not (0.0 < fraction <= 1.0) or not math.isfinite(fraction):
            raise BadSplit(f"--split: the fraction of {name!r} must be in (0, 1], got {value}")
        fractions.append((name, fraction))
    total = sum(f for _, f in fractions)
    if abs(total - 1.0) > 1e-6:
        raise BadSplit(f"--split: the fractions sum to {total:g}, not 1")
    return SplitSpec(tuple(fractions), by, seed)


def check_by(spec: SplitSpec, columns: Iterable[str], labels: Iterable[Mapping[str, Any]]) -> None:
    """Refuse a `--by` that names neither a column nor a label of any selected voice."""
    if spec.by in BY_VOICE or spec.by in set(columns):
        return
    if any(spec.by in lab for lab in labels):
        return
    raise BadSplit(
        f"--by: no column or label named {spec.by!r} (columns: voice, "
        + ", ".join(sorted(set(columns)))
        + ", or a label key)"
    )
