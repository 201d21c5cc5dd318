"""The manual's strict build: a broken internal link fails it and names the page, and an
option without help stops it with the option's name (`make docs-build` runs the real one
in CI)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _copy_docs(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(
        ROOT / "docs", repo / "docs", ignore=shutil.ignore_patterns("_build", "_generated")
    )
    for name in ("benchmarks", "tests"):
        (repo / name).symlink_to(ROOT / name)
    return repo / "docs"


def _build(docs: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-q", "-b", "html"]
    return subprocess.run(
        [*cmd, str(docs), str(docs / "_build" / "html")],
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_a_broken_internal_link_fails_the_build_and_is_named(tmp_path: Path) -> None:
    docs = _copy_docs(tmp_path)
    page = docs / "getting-started.md"
    page.write_text(page.read_text() + "\nSee [the missing page](no-such-page.md).\n")
    done = _build(docs)
    assert done.returncode != 0
    assert "getting-started.md" in done.stderr and "no-such-page" in done.stderr


@pytest.mark.slow
def test_an_option_without_help_stops_the_build_and_is_named(tmp_path: Path) -> None:
    docs = _copy_docs(tmp_path)
    conf = docs / "conf.py"
    conf.write_text(
        conf.read_text()
        + "\nimport voxlake.cli.sql as _sql\n"
        + "_register = _sql.register\n"
        + "def _with_bare_option(sub):\n"
        + "    _register(sub)\n"
        + "    sub.choices['sql'].add_argument('--undocumented')\n"
        + "_sql.register = _with_bare_option\n"
    )
    done = _build(docs)
    assert done.returncode != 0
    assert "voxlake sql --undocumented" in done.stderr + done.stdout
