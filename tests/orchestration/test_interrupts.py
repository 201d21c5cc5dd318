"""A stop signal that Dagster records and then forgets (one that lands between its
checkpoints) still stops the CLI: `signals_seen` notices it whatever handler took it."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest
from dagster._utils.interrupts import capture_interrupts

from voxlake.orchestration.interrupts import signals_seen


@pytest.fixture(autouse=True)
def _handlers_restored() -> Iterator[None]:
    """Dagster's capture re-points SIGTERM at SIGINT's handler on its way out."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def _deliver(sig: signal.Signals) -> None:
    os.kill(os.getpid(), sig)
    time.sleep(0.05)  # Python runs the handler at its next check


def test_a_signal_dagster_swallows_is_still_seen() -> None:
    with signals_seen() as seen, capture_interrupts():
        _deliver(signal.SIGINT)
    assert seen == {signal.SIGINT}


def test_sigterm_is_seen_and_nothing_is_seen_without_a_signal() -> None:
    with signals_seen() as quiet:
        time.sleep(0.01)
    assert quiet == set()
    with signals_seen() as seen, capture_interrupts():  # Dagster maps SIGTERM to SIGINT's handler
        _deliver(signal.SIGTERM)
    assert seen == {signal.SIGTERM}


def test_the_previous_wakeup_fd_is_restored() -> None:
    r, w = os.pipe()
    os.set_blocking(w, False)
    previous = signal.set_wakeup_fd(w)
    try:
        with signals_seen():
            pass
        assert signal.set_wakeup_fd(w) == w
    finally:
        signal.set_wakeup_fd(previous)
        os.close(r)
        os.close(w)
