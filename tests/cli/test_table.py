"""Query results as text: CSV that survives any value, JSON that returns it verbatim."""

import csv
import io
import json

from voxlake.cli.table import format_rows

NASTY: list[str | None] = [
    "a,b",
    'say "hi"',
    "two\nlines",
    '=HYPERLINK("x")',
    "+1",
    "@cmd",
    "ünï",
    "",
    None,
]


def test_csv_quotes_every_value_and_defuses_formulas() -> None:
    rows = [(v, -1.5) for v in NASTY]
    text = format_rows(["value", "n"], rows, "csv")
    back = list(csv.reader(io.StringIO(text)))
    assert back[0] == ["value", "n"]
    got = [r[0] for r in back[1:]]
    assert got[:3] == NASTY[:3]
    assert got[3:6] == [f"'{v}" for v in NASTY[3:6]]  # text a spreadsheet would evaluate
    assert got[6:] == ["ünï", "", ""]
    assert all(r[1] == "-1.5" for r in back[1:])  # numbers are numbers, even negative


def test_json_returns_values_verbatim() -> None:
    rows = [(v,) for v in NASTY]
    assert [r["value"] for r in json.loads(format_rows(["value"], rows, "json"))] == NASTY
