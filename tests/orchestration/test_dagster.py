"""The Dagster layer: definitions load, the code location's jobs run into a temp lake, the
sensor ticks on a real instance."""

from pathlib import Path

import dagster as dg
import pytest

from voxlake import descriptions, pipeline
from voxlake.ingest.from_source import ingest_source
from voxlake.ingest.inbox import list_batches
from voxlake.lake.store import Lake
from voxlake.orchestration.definitions import defs
from voxlake.orchestration.runner import RunSettings, failure_reason, launch
from voxlake.orchestration.sensors import voice_inbox
from voxlake.orchestration.testing import sensed_batch
from voxlake.resources import LakeResource
from voxlake.testing import corpora, make_lake


def _instance(tmp_path: Path):
    (tmp_path / "dagster").mkdir(exist_ok=True)
    return dg.instance_for_test(temp_dir=str(tmp_path / "dagster"))


def _name(key: dg.AssetKey | None) -> str:
    assert key is not None
    return key.to_user_string()


def _versions(result: dg.JobExecutionResult) -> dict[str, str]:
    return {
        _name(m.asset_key): (m.materialization.tags or {})["dagster/data_version"]
        for m in result.get_asset_materialization_events()
    }


def test_definitions_load() -> None:
    dg.Definitions.validate_loadable(defs)
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert keys == {
        "raw_voices",
        "denoised_voices",
        "voice_mel_stats",
        "mel_stats",
        "voice_embeddings",
        "voice_index",
        "reproducibility",
        "table_compaction",
    }
    assert defs.resolve_sensor_def("voice_inbox") is not None
    nightly = defs.resolve_schedule_def("compact_lake_nightly")
    assert nightly.default_status == dg.DefaultScheduleStatus.RUNNING
    selections = {
        name: {
            k.to_user_string() for k in defs.resolve_job_def(name).asset_layer.selected_asset_keys
        }
        for name in ("ingest_batch", "refresh_dataset", "verify_batch")
    }
    assert selections == {
        "ingest_batch": {"raw_voices", "denoised_voices", "voice_mel_stats", "voice_embeddings"},
        "refresh_dataset": {"mel_stats", "voice_index"},
        "verify_batch": {"reproducibility"},
    }


def test_every_asset_says_what_it_holds_in_one_sentence() -> None:
    described = {
        k.to_user_string(): spec.description
        for a in defs.assets or []
        if isinstance(a, dg.AssetsDefinition)
        for k, spec in ((s.key, s) for s in a.specs)
    }
    assert described == descriptions.ASSETS
    for text in described.values():
        assert text and text.endswith(".") and text.count(". ") == 0, text


def test_the_workspace_file_loads_the_installed_code_location() -> None:
    """`dagster dev -w workspace.yaml` from a clone and a cluster's home load the same
    location, under the name the CLI's runs record."""
    import yaml

    from voxlake.orchestration.cluster import WORKSPACE_YAML
    from voxlake.orchestration.definitions import LOCATION_NAME, MODULE

    here = (Path(__file__).resolve().parents[2] / "workspace.yaml").read_text()
    assert here == WORKSPACE_YAML
    (entry,) = yaml.safe_load(here)["load_from"]
    assert entry["python_module"] == {"module_name": MODULE, "location_name": LOCATION_NAME}


def test_sensor_adds_partitions_and_requests_runs_once(tmp_path: Path) -> None:
    lake = make_lake(tmp_path / "lake", voices=3, speakers=3, bad_files=False)
    with _instance(tmp_path) as instance:
        resources = {"lake": LakeResource(root=str(lake.root), batch_size=2)}
        ctx = dg.build_sensor_context(instance=instance, resources=resources)
        result = voice_inbox(ctx)
        assert isinstance(result, dg.SensorResult)
        keys = list_batches(lake)
        assert len(keys) == 2  # 3 files, batch size 2
        assert [r.partition_key for r in result.run_requests or []] == keys
        (add,) = result.dynamic_partitions_requests or []
        assert list(add.partition_keys) == keys
        instance.add_dynamic_partitions("voice_batches", keys)  # what the daemon does
        again = voice_inbox(dg.build_sensor_context(instance=instance, resources=resources))
        assert isinstance(again, dg.SkipReason)
        assert list_batches(lake) == keys


def test_the_jobs_materialise_a_batch_then_the_dataset(tmp_path: Path) -> None:
    lake = make_lake(tmp_path / "lake", voices=3, speakers=3)
    settings = RunSettings(str(lake.root))
    with _instance(tmp_path) as instance:
        key = sensed_batch(instance, LakeResource(root=str(lake.root)))
        run = launch("ingest_batch", instance, settings, key)
        assert run.success and run.dagster_run.job_name == "ingest_batch"
        mats = {_name(m.asset_key): m for m in run.get_asset_materialization_events()}
        raw = mats["raw_voices"].materialization
        assert raw.metadata["rows"].value == 3 and raw.metadata["rejected"].value == 4
        denoised = mats["denoised_voices"].materialization
        assert denoised.tags and "dagster/data_version" in denoised.tags
        assert "data:image/png;base64" in str(denoised.metadata["spectrogram"].value)
        checks = run.get_asset_check_evaluations()
        assert len(checks) == 7 and all(c.passed for c in checks)
        logged = [
            e.message for e in instance.all_logs(run.run_id) if "voices in" in (e.message or "")
        ]  # per-voice progress reaches the run's log, one line per stage
        assert sorted(m.split()[0] for m in logged) == sorted(pipeline.STAGE_ORDER), logged
        # A recompute that changes nothing shows as unchanged: same data versions.
        rerun = launch("ingest_batch", instance, settings, key)
        assert _versions(rerun) == _versions(run) and len(_versions(run)) == 4
        glob = launch("refresh_dataset", instance, settings)
        assert glob.success
        stats = {
            _name(m.asset_key): m.materialization for m in glob.get_asset_materialization_events()
        }
        assert stats["mel_stats"].metadata["rows"].value == 128
        assert "data:image/png;base64" in str(stats["mel_stats"].metadata["plot"].value)
        assert stats["voice_index"].metadata["rows"].value == 3
        assert (lake.root / "quality" / "data_docs" / "index.html").exists()
        quality = Lake(lake.root).read_table("quality_results")
        assert quality.num_rows > 10 and all(quality["success"].to_pylist())
        ops = {"reproducibility": {"config": {"runs": 1, "cross": True}}}
        verify = launch("verify_batch", instance, settings, key, ops)
        (mat,) = verify.get_asset_materialization_events()
        assert mat.materialization.metadata["verdict"].value == "bit-identical"
        report = str(mat.materialization.metadata["report"].value)
        for check in ("rerun", "workers=2", "regroup", "batch_order"):
            assert f"| {check} |" in report, check
        compact = launch("compact_lake", instance, settings)
        (mat,) = compact.get_asset_materialization_events()
        meta = mat.materialization.metadata
        before, after = int(str(meta["files_before"].value)), int(str(meta["files_after"].value))
        assert before > after > 0
        assert int(str(meta["expired_log_files"].value)) == 0  # a week's log is kept
        assert int(str(meta["tables"].value)) >= 10 and "| voices |" in str(meta["by_table"].value)
        assert Lake(lake.root).read_table("voices").num_rows == 3  # no row changed
        names = {r.job_name for r in instance.get_runs()}
        assert names == {"ingest_batch", "refresh_dataset", "verify_batch", "compact_lake"}
        for r in instance.get_runs():  # each in the code location's timeline, as the UI's are
            origin = r.remote_job_origin
            assert origin is not None and origin.job_name == r.job_name
            assert origin.location_name == "voxlake"
            assert origin.repository_origin.repository_name == "__repository__"


def test_a_corpus_manifest_batch_runs_with_its_checks_passing(tmp_path: Path) -> None:
    corpus = corpora.kaldi(tmp_path / "corpus")
    lake = Lake(tmp_path / "lake").ensure()
    ingest_source(lake, "kaldi", corpus.path)
    with _instance(tmp_path) as instance:
        key = sensed_batch(instance, LakeResource(root=str(lake.root)))
        run = launch("ingest_batch", instance, RunSettings(str(lake.root)), key)
        assert run.success
        mats = {_name(m.asset_key): m for m in run.get_asset_materialization_events()}
        raw = mats["raw_voices"].materialization
        assert raw.metadata["rows"].value == 3
        assert raw.metadata["rejected"].value == len(corpus.rejected)
        checks = run.get_asset_check_evaluations()
        assert checks and all(c.passed for c in checks)
    assert Lake(lake.root).read_table("transcripts", key).num_rows == 3


def test_a_failed_blocking_check_stops_downstream_stages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import great_expectations.expectations as gxe

    import voxlake.quality.suites as suites

    real = suites._suite

    def strict(table, expected_rows, limits):
        extra = [gxe.ExpectTableRowCountToEqual(value=999)] if table == "denoise_metrics" else []
        return real(table, expected_rows, limits) + extra

    monkeypatch.setattr(suites, "_suite", strict)
    lake = make_lake(tmp_path / "lake", voices=2, speakers=2, bad_files=False)
    with _instance(tmp_path) as instance:
        key = sensed_batch(instance, LakeResource(root=str(lake.root)))
        run = launch("ingest_batch", instance, RunSettings(str(lake.root)), key)
        assert not run.success
        done = {_name(m.asset_key) for m in run.get_asset_materialization_events()}
        assert done == {"raw_voices", "denoised_voices"}  # mel and embeddings were blocked
        failed = [c for c in run.get_asset_check_evaluations() if not c.passed]
        assert [c.check_name for c in failed] == ["gx_denoise_metrics"]
        reason = failure_reason(run)  # what `voxlake run` prints for the failed batch
        assert "gx_denoise_metrics" in reason and "\n" not in reason
        stored = Lake(lake.root).read_table("quality_results", key).to_pylist()
        assert any(not r["success"] and r["table_name"] == "denoise_metrics" for r in stored)


def test_a_partition_added_by_hand_is_refused_with_a_reason(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake").ensure()
    with _instance(tmp_path) as instance:
        instance.add_dynamic_partitions("voice_batches", ["made-by-hand"])
        run = launch("ingest_batch", instance, RunSettings(str(lake.root)), "made-by-hand")
        assert not run.success
        (failure,) = run.get_step_failure_events()
        assert failure.step_key == "raw_voices"
        message = str(failure.event_specific_data)
        assert "no manifest for batch 'made-by-hand'" in message and "added by hand" in message
