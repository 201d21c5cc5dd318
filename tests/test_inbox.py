import shutil
from pathlib import Path

import numpy as np
import soundfile as sf

from voxlake.inbox import list_batches, read_manifest, read_sidecar, scan_inbox
from voxlake.lake import Lake


def _wav(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    x = np.random.default_rng(seed).normal(0, 0.1, 16000).astype(np.float32)
    sf.write(path, x, 16000, subtype="PCM_16")


def test_new_files_become_one_manifest_and_a_rescan_adds_nothing(tmp_path: Path) -> None:
    lake = Lake(tmp_path).ensure()
    for i in range(3):
        _wav(lake.inbox / f"v{i}.wav", i)
    (lake.inbox / "v0.json").write_text('{"speaker": "ann"}')
    first = scan_inbox(lake)
    assert len(first.new_batches) == 1
    m = first.new_batches[0]
    assert [f.path for f in m.files] == ["v0.wav", "v1.wav", "v2.wav"]  # sidecar is no input
    assert read_manifest(lake, m.batch) == m
    again = scan_inbox(lake)
    assert again.new_batches == [] and again.unchanged == 3
    assert list_batches(lake) == [m.batch]


def test_resending_known_content_under_another_name_adds_no_batch(tmp_path: Path) -> None:
    lake = Lake(tmp_path).ensure()
    _wav(lake.inbox / "a.wav", 0)
    scan_inbox(lake)
    shutil.copyfile(lake.inbox / "a.wav", lake.inbox / "copy of a.wav")
    resent = scan_inbox(lake)
    assert resent.new_batches == [] and [f.path for f in resent.resent] == ["copy of a.wav"]
    assert scan_inbox(lake).resent == []  # logged: not hashed again
    assert len(list_batches(lake)) == 1


def test_batches_are_split_at_the_batch_size(tmp_path: Path) -> None:
    lake = Lake(tmp_path).ensure()
    for i in range(5):
        _wav(lake.inbox / "sub" / f"v{i}.wav", i)
    scan = scan_inbox(lake, batch_size=2)
    assert [len(m.files) for m in scan.new_batches] == [2, 2, 1]
    assert [m.batch[:6] for m in scan.new_batches] == ["000001", "000002", "000003"]
    assert scan.new_batches[0].files[0].path == "sub/v0.wav"


def test_sidecar_labels(tmp_path: Path) -> None:
    _wav(tmp_path / "a.wav", 0)
    assert read_sidecar(tmp_path / "a.wav") == {}
    (tmp_path / "a.json").write_text('{"speaker": "ann", "source": "s1", "x": 1}')
    assert read_sidecar(tmp_path / "a.wav") == {"speaker": "ann", "source": "s1"}
    (tmp_path / "a.json").write_text("{broken")
    assert read_sidecar(tmp_path / "a.wav") == {}
