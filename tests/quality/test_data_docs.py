"""GX Data Docs: every batch's pages survive later runs; the index lists them all."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from voxlake.quality import suites
from voxlake.quality.docs_index import remove_batch_pages, validated, write_docs_index
from voxlake.quality.suites import docs_page, validate_table


def _rejected(reason: str) -> pa.Table:
    return pa.table({"reason": [reason, "missing"], "source_path": ["a.wav", "b.wav"]})


def _new_process() -> None:
    """What a new run's process starts with: a fresh ephemeral context."""
    suites._context.cache_clear()


def test_a_later_run_keeps_the_pages_of_earlier_runs(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    for batch in ("000001-aaaa", "000002-bbbb"):
        _new_process()  # each batch in its own run, as Dagster runs them
        validate_table("rejected", _rejected("missing"), batch, docs_dir=docs)
    _new_process()
    validate_table("voices", pa.table({"voice_id": ["v1"]}), "", docs_dir=docs)
    for batch in ("000001-aaaa", "000002-bbbb"):
        page = docs_page(docs, "rejected", batch)
        assert page.is_file(), f"the page of {batch} is gone"
        assert batch in page.read_text()
    assert docs_page(docs, "voices", "").is_file()
    assert validated(docs) == {"rejected": {"000001-aaaa", "000002-bbbb"}, "voices": {"dataset"}}
    index = write_docs_index(docs).read_text()
    for batch in ("000001-aaaa", "000002-bbbb"):
        link = docs_page(docs, "rejected", batch).relative_to(docs).as_posix()
        assert f'href="{link}"' in index
    assert index.index("dataset") < index.index("000002-bbbb") < index.index("000001-aaaa")


def test_a_rerun_replaces_its_page_and_the_context_keeps_nothing(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    _new_process()
    validate_table("rejected", _rejected("missing"), "000001-aaaa", docs_dir=docs)
    rows = validate_table("rejected", _rejected("no_such_reason"), "000001-aaaa", docs_dir=docs)
    assert not all(r["success"] for r in rows)
    pages = sorted((docs / "validations" / "rejected" / "000001-aaaa").rglob("*.html"))
    assert pages == [docs_page(docs, "rejected", "000001-aaaa")]
    assert "no_such_reason" in pages[0].read_text()  # the rerun's page, not the first one
    ctx = suites._context(str(docs))
    assert not ctx.suites.all() and not ctx.checkpoints.all()
    assert not ctx.validation_results_store.list_keys()


def test_a_dropped_batch_leaves_the_index(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    _new_process()
    for batch in ("000001-aaaa", "000002-bbbb"):
        validate_table("rejected", _rejected("missing"), batch, docs_dir=docs)
    assert remove_batch_pages(docs, "000001-aaaa") == 1
    assert not (docs / "expectations" / "rejected" / "000001-aaaa.html").exists()
    index = write_docs_index(docs).read_text()
    assert "000001-aaaa" not in index and "000002-bbbb" in index


def test_the_index_lists_the_newest_batches_and_says_how_many_it_leaves_out(
    tmp_path: Path,
) -> None:
    docs = tmp_path / "docs"
    _new_process()
    batches = [f"00000{i}-aaaa" for i in range(1, 5)]
    for batch in batches:
        validate_table("rejected", _rejected("missing"), batch, docs_dir=docs)
    index = write_docs_index(docs, newest=2).read_text()
    assert "000004-aaaa" in index and "000003-aaaa" in index
    assert "000002-aaaa" not in index and "000001-aaaa" not in index
    assert "The 2 older batches are not listed" in index


def test_templates_compiled_once_render_the_same_page() -> None:
    """GX's views share one bytecode cache: a view rendering from it gives the page a view
    compiling the template from source gives."""
    from great_expectations.render.view.view import DefaultJinjaView
    from jinja2 import Environment

    from voxlake.quality import docs_templates

    docs_templates.compile_templates_once()
    docs_templates.compile_templates_once()  # idempotent: one cache, one wrapper
    first, second = DefaultJinjaView(), DefaultJinjaView()
    assert first.env.bytecode_cache is second.env.bytecode_cache is docs_templates.CACHE
    name = "markdown_validation_results_page.j2"
    fresh = Environment(loader=first.env.loader, extensions=["jinja2.ext.do"])
    fresh.filters.update(first.env.filters)
    document: dict[str, object] = {"sections": [], "utm_medium": "", "cta_footer": None}
    first.env.get_template(name)  # compiles it, and keeps its code
    assert docs_templates.CACHE._code
    cached = second.env.get_template(name).render(document)
    assert cached == fresh.get_template(name).render(document)
