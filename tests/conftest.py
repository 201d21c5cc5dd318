"""Shared pytest fixtures; the helpers behind them live in `voxlake.testing`."""

from __future__ import annotations

import warnings

import pytest

from voxlake.lake.store import Lake
from voxlake.testing import make_lake, process_all

warnings.filterwarnings("ignore")


@pytest.fixture(scope="session")
def processed_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """A lake with one batch (6 voices of 3 speakers + 4 bad files) through every stage.

    Tests must not modify it; copy it (or build another) to change things.
    """
    lake = make_lake(tmp_path_factory.mktemp("processed"))
    process_all(lake)
    return lake
