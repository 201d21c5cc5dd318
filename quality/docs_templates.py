"""GX Data Docs' jinja templates, compiled once per process.

Every Data Docs page is rendered by a new `DefaultJinjaView`, and each view makes its own
jinja `Environment`, so every page compiled GX's templates from source again: about 1.1 s
of a batch run's 1.4 s of Data Docs (5 checks, 2 pages each, a profile of one 200-voice
batch). An in-memory bytecode cache shared by those environments keeps each compiled
template, keyed by jinja on the template's name and a hash of its source, so a page
renders from the same template code: the pages do not change, only their cost.
"""

from __future__ import annotations

from typing import Any

from jinja2 import BytecodeCache
from jinja2.bccache import Bucket


class MemoryBytecodeCache(BytecodeCache):
    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


CACHE = MemoryBytecodeCache()


def compile_templates_once() -> None:
    """Give every GX view made from now on the process's bytecode cache (idempotent)."""
    from great_expectations.render.view.view import DefaultJinjaView

    if getattr(DefaultJinjaView, "_voxlake_bytecode_cache", None) is CACHE:
        return
    made = DefaultJinjaView.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        made(self, *args, **kwargs)
        self.env.bytecode_cache = CACHE

    DefaultJinjaView.__init__ = __init__  # type: ignore[method-assign]
    DefaultJinjaView._voxlake_bytecode_cache = CACHE  # type: ignore[attr-defined]
