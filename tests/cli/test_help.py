"""`voxlake --help` speaks to users, and every command and option has a help text (the
docs' CLI reference is generated from the same parser)."""

from __future__ import annotations

import argparse

import pytest

from voxlake.cli import COMMANDS, full_parser, main, missing_help


def test_every_command_and_option_has_help() -> None:
    assert missing_help(full_parser()) == []


def test_an_option_without_help_is_named() -> None:
    p = argparse.ArgumentParser(prog="voxlake")
    sub = p.add_subparsers(dest="command")
    run = sub.add_parser("run", help="materialise")
    run.add_argument("--workers", help="processes")
    run.add_argument("--retry")
    sub.add_parser("bare")
    assert missing_help(p) == ["voxlake run --retry", "voxlake bare"]


def test_the_top_help_lists_the_commands_and_says_what_voxlake_does(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    usage = out.split("\n\n")[0]
    assert "{" + ",".join(COMMANDS) + "}" in usage.replace("\n", "").replace(" ", "")
    assert "speech corpus" in out and "thin module" not in out
