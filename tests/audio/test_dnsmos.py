"""DNSMOS modes: exact follows speechmos' windows, fast covers each voice once, sample picks
voices by content hash."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from voxlake.audio import dnsmos
from voxlake.audio.dnsmos import NEED, SAMPLE_RATE, sampled, score, window_starts


def test_exact_windows_hop_one_second() -> None:
    assert window_starts(12 * SAMPLE_RATE, "exact") == [0, SAMPLE_RATE, 2 * SAMPLE_RATE]
    assert window_starts(NEED, "exact") == [0]


def test_fast_windows_cover_once_with_the_last_aligned_to_the_end() -> None:
    assert window_starts(NEED, "fast") == [0]
    n = 20 * SAMPLE_RATE
    starts = window_starts(n, "fast")
    assert starts == [0, NEED, n - NEED]
    assert all(b - a <= NEED for a, b in itertools.pairwise(starts))


def test_a_long_voice_costs_fast_far_fewer_windows() -> None:
    n = 60 * SAMPLE_RATE
    assert len(window_starts(n, "exact")) == 51 and len(window_starts(n, "fast")) == 7


def test_fast_scores_a_short_clip_in_one_window_close_to_exact() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(int(3.5 * SAMPLE_RATE)) / SAMPLE_RATE
    x = (0.3 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    x += 0.01 * rng.standard_normal(len(x)).astype(np.float32)
    exact, fast = score(x, "exact"), score(x, "fast")
    assert abs(exact.ovrl - fast.ovrl) < 0.3
    assert score(x, "fast") == fast  # deterministic


def test_sample_picks_a_stable_fraction_by_content_hash() -> None:
    rng = np.random.default_rng(1)
    ids = [rng.bytes(32).hex() for _ in range(4000)]
    share = np.mean([sampled(i, 0.1) for i in ids])
    assert 0.08 < share < 0.12
    assert all(sampled(i, 0.1) <= sampled(i, 0.5) for i in ids)  # nested fractions
    assert [sampled(i, 0.1) for i in ids] == [sampled(i, 0.1) for i in ids]


def test_modes_are_known() -> None:
    assert dnsmos.DEFAULT_MODE in dnsmos.MODES
    with pytest.raises(ValueError):
        score(np.zeros(0, np.float32))
