"""A labels file of 10,000 rows, 9,996 naming files not in the batch, with formula-like,
SQL-like, Unicode and empty values: one problem row, the values stored and returned
verbatim (never evaluated), and a consistent lake."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voxlake import pipeline
from voxlake.cli import main
from voxlake.embed import index_writer
from voxlake.features import dataset
from voxlake.lake import catalog
from voxlake.lake.store import Lake
from voxlake.testing import process_all
from voxlake.testing.consistency import inconsistencies

VALUES = ['=HYPERLINK("http://x")', "'; drop table voices; --", "ünïcødé 声\nline 2", ""]


def test_a_huge_hostile_labels_file_through_the_pipeline_and_sql(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lake = Lake(tmp_path / "lake").ensure()
    names = [f"f{i}.wav" for i in range(4)]
    for i, name in enumerate(names):
        x = np.random.default_rng(i).normal(0, 0.1, 16000).astype(np.float32)
        sf.write(lake.inbox / name, x, 16000, subtype="PCM_16")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["path", "speaker", "note"])
    writer.writerows([n, f"spk{i}", v] for i, (n, v) in enumerate(zip(names, VALUES, strict=True)))
    writer.writerows([f"gone{i}.wav", "x", "y"] for i in range(9996))
    (lake.inbox / "labels.csv").write_text(out.getvalue())
    process_all(lake)
    dataset.update(lake, pipeline.mel_fingerprint(), 128)
    index_writer.sync(lake)

    _, rows = catalog.query(lake, "select label_problems, voices from batch_summary")
    assert rows == [(1, 4)]
    query = "select file_name, labels from voices order by file_name"
    assert main(["sql", query, "--format", "json", "--lake", str(lake.root)]) == 0
    got = [
        json.loads(r["labels"] or "{}").get("note", "") for r in json.loads(capsys.readouterr().out)
    ]
    assert got == VALUES  # verbatim
    assert (
        main(
            [
                "sql",
                "select speaker, labels from voices order by file_name",
                "--format",
                "csv",
                "--lake",
                str(lake.root),
            ]
        )
        == 0
    )
    parsed = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert len(parsed) == 5  # header + 4: quoting kept newlines and commas inside values
    assert json.loads(parsed[1][1])["note"] == VALUES[0]  # inside JSON, not a cell formula
    assert inconsistencies(lake) == []
