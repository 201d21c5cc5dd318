from decimal import Decimal
from fractions import Fraction

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from voxlake.stats import FRAC_BITS, MelStats, from_decimals, to_decimals, voice_sums


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
        assert abs(final.var[b] - float(var)) <= 1e-12 * float(var)
    naive = np.mean(x**2, axis=0) - np.mean(x, axis=0) ** 2
    assert np.max(np.abs(final.var - np.var(x, axis=0)) / np.var(x, axis=0)) < 1e-6
    assert not np.allclose(naive, np.var(x, axis=0), rtol=1e-3, atol=0)  # what exactness buys


def test_partials_round_trip_through_parquet_without_loss(tmp_path) -> None:  # type: ignore[no-untyped-def]
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
    with pytest.raises(ValueError, match="non-finite"):
        voice_sums(np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match="within"):
        voice_sums(np.array([[1e6]]))
    a, b = MelStats(8, "fp-a"), MelStats(8, "fp-b")
    with pytest.raises(ValueError, match="different extractors"):
        a.merge(b)
    with pytest.raises(ValueError, match="no frames"):
        MelStats(8).finalize()
