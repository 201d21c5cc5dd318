"""A deterministic, append-only tar writer: USTAR headers with no time, owner or mode of
this machine, and one write per member.

The standard library's `tarfile` builds each header through a copied `TarInfo` and a PAX
check, which cost as much as copying a short voice's bytes; a shard holds thousands of
members whose headers differ only in name and size. The archives read in `tarfile`, GNU
tar and `webdataset` alike (the tests read them with `webdataset` and `lhotse`).
"""

from __future__ import annotations

from typing import Protocol


class Writable(Protocol):
    def write(self, data: bytes, /) -> int | None: ...


BLOCK = 512
RECORD = 20 * BLOCK  # tar's record: the archive ends on a multiple of it
MAX_NAME = 100
MAX_SIZE = 8**11 - 1  # 11 octal digits


def _field(value: int, width: int) -> bytes:
    return f"{value:0{width - 1}o}".encode() + b"\0"


def _template() -> bytearray:
    """The header's fields that every member shares, its checksum field as spaces."""
    block = bytearray(BLOCK)
    block[100:108] = _field(0o644, 8)  # mode
    block[108:116] = _field(0, 8)  # uid
    block[116:124] = _field(0, 8)  # gid
    block[136:148] = _field(0, 12)  # mtime
    block[148:156] = b" " * 8  # the checksum counts its own field as spaces
    block[156:157] = b"0"  # a regular file
    block[257:263] = b"ustar\0"
    block[263:265] = b"00"
    block[329:337] = _field(0, 8)  # devmajor
    block[337:345] = _field(0, 8)  # devminor
    return block


_TEMPLATE = bytes(_template())
_TEMPLATE_SUM = sum(_TEMPLATE)


def header(name: str, size: int) -> bytes:
    """The 512-byte USTAR header of a regular file `name` of `size` bytes."""
    raw = name.encode()
    if len(raw) > MAX_NAME or not raw:
        raise ValueError(f"tar member name of {len(raw)} bytes: 1 to {MAX_NAME} fit a header")
    if size > MAX_SIZE:
        raise ValueError(f"tar member {name} of {size} bytes is over the USTAR limit")
    size_field = _field(size, 12)
    checksum = _TEMPLATE_SUM + sum(raw) + sum(size_field)
    block = bytearray(_TEMPLATE)
    block[0 : len(raw)] = raw
    block[124:136] = size_field
    block[148:156] = f"{checksum:06o}".encode() + b"\0 "
    return bytes(block)


def padding(size: int) -> bytes:
    return b"\0" * (-size % BLOCK)


class TarStream:
    """Members appended to `out` in order; `close` writes the end-of-archive blocks."""

    def __init__(self, out: Writable):
        self._out = out
        self._written = 0

    def add(self, name: str, data: bytes) -> None:
        self._put(header(name, len(data)))
        self._put(data)
        self._put(padding(len(data)))

    def _put(self, data: bytes) -> None:
        if data:
            self._out.write(data)
            self._written += len(data)

    def close(self) -> None:
        end = 2 * BLOCK
        self._put(b"\0" * (end + (-(self._written + end) % RECORD)))

    def __enter__(self) -> TarStream:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()
