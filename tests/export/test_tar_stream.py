"""The deterministic tar writer: what tarfile (and so webdataset and lhotse) reads back."""

from __future__ import annotations

import io
import tarfile

import pytest

from voxlake.export.tar_stream import RECORD, TarStream, header


def test_members_read_back_in_tarfile_with_no_time_or_owner() -> None:
    out = io.BytesIO()
    members = {"a" * 64 + ".flac": b"\x01" * 1000, "b.json": b"{}\n", "empty.txt": b""}
    with TarStream(out) as tar:
        for name, data in members.items():
            tar.add(name, data)
    assert len(out.getvalue()) % RECORD == 0
    with tarfile.open(fileobj=io.BytesIO(out.getvalue()), mode="r:") as tf:
        got = tf.getmembers()
        assert [m.name for m in got] == list(members)
        for m in got:
            assert (m.mtime, m.uid, m.gid, m.mode, m.uname) == (0, 0, 0, 0o644, "")
            assert m.isfile() and tf.extractfile(m).read() == members[m.name]  # type: ignore[union-attr]


def test_headers_refuse_what_ustar_cannot_hold() -> None:
    with pytest.raises(ValueError, match="name"):
        header("x" * 101, 1)
    with pytest.raises(ValueError, match="USTAR limit"):
        header("big", 8**11)
    assert header("same", 5) == header("same", 5)
