"""The corpus formats `voxlake ingest --from` reads: a name and a reader each.

A reader takes the path the user gave (a manifest file or a corpus folder) and yields
`SourceItem`s in the manifest's order, streaming where the format allows. Adding a format
is one module with one `@register("name")` reader, imported in `sources/__init__.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from voxlake.ingest.sources.item import SourceItem

Reader = Callable[[Path], Iterator[SourceItem]]
SOURCES: dict[str, Reader] = {}


def register(name: str) -> Callable[[Reader], Reader]:
    def add(reader: Reader) -> Reader:
        SOURCES[name] = reader
        return reader

    return add


def read_source(name: str, path: Path) -> Iterator[SourceItem]:
    if name not in SOURCES:
        raise ValueError(f"unknown source format {name!r}; known: {', '.join(sorted(SOURCES))}")
    if not path.exists():
        raise FileNotFoundError(f"no such file or folder: {path}")
    return SOURCES[name](path)
