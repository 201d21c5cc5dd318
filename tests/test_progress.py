"""Per-voice progress: plain periodic lines in a pipe, a bar on a terminal, lines to the log."""

from __future__ import annotations

import io

from voxlake.progress import StageProgress, progress_line


def test_lines_come_periodically_and_last_with_rate_and_eta() -> None:
    now = [0.0]
    out, logged = io.StringIO(), list[str]()
    p = StageProgress("denoised_voices b1", logged.append, out, every_s=10, clock=lambda: now[0])
    for done in range(1, 101):
        now[0] = done * 0.5  # two voices a second
        p(done, 100)
    p.close()
    lines = out.getvalue().splitlines()
    assert lines[0].strip() == "denoised_voices b1: 20/100 voices, 2.0/s, ETA 40s"
    assert lines[-1].strip() == "denoised_voices b1: 100/100 voices in 50s (2.0/s)"
    assert len(lines) == 5  # one every 10 s of a 50 s stage, not one per voice
    assert [line.strip() for line in lines] == logged  # the run's log gets the same lines


def test_a_terminal_gets_a_bar() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    p = StageProgress("mel", None, out, mode="auto")
    for done in range(1, 4):
        p(done, 3)
    p.close()
    assert p.mode == "bar" and "3/3" in out.getvalue() and "voice" in out.getvalue()


def test_off_prints_nothing() -> None:
    out = io.StringIO()
    p = StageProgress("mel", None, out, mode="off")
    p(1, 1)
    assert out.getvalue() == ""


def test_long_etas_read_as_hours() -> None:
    assert progress_line("x", 1, 10_000, 2.0).endswith("ETA 5h33m")
