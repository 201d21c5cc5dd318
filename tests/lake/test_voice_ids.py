"""Voice ids by unique prefix, as git resolves commits."""

from __future__ import annotations

from pathlib import Path

import pytest

from voxlake.lake.store import Lake
from voxlake.lake.voice_ids import VoiceIdError, resolve, resolve_all, short

A = "abcdef01" + "1" * 56
B = "abcdef01" + "2" * 56
C = "0123456789" + "f" * 54


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    lake = Lake(tmp_path / "lake").ensure()
    lake.write_table("voices", [{"voice_id": A, "batch": "b1"}], batch="b1")
    lake.write_table("voices", [{"voice_id": B, "batch": "b2"}], batch="b2")
    lake.write_table("rejected", [{"voice_id": C, "batch": "b2"}], batch="b2")
    return lake


def test_a_unique_prefix_resolves_to_the_full_id(lake: Lake) -> None:
    assert resolve(lake, A) == A
    assert resolve(lake, "abcdef011") == A
    assert resolve(lake, short(B)) == B
    assert resolve(lake, C[:8].upper()) == C  # rejected voices count too; case is ignored


def test_an_ambiguous_prefix_names_its_candidates(lake: Lake) -> None:
    with pytest.raises(VoiceIdError, match="ambiguous") as e:
        resolve(lake, "abcdef01")
    assert short(A) in str(e.value) and short(B) in str(e.value)


@pytest.mark.parametrize(
    ("given", "says"),
    [("abcdef", "too short"), ("abcdef0g", "not a voice id"), ("99999999", "no voice")],
)
def test_bad_prefixes_are_clear_errors(lake: Lake, given: str, says: str) -> None:
    with pytest.raises(VoiceIdError, match=says):
        resolve(lake, given)


def test_resolve_all_reports_every_problem_at_once(lake: Lake) -> None:
    resolved, errors = resolve_all(lake, [A[:10], "abcdef01", "9" * 8, C])
    assert resolved == {A[:10]: A, C: C}
    assert len(errors) == 2


def test_an_empty_lake_knows_no_voice(tmp_path: Path) -> None:
    with pytest.raises(VoiceIdError, match="no voice"):
        resolve(Lake(tmp_path / "empty").ensure(), A)
