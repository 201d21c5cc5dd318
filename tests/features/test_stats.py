from decimal import Decimal
from fractions import Fraction

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from voxlake.features.stats import (
    FRAC_BITS,
    MelStats,
    MelSums,
    WelfordStats,
    from_decimals,
    to_decimals,
    voice_sums,
    window,
)


def _voices(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(-5, 3, size=(int(rng.integers(20, 200)), 8)) for _ in range(n)]


def _acc(voices: list[np.ndarray], order: list[int] | None = None) -> MelStats:
    st = MelStats(8)
    for i in order if order is not None else range(len(voices)):
        st.add(voice_sums(voices[i]))
    return st


def test_exact_stats_are_bit_identical_in_any_order_and_merge_tree() -> None:
    voices = _voices(30)
    ref = _acc(voices).finalize()
    rng = np.random.default_rng(1)
    for _ in range(5):
        order = list(rng.permutation(len(voices)))
        cut = int(rng.integers(1, len(voices)))
        left, right = _acc(voices, order[:cut]), _acc(voices, order[cut:])
        merged = left.merge(right).finalize()
        assert merged.mean.tobytes() == ref.mean.tobytes()
        assert merged.var.tobytes() == ref.var.tobytes()


def test_removing_a_voice_gives_exactly_the_stats_that_never_saw_it() -> None:
    voices = _voices(10)
    st = _acc(voices)
    st.remove(voice_sums(voices[3]))
    never = _acc([v for i, v in enumerate(voices) if i != 3])
    assert st.sums() == never.sums()
    assert st.finalize().var.tobytes() == never.finalize().var.tobytes()


def test_exact_stats_match_a_rational_reference_on_adversarial_data() -> None:
    rng = np.random.default_rng(2)
    # a large offset with a tiny variance: float64 sum-of-squares would cancel badly
    x = 100.0 + rng.normal(0, 1e-4, size=(5000, 2))
    final = MelStats.from_sums(voice_sums(x)).finalize()
    q = [[Fraction(int(v), 1 << FRAC_BITS) for v in np.rint(col * 2.0**FRAC_BITS)] for col in x.T]
    for b, col in enumerate(q):
        mean = sum(col) / len(col)
        var = sum((c - mean) ** 2 for c in col) / len(col)
        assert final.mean[b] == float(mean)
        assert final.var[b] == float(var)  # rounded once from the exact rational
    naive = np.mean(x**2, axis=0) - np.mean(x, axis=0) ** 2
    assert np.max(np.abs(final.var - np.var(x, axis=0)) / np.var(x, axis=0)) < 1e-6
    assert not np.allclose(naive, np.var(x, axis=0), rtol=1e-3, atol=0)  # what exactness buys


def test_finalize_rounds_the_exact_rationals_once() -> None:
    rng = np.random.default_rng(5)
    n = 10**9 + 7  # sums far past float64's exact integers, of either sign
    s1 = tuple(
        int(v) * (1 << 60) + int(w)
        for v, w in zip(rng.integers(-(2**40), 2**40, 16), rng.integers(0, 2**60, 16), strict=True)
    )
    s2 = tuple(x * x // n + int(e) for x, e in zip(s1, rng.integers(0, 2**62, 16), strict=True))
    final = MelSums(n, 3, s1, s2).finalize((4, 4))
    scale = 1 << FRAC_BITS
    mean = [float(Fraction(v, n * scale)) for v in s1]
    var = [float(Fraction(n * b - a * a, (n * scale) ** 2)) for a, b in zip(s1, s2, strict=True)]
    assert final.mean.shape == (4, 4) and final.n_voices == 3
    assert final.mean.ravel().tolist() == mean
    assert final.var.ravel().tolist() == var


def test_partials_round_trip_through_parquet_without_loss(tmp_path) -> None:
    st = _acc(_voices(5))
    s = st.sums()
    t = pa.table(
        {"sum": [to_decimals(s.sum)], "sum_square": [to_decimals(s.sum_square)]},
        schema=pa.schema(
            [
                ("sum", pa.list_(pa.decimal128(38, 0))),
                ("sum_square", pa.list_(pa.decimal128(38, 0))),
            ]
        ),
    )
    pq.write_table(t, tmp_path / "p.parquet")
    back = pq.read_table(tmp_path / "p.parquet").to_pylist()[0]
    assert from_decimals(back["sum"]) == s.sum
    assert from_decimals(back["sum_square"]) == s.sum_square
    assert isinstance(back["sum"][0], Decimal)


def test_bad_inputs_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="finite"):
        voice_sums(np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match="within"):
        voice_sums(np.array([[1e6]]))
    a, b = MelStats(8, "fp-a"), MelStats(8, "fp-b")
    with pytest.raises(ValueError, match="different extractors"):
        a.merge(b)
    with pytest.raises(ValueError, match="no frames"):
        MelStats(8).finalize()


def test_vectorised_adds_equal_python_integer_sums_across_limb_carries() -> None:
    rng = np.random.default_rng(3)
    st = MelStats(4)
    ref_s1, ref_s2, n = [0] * 4, [0] * 4, 0
    for _ in range(40):  # values near the bound: carries happen in every limb
        x = rng.uniform(-127.9, 127.9, size=(int(rng.integers(1, 3000)), 4))
        st.add_frames(x)
        q = np.rint(x * 2.0**FRAC_BITS).astype(np.int64)
        for b in range(4):
            col = [int(v) for v in q[:, b]]
            ref_s1[b] += sum(col)
            ref_s2[b] += sum(v * v for v in col)
        n += len(x)
    s = st.sums()
    assert (s.n_frames, s.sum, s.sum_square) == (n, tuple(ref_s1), tuple(ref_s2))
    big = MelStats(4).add(s).add(s).add(s)  # exact path, three-fold
    assert big.sums().sum == tuple(3 * v for v in ref_s1)
    assert big.remove(s).remove(s).sums() == s


def test_fixed_window_mode_gives_per_position_statistics() -> None:
    rng = np.random.default_rng(4)
    voices = [rng.normal(0, 1, size=(int(rng.integers(100, 300)), 8)) for _ in range(12)]
    st = MelStats((100, 8))
    for v in voices:
        st.add_frames(window(v, 100))
    final = st.finalize()
    stack = np.stack([v[:100] for v in voices])
    assert final.mean.shape == (100, 8) and final.n_frames == 12 == final.n_voices
    np.testing.assert_allclose(final.mean, stack.mean(axis=0), rtol=0, atol=1e-9)
    np.testing.assert_allclose(final.var, stack.var(axis=0), rtol=1e-8, atol=1e-9)
    with pytest.raises(ValueError, match="window needs 100"):
        window(voices[0][:50], 100)


def test_welford_agrees_with_exact_and_says_how_far() -> None:
    voices = _voices(25)
    exact, welford = MelStats(8), WelfordStats(8)
    for v in voices:
        exact.add_frames(v)
        welford.add_frames(v)
    e, w = exact.finalize(), welford.finalize()
    np.testing.assert_allclose(w.mean, e.mean, rtol=1e-12)
    np.testing.assert_allclose(w.var, e.var, rtol=1e-9)
    welford.remove_frames(voices[0])
    again = WelfordStats(8)
    for v in voices[1:]:
        again.add_frames(v)
    np.testing.assert_allclose(welford.finalize().var, again.finalize().var, rtol=1e-9)
