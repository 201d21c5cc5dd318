"""Query results as text: an aligned table, CSV or JSON."""

from __future__ import annotations

import argparse
import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from voxlake.lake.voice_ids import is_full_id, short

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what spreadsheets evaluate


def _cell(v: Any, width: int | None) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    s = "" if v is None else str(v)
    if is_full_id(s):
        return short(s)  # a prefix that pastes back into every command that takes an id
    return s if width is None or len(s) <= width else s[: width - 3] + "..."


def format_table(
    cols: Sequence[str], rows: Sequence[Sequence[Any]], limit: int = 200, width: int | None = 48
) -> str:
    """Aligned columns; full ids shown as their 12-character prefix; cells cut at `width`."""
    cells = [[_cell(v, width) for v in r] for r in rows[:limit]]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(cols)]
    out = ["  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    if len(rows) > limit:
        out.append(f"... {len(rows) - limit} more rows")
    return "\n".join(out)


def _csv_cell(v: Any) -> str:
    """Text that a spreadsheet would run as a formula gets a leading apostrophe."""
    if v is None:
        return ""
    if isinstance(v, str) and v.startswith(FORMULA_START):
        return "'" + v
    return str(v)


def format_csv(cols: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """RFC 4180 CSV: commas, quotes and newlines in values are quoted."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(cols)
    writer.writerows([_csv_cell(v) for v in r] for r in rows)
    return out.getvalue().removesuffix("\n")


def format_rows(cols: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str) -> str:
    """`fmt`: table, csv (quoted, formula-safe) or json (values verbatim)."""
    if fmt == "json":
        return json.dumps([dict(zip(cols, r, strict=True)) for r in rows], default=str, indent=1)
    if fmt == "csv":
        return format_csv(cols, rows)
    return format_table(cols, rows)


def add_format_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--format",
        choices=["table", "csv", "json"],
        default="table",
        help="table (ids as 12-character prefixes), csv or json (full ids, values verbatim)",
    )
