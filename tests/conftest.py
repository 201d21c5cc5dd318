"""Shared pytest fixtures; the helpers behind them live in `voxlake.testing`."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest

from voxlake.lake.store import Lake
from voxlake.testing import make_lake, process_all
from voxlake.testing.s3 import S3Server, s3_server

warnings.filterwarnings("ignore")


@pytest.fixture(scope="session")
def processed_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """A lake with one batch (6 voices of 3 speakers + 4 bad files) through every stage.

    Tests must not modify it; copy it (or build another) to change things.
    """
    lake = make_lake(tmp_path_factory.mktemp("processed"))
    process_all(lake)
    return lake


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    """An S3 API server on loopback (moto, an emulator), one per test module."""
    with s3_server() as server:
        yield server
