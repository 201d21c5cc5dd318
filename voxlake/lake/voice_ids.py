"""Voice ids as people type them: any unique prefix of 8 or more hex characters, as git does.

A voice id is the BLAKE3 of the raw file's bytes (64 hex characters). Tables print the
first `SHOWN` characters; every command that takes an id resolves a prefix against the
voices the lake holds (accepted, rejected and duplicate rows), and a prefix that matches
none, or more than one, is an error that names the candidates.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import duckdb

from voxlake.lake.store import Lake

MIN_PREFIX = 8
SHOWN = 12
FULL = 64
ID_TABLES = ("voices", "rejected", "duplicates")
_HEX = re.compile(r"[0-9a-f]+")
_FULL_ID = re.compile(r"[0-9a-f]{64}")


class VoiceIdError(LookupError):
    """An id that names no voice, or more than one."""


def is_full_id(text: str) -> bool:
    return bool(_FULL_ID.fullmatch(text))


def short(voice_id: str) -> str:
    """The printed form: the first SHOWN characters, enough to paste back."""
    return voice_id[:SHOWN]


def _check_form(prefix: str) -> str:
    p = prefix.strip().lower()
    if not _HEX.fullmatch(p) or len(p) > FULL:
        raise VoiceIdError(f"{prefix!r} is not a voice id (hex characters, as printed)")
    if len(p) < MIN_PREFIX:
        raise VoiceIdError(f"{prefix!r} is too short: give at least {MIN_PREFIX} characters")
    return p


def _matches(lake: Lake, prefixes: list[str], limit: int) -> dict[str, list[str]]:
    """Distinct ids that start with each prefix (at most `limit` per prefix)."""
    found: dict[str, list[str]] = {p: [] for p in prefixes}
    datasets = [d for t in ID_TABLES if (d := lake.tables.dataset(t)) is not None]
    if not datasets or not prefixes:
        return found
    con = duckdb.connect()
    try:
        for i, d in enumerate(datasets):
            con.register(f"_ids_{i}", d)
        union = " union all ".join(f"select voice_id from _ids_{i}" for i in range(len(datasets)))
        con.execute("create temp table wanted (p varchar)")
        con.executemany("insert into wanted values (?)", [(p,) for p in prefixes])
        rows = con.execute(
            f"""
            with ids as (
                select distinct voice_id from ({union})
                where voice_id is not null
            ), hits as (
                select p, voice_id, row_number() over (partition by p order by voice_id) as n
                from wanted join ids on starts_with(voice_id, p)
            )
            select p, voice_id from hits where n <= ? order by p, voice_id
            """,
            [limit],
        ).fetchall()
    finally:
        con.close()
    for p, vid in rows:
        found[p].append(vid)
    return found


def resolve_all(lake: Lake, prefixes: Iterable[str]) -> tuple[dict[str, str], list[str]]:
    """Map each given prefix to its one voice id; also the errors, one line each."""
    given = list(prefixes)
    errors: list[str] = []
    forms: dict[str, str] = {}
    for g in given:
        try:
            forms[g] = _check_form(g)
        except VoiceIdError as e:
            errors.append(str(e))
    matches = _matches(lake, sorted(set(forms.values())), limit=6)
    resolved: dict[str, str] = {}
    for g, p in forms.items():
        hits = matches[p]
        if len(hits) == 1:
            resolved[g] = hits[0]
        elif not hits:
            errors.append(f"no voice {g} in the lake")
        else:
            shown = ", ".join(h[: max(SHOWN, len(p) + 4)] for h in hits[:5])
            more = " and more" if len(hits) > 5 else ""
            errors.append(f"{g} is ambiguous: it starts {shown}{more}; give more characters")
    return resolved, errors


def resolve(lake: Lake, prefix: str) -> str:
    """The one voice id that starts with `prefix`, or VoiceIdError naming the candidates."""
    resolved, errors = resolve_all(lake, [prefix])
    if errors:
        raise VoiceIdError(errors[0])
    return resolved[prefix]
