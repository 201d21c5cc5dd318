"""The corpora page names every registered format and every refusal reason the code gives."""

from __future__ import annotations

import re
from pathlib import Path

from voxlake.ingest.sources import SOURCES
from voxlake.ingest.sources.item import MANIFEST_REFUSALS

PAGE = Path(__file__).parents[2] / "docs" / "corpora.md"
SOURCE_DIR = Path(__file__).parents[2] / "voxlake" / "ingest"


def test_every_format_is_documented() -> None:
    text = PAGE.read_text()
    documented = set(re.findall(r"^\| `([a-z]+)` \|", text, flags=re.M))
    assert set(SOURCES) <= documented


def test_every_refusal_reason_of_a_manifest_is_documented() -> None:
    code = "".join(p.read_text() for p in SOURCE_DIR.rglob("*.py"))
    patterns = (
        r'_refused\(\s*item,\s*"([a-z_]+)"',  # from_source: what the entry maker refuses
        r'return None, \("([a-z_]+)"',  # a reader's source it cannot read
        r'problem=\("([a-z_]+)"',  # a reader's utterance it cannot take
    )
    reasons = {r for pattern in patterns for r in re.findall(pattern, code)}
    assert reasons == set(MANIFEST_REFUSALS)  # declared once, and the GX suite allows them
    text = PAGE.read_text()
    assert sorted(r for r in reasons if f"`{r}`" not in text) == []
