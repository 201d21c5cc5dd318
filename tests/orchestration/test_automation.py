"""The dataset-wide assets follow every successful batch, whatever state other batches are
in, and automation is on by default. Evaluated by Dagster's own automation engine."""

from __future__ import annotations

import time
from unittest import mock

import dagster as dg

from voxlake.assets.dataset import FOLLOWS_BATCHES
from voxlake.orchestration.definitions import defs
from voxlake.pipeline import FINAL_STAGES

DATASET = {"mel_stats", "voice_index"}


def _materialized(instance: dg.DagsterInstance, batch: str) -> None:
    for asset in ("raw_voices", "denoised_voices", *FINAL_STAGES):
        instance.report_runless_asset_event(dg.AssetMaterialization(asset, partition=batch))


def _requested(result: dg.EvaluateAutomationConditionsResult) -> set[str]:
    return {name for name in DATASET if result.get_num_requested(dg.AssetKey(name))}


def _tick(
    instance: dg.DagsterInstance, cursor: object = None
) -> dg.EvaluateAutomationConditionsResult:
    return dg.evaluate_automation_conditions(
        defs=defs,
        instance=instance,
        asset_selection=dg.AssetSelection.assets(*DATASET),
        cursor=cursor,  # type: ignore[arg-type]
    )


def test_a_failed_batch_does_not_freeze_the_dataset() -> None:
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("voice_batches", ["b1", "b2-failed", "b3"])
        start = _tick(instance)  # the daemon's first tick: nothing has happened yet
        _materialized(instance, "b1")  # b2 failed: it never materialised
        first = _tick(instance, start.cursor)
        assert _requested(first) == DATASET
        for key in DATASET:  # the dataset step ran
            instance.report_runless_asset_event(dg.AssetMaterialization(key))
        idle = _tick(instance, first.cursor)
        assert _requested(idle) == set()
        _materialized(instance, "b3")  # a later batch succeeds: the dataset follows it
        assert _requested(_tick(instance, idle.cursor)) == DATASET


def test_a_batch_that_lands_while_the_dataset_runs_gets_a_run_of_its_own() -> None:
    """The dataset run reads the batches, finishes, and a batch that was under way
    meanwhile lands after it, both between two ticks (seen on a cluster of two workers):
    eager() took the asset's own materialisation as having handled that batch."""
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("voice_batches", ["b1", "b2"])
        start = _tick(instance)
        _materialized(instance, "b1")
        first = _tick(instance, start.cursor)
        assert _requested(first) == DATASET
        for key in DATASET:  # the dataset run, which read b1 only
            instance.report_runless_asset_event(dg.AssetMaterialization(key))
        _materialized(instance, "b2")  # b2 lands after it, before the next tick
        assert _requested(_tick(instance, first.cursor)) == DATASET


def test_the_default_automation_starts_running() -> None:
    sensors = [
        s for s in defs.sensors or [] if isinstance(s, dg.AutomationConditionSensorDefinition)
    ]
    assert [s.default_status for s in sensors] == [dg.DefaultSensorStatus.RUNNING]
    graph = defs.resolve_asset_graph()
    for key in DATASET:
        assert graph.get(dg.AssetKey(key)).automation_condition == FOLLOWS_BATCHES


def test_the_safety_net_sees_a_batch_that_landed_during_the_dataset_run() -> None:
    """Real runs on a real instance: the dataset run begins, a batch output lands (a run of
    its own), then the dataset run materialises. By event order the dataset looks newer;
    by what the run could have read it is behind, and the sensor asks for one more run."""
    from voxlake.orchestration import dataset_sensor
    from voxlake.orchestration.dataset_sensor import dataset_behind, dataset_follows_batches

    @dg.asset(name="batch_output")
    def batch_output() -> None:
        return None

    with dg.instance_for_test() as instance:

        @dg.asset(name="dataset")
        def dataset() -> None:
            assert dg.materialize([batch_output], instance=instance).success  # lands meanwhile

        def behind() -> str | None:
            return dataset_behind(instance, ["batch_output"], ["dataset"])

        assert behind() is None  # nothing yet
        assert dg.materialize([batch_output], instance=instance).success
        assert behind() is not None  # a batch, and no dataset run yet
        assert dg.materialize([dataset], instance=instance).success
        assert behind() is not None  # the batch that landed during the run
        again = dg.asset(name="dataset")(lambda: None)  # the run the sensor asks for
        assert dg.materialize([again], instance=instance).success
        assert behind() is None  # a run that began after the batch
        context = dg.build_sensor_context(instance=instance)
        assert isinstance(dataset_follows_batches(context), dg.SkipReason)  # nothing yet
        _materialized(instance, "b1")  # the real assets: a batch, and no dataset run
        assert isinstance(dataset_follows_batches(context), dg.SkipReason)  # automation first
        later = time.time() + dataset_sensor.GRACE_S + 1
        with mock.patch.object(dataset_sensor.time, "time", return_value=later):
            assert isinstance(dataset_follows_batches(context), dg.RunRequest)
