"""The Data Docs index: the dataset's checks and the newest batches, one link per table.

GX's site index cannot serve a lake (see `voxlake.quality.suites`), so voxlake writes its
own `index.html` beside GX's pages, from the layout alone: one directory listing per
table, no page opened. It lists what is on disk, so a page removed with its batch leaves
the index at the next write. Whether a validation passed is in `quality_results` and on
the Dagster check; the page says what failed.
"""

from __future__ import annotations

import html
import os
import shutil
from pathlib import Path

from voxlake.lake.store import atomic_write_bytes
from voxlake.quality.suites import docs_page

DATASET = "dataset"
NEWEST = 500  # batches listed; a page of every batch of a 10^7-voice lake would be 20 MB


def _dirs(path: Path) -> list[str]:
    try:
        with os.scandir(path) as it:
            return [e.name for e in it if e.is_dir()]
    except FileNotFoundError:
        return []


def validated(docs_dir: Path) -> dict[str, set[str]]:
    """table -> the batches ("dataset" for the lake-wide checks) with a validation page."""
    return {t: set(_dirs(docs_dir / "validations" / t)) for t in _dirs(docs_dir / "validations")}


def write_docs_index(docs_dir: Path, newest: int = NEWEST) -> Path:
    """Write `<docs_dir>/index.html`: the dataset's checks, then the `newest` batches."""
    pages = validated(docs_dir)
    tables = sorted(pages)
    batches = sorted({b for bs in pages.values() for b in bs} - {DATASET}, reverse=True)
    shown = ([DATASET] if any(DATASET in bs for bs in pages.values()) else []) + batches[:newest]
    rows = []
    for batch in shown:
        cells = []
        for t in tables:
            if batch in pages[t]:
                page = docs_page(docs_dir, t, "" if batch == DATASET else batch)
                link = html.escape(page.relative_to(docs_dir).as_posix())
                cells.append(f'<td><a href="{link}">{html.escape(t)}</a></td>')
            else:
                cells.append("<td></td>")
        rows.append(f"<tr><th>{html.escape(batch)}</th>{''.join(cells)}</tr>")
    older = len(batches) - min(len(batches), newest)
    more = (
        f" The {older} older batches are not listed: their pages are in "
        "<code>validations/TABLE/BATCH/</code>."
        if older
        else ""
    )
    head = "".join(f"<th>{html.escape(t)}</th>" for t in tables)
    body = "\n".join(rows)
    text = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>voxlake: Great Expectations validations</title>
<style>body{{font-family:sans-serif}} td,th{{padding:2px 8px;text-align:left}}</style>
</head><body>
<h1>Great Expectations validations</h1>
<p>{len(batches)} batches, newest first. Each link is the latest validation of that table in
that batch; which expectations failed is on the page, in the <code>quality_results</code>
table (<code>select * from quality_results where not success</code>) and on the Dagster
asset check.{more}</p>
<table><tr><th>batch</th>{head}</tr>
{body}
</table></body></html>
"""
    index = docs_dir / "index.html"
    atomic_write_bytes(index, text.encode())
    return index


def remove_batch_pages(docs_dir: Path, batch: str) -> int:
    """Remove a dropped batch's pages (its validations and suites); how many tables had some."""
    removed = 0
    for table in _dirs(docs_dir / "validations"):
        pages = docs_dir / "validations" / table / batch
        if pages.is_dir():
            shutil.rmtree(pages)
            removed += 1
        (docs_dir / "expectations" / table / f"{batch}.html").unlink(missing_ok=True)
    return removed
