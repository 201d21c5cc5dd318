"""`voxlake run` in process hands each stage's next stages their voices as soon as their
input is written (`voxlake.parallel.submit_ahead`): the pool works while the step before
is recorded and checked. Nothing it writes may differ from stages run one by one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from voxlake import parallel, pipeline
from voxlake.lake.lineage import stored_stage_hash
from voxlake.orchestration.runner import RunSettings, instance_for, run_pending
from voxlake.testing import make_lake, process_all
from voxlake.testing.consistency import inconsistencies


@pytest.mark.slow
def test_a_run_that_works_ahead_writes_what_stages_run_one_by_one_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    handed: list[str] = []
    submit = parallel.submit_ahead

    voices_written: list[int] = []  # at each denoise hand-off, the voices table's rows

    def counted(fn: Any, items: Any, workers: int) -> int:
        n = submit(fn, items, workers)
        handed.extend([fn.__name__] * n)
        if fn.__name__ == "denoise_voice":
            voices_written.append(ahead.read_table("voices").num_rows)
        return n

    monkeypatch.setattr(parallel, "submit_ahead", counted)
    ahead = make_lake(tmp_path / "ahead", voices=8, seed=5)
    instance = instance_for(ahead)
    summary = run_pending(ahead, instance, RunSettings(str(ahead.root), workers=2), print)
    (run,) = [r for r in instance.get_runs() if r.job_name == "ingest_batch"]
    started = {s.step_key: s.start_time for s in instance.get_run_step_stats(run.run_id)}
    instance.dispose()
    # the mel step (its voices done first) is recorded while the pool still embeds
    mel, embed = started["voice_mel_stats"], started["voice_embeddings"]
    assert mel is not None and embed is not None and mel < embed, started
    assert summary.failed == [] and len(summary.succeeded) == 1, summary.reasons
    voices = ahead.read_table("voices").num_rows
    assert voices >= 6
    # every voice of denoise (after raw), mel and embeddings (after denoise) went ahead
    assert sorted(set(handed)) == ["denoise_voice", "embed_voice", "mel_voice"]
    assert len(handed) == 3 * voices
    # the raw step hands each voice over as it accepts it, before its table is written
    assert voices_written == [0] * voices
    assert parallel._AHEAD == {} and not parallel.working_ahead()

    plain = make_lake(tmp_path / "plain", voices=8, seed=5)
    assert process_all(plain) == summary.succeeded  # the same batch, one stage at a time
    (batch,) = summary.succeeded
    for stage in pipeline.STAGE_ORDER:
        assert stored_stage_hash(ahead, batch, stage) == stored_stage_hash(plain, batch, stage)
    assert inconsistencies(ahead) == []
