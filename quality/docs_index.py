"""The Data Docs index: one row per batch, one link per table validated in it.

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


def _dirs(path: Path) -> list[str]:
    try:
        with os.scandir(path) as it:
            return [e.name for e in it if e.is_dir()]
    except FileNotFoundError:
        return []


def validated(docs_dir: Path) -> dict[str, dict[str, Path]]:
    """batch ("dataset" for the lake-wide checks) -> table -> its validation page."""
    out: dict[str, dict[str, Path]] = {}
    for table in _dirs(docs_dir / "validations"):
        for batch in _dirs(docs_dir / "validations" / table):
            page = docs_page(docs_dir, table, "" if batch == DATASET else batch)
            out.setdefault(batch, {})[table] = page
    return out


def write_docs_index(docs_dir: Path) -> Path:
    """Write `<docs_dir>/index.html`: the dataset's checks first, then batches, newest first."""
    pages = validated(docs_dir)
    tables = sorted({t for by_table in pages.values() for t in by_table})
    batches = sorted((b for b in pages if b != DATASET), reverse=True)
    order = ([DATASET] if DATASET in pages else []) + batches
    head = "".join(f"<th>{html.escape(t)}</th>" for t in tables)
    rows = []
    for batch in order:
        cells = []
        for t in tables:
            page = pages[batch].get(t)
            if page is None:
                cells.append("<td></td>")
                continue
            link = page.relative_to(docs_dir).as_posix()
            cells.append(f'<td><a href="{html.escape(link)}">{html.escape(t)}</a></td>')
        rows.append(f"<tr><th>{html.escape(batch)}</th>{''.join(cells)}</tr>")
    body = "\n".join(rows)
    text = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>voxlake: Great Expectations validations</title>
<style>body{{font-family:sans-serif}} td,th{{padding:2px 8px;text-align:left}}</style>
</head><body>
<h1>Great Expectations validations</h1>
<p>{len(batches)} batches. Each link is the latest validation of that table in that batch;
which expectations failed is on the page, in the <code>quality_results</code> table and on
the Dagster asset check.</p>
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
