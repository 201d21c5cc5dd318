"""A failed batch: visible with its reason, never blocking the dataset, and either retried
by a rerun or removed with its partition by one command."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from voxlake.cli import main
from voxlake.demo import corpus
from voxlake.ingest.inbox import list_batches, scan_inbox
from voxlake.lake import catalog
from voxlake.lake.store import Lake
from voxlake.orchestration.runner import PARTITIONS, RunSettings, instance_for, run_pending
from voxlake.quality.checks import data_docs_dir
from voxlake.quality.docs_index import validated
from voxlake.testing import make_lake
from voxlake.testing.consistency import inconsistencies


def _summary(lake: Lake) -> dict[str, dict[str, object]]:
    cols, rows = catalog.query(lake, "select * from batch_summary")
    return {r[0]: dict(zip(cols, r, strict=True)) for r in rows}


@pytest.fixture
def failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Lake, dg.DagsterInstance, str, str]]:
    """A lake whose first batch completed and whose second failed a blocking check."""
    import great_expectations.expectations as gxe

    import voxlake.quality.suites as suites

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    lake = make_lake(tmp_path / "lake", voices=2, speakers=2, bad_files=False)
    instance = instance_for(lake)
    settings = RunSettings(str(lake.root))
    (good,) = run_pending(lake, instance, settings, echo=lambda _: None).succeeded
    real = suites._suite

    def strict(table: str, expected_rows: int | None, limits: object) -> list[object]:
        extra = [gxe.ExpectTableRowCountToEqual(value=999)] if table == "denoise_metrics" else []
        return [*real(table, expected_rows, limits), *extra]  # type: ignore[arg-type]

    corpus.generate(lake.inbox / "more", tmp_path / "clean", 2, 2, seed=9, bad_files=False)
    with monkeypatch.context() as patch:
        patch.setattr(suites, "_suite", strict)
        second = run_pending(lake, instance, settings, echo=lambda _: None)
    (bad,) = second.failed
    yield lake, instance, good, bad
    instance.dispose()


@pytest.mark.slow
def test_a_failed_batch_shows_its_reason_and_does_not_block_the_dataset(
    failed: tuple[Lake, dg.DagsterInstance, str, str],
) -> None:
    lake, _, good, bad = failed
    summary = _summary(lake)
    assert summary[good]["status"] == "complete"
    assert summary[bad]["status"] == "failed"
    assert summary[bad]["failed_step"] == "denoised_voices"
    assert "gx_denoise_metrics" in str(summary[bad]["error"])
    assert inconsistencies(lake) == []  # stats and index hold exactly the completed batch


@pytest.mark.slow
def test_a_failed_batch_is_retried_by_a_rerun(
    failed: tuple[Lake, dg.DagsterInstance, str, str],
) -> None:
    lake, instance, _, bad = failed
    again = run_pending(lake, instance, RunSettings(str(lake.root)), lambda _: None, rerun=[bad])
    assert again.succeeded == [bad]
    summary = _summary(lake)
    assert summary[bad]["status"] == "complete" and summary[bad]["error"] is None
    assert inconsistencies(lake) == []


@pytest.mark.slow
def test_drop_batch_removes_a_failed_batch_and_its_partition(
    failed: tuple[Lake, dg.DagsterInstance, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    lake, instance, good, bad = failed
    docs = data_docs_dir(lake)
    assert {good, bad} <= validated(docs)["voices"]  # both batches' pages, from two runs
    assert main(["drop-batch", good, "--lake", str(lake.root)]) == 1  # complete: refused
    assert "is complete" in capsys.readouterr().err
    assert main(["drop-batch", bad, "--lake", str(lake.root)]) == 0
    assert "dropped batch" in capsys.readouterr().out
    assert list_batches(lake) == [good]
    assert instance.get_dynamic_partitions(PARTITIONS) == [good]
    assert list(_summary(lake)) == [good]
    assert scan_inbox(lake).new_batches == []  # its inputs are not batched again
    assert inconsistencies(lake) == []
    assert good in validated(docs)["voices"] and bad not in validated(docs)["voices"]
    assert bad not in (docs / "index.html").read_text()
    instance.add_dynamic_partitions(PARTITIONS, ["made-by-hand"])
    assert main(["drop-batch", "made-by-hand", "--lake", str(lake.root)]) == 0
    assert instance.get_dynamic_partitions(PARTITIONS) == [good]
