"""`step_outputs`: an IO manager for small JSON step outputs, kept with the lake so that a
step on any machine reads its inputs.

A job whose steps run on different machines (`export_shards` on the Celery executor)
cannot hand outputs over through Dagster's default IO manager, which writes to the local
disk of the machine that ran the step. This one writes each output as JSON under
`dagster/outputs/<run_id>/<step_key>/<output>[/<mapping_key>].json` of the lake: its folder,
or its object-store prefix (never pushed or pulled by a working copy: `dagster/` is not
part of a step's copy). Only JSON values are taken: these are plans and counts, not data.
"""

from __future__ import annotations

import json
from typing import Any

import dagster as dg
import obstore

from voxlake.lake.objectstore import ObjectStore, open_store, read_json
from voxlake.resources import LakeResource

PREFIX = "dagster/outputs"


class StepOutputs(dg.IOManager):
    def __init__(self, lake: LakeResource):
        self._lake = lake
        self._store: ObjectStore | None = None

    def _opened(self) -> ObjectStore:
        if self._store is None:
            self._store = open_store(self._lake.store_config())
        return self._store

    @staticmethod
    def _key(context: dg.OutputContext) -> str:
        return f"{PREFIX}/{'/'.join(context.get_identifier())}.json"

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        data = (json.dumps(obj, sort_keys=True) + "\n").encode()
        obstore.put(self._opened(), self._key(context), data)

    def load_input(self, context: dg.InputContext) -> Any:
        key = self._key(context.upstream_output)  # type: ignore[arg-type]
        got = read_json(self._opened(), key)
        if got is None:
            raise FileNotFoundError(f"step output {key} is not in the lake")
        return got[0]


@dg.io_manager(
    required_resource_keys={"lake"},
    description="Small JSON step outputs kept with the lake (its folder or object-store "
    "prefix), so that steps on other machines read them.",
)
def step_outputs(init_context: dg.InitResourceContext) -> StepOutputs:
    return StepOutputs(init_context.resources.lake)
