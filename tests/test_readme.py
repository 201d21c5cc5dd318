"""The README is a short front door that tells the truth: at most 150 lines, every link
inside the repository and pointing at something that exists, and every headline figure
equal to the result file it cites."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
LINK = re.compile(r"\]\(([^)\s]+)\)")
FIGURE_ROW = re.compile(
    r"^\| (?P<what>[^|]+) \| (?P<figure>[^|]+) \| \[`[^`]+`\]\((?P<path>[^)]+)\) `(?P<key>\w+)` \|$"
)
NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def _local_links(page: Path) -> list[str]:
    return [t for t in LINK.findall(page.read_text()) if "://" not in t and not t.startswith("#")]


def test_the_readme_is_a_front_door() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) <= 150
    for needed in ("make demo", "make test", "make ui", "voxlake sql", "voxlake export"):
        assert needed in README.read_text(), needed


def test_links_stay_inside_the_repository_and_exist() -> None:
    pages = [README, *sorted((ROOT / "docs").rglob("*.md"))]
    pages = [p for p in pages if "_build" not in p.parts and "_generated" not in p.parts]
    checked = 0
    for page in pages:
        for target in _local_links(page):
            path = target.split("#")[0]
            if not path:
                continue
            resolved = (page.parent / path).resolve() if not path.startswith("/") else None
            if resolved is None:  # a Sphinx path from the docs root
                resolved = (ROOT / "docs" / path.lstrip("/")).resolve()
            where = f"{page.relative_to(ROOT)}: {target}"
            assert resolved.is_relative_to(ROOT), f"{where} leaves the repository"
            assert resolved.exists(), f"{where} does not exist"
            checked += 1
    assert checked > 20


def test_every_headline_figure_is_its_result() -> None:
    rows = [m for line in README.read_text().splitlines() if (m := FIGURE_ROW.match(line))]
    assert len(rows) >= 5
    for row in rows:
        data = json.loads((ROOT / row["path"]).read_text())
        value = float(data[row["key"]])
        shown = NUMBER.search(row["figure"])
        assert shown, row["figure"]
        text = shown.group().replace(",", "")
        decimals = len(text.split(".")[1]) if "." in text else 0
        assert round(value, decimals) == float(text), (row["what"], value, text)
