import shutil
from pathlib import Path

import numpy as np
import soundfile as sf

from voxlake.ingest.inbox import InboxFile, list_batches, read_manifest, scan_inbox
from voxlake.ingest.sidecar import labels_for
from voxlake.lake.store import Lake


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


def test_sidecar_labels_json_and_csv(tmp_path: Path) -> None:
    inbox = tmp_path
    for name in ("a.wav", "b.wav", "sub/c.wav"):
        _wav(inbox / name, len(name))
    labels, issues = labels_for(inbox, ["a.wav"])
    assert labels == {} and issues == []
    (inbox / "a.json").write_text('{"speaker": "ann", "source": "s1", "mic": "usb"}')
    (inbox / "labels.csv").write_text(
        "path,speaker,source,age\n"
        "a.wav,bob,csv,30\n"  # the JSON sidecar wins
        "b.wav,carl,csv,41\n"
        "../../etc/passwd,eve,x,1\n"  # escapes the inbox
        "sub/c.wav,\x07bell,x,2\n"  # a control character is no speaker label
        "missing.wav,dan,x,3\n"
    )
    labels, issues = labels_for(inbox, ["a.wav", "b.wav", "sub/c.wav"])
    assert labels["a.wav"].speaker == "ann" and labels["a.wav"].source == "s1"
    assert labels["a.wav"].extra == {"mic": "usb", "age": "30"}
    assert (labels["b.wav"].speaker, labels["b.wav"].extra) == ("carl", {"age": "41"})
    details = sorted(i.detail for i in issues)
    assert any("'../../etc/passwd' is not inside the inbox" in d for d in details)
    assert any("no file 'missing.wav'" in d for d in details)
    assert all(i.reason == "bad_sidecar" for i in issues)
    # sub/ has no labels.csv: its row in the parent CSV still labels it, but not its bad speaker
    assert labels["sub/c.wav"].speaker is None
    assert any("speaker must be printable" in d for d in details)
    (inbox / "b.json").write_text("{broken")
    _, issues = labels_for(inbox, ["b.wav"])
    assert [i.sidecar for i in issues if i.sidecar.endswith(".json")] == ["b.json"]


def test_a_huge_labels_file_is_one_problem_and_its_values_are_kept_verbatim(
    tmp_path: Path,
) -> None:
    inbox = tmp_path
    names = ["f0.wav", "f1.wav", "f2.wav", "f3.wav"]
    for i, name in enumerate(names):
        _wav(inbox / name, i)
    values = ['=HYPERLINK("http://x")', "'; drop table voices; --", "ünïcødé 声", ""]
    lines = ["path,speaker,note"]
    lines += [
        f'{n},spk{i},"{v.replace(chr(34), chr(34) * 2)}"'
        for i, (n, v) in enumerate(zip(names, values, strict=True))
    ]
    lines += [f"gone{i}.wav,x,y" for i in range(9996)]
    (inbox / "labels.csv").write_text("\n".join(lines) + "\n")
    labels, issues = labels_for(inbox, names)
    (issue,) = issues
    assert issue.sidecar == "labels.csv" and issue.detail.startswith("9996 problems:")
    assert "no file 'gone0.wav'" in issue.detail and "9993 more" in issue.detail
    notes = [labels[n].extra.get("note", "") for n in names]
    assert notes == values  # stored verbatim, never evaluated


def test_the_seen_index_is_derived_and_caught_up_from_the_manifests(tmp_path: Path) -> None:
    from voxlake.ingest.inbox import Manifest, manifest_path
    from voxlake.ingest.seen import INDEX
    from voxlake.lake.store import atomic_write_json

    lake = Lake(tmp_path).ensure()
    _wav(lake.inbox / "a.wav", 0)
    (first,) = scan_inbox(lake).new_batches
    (lake.batches_dir / INDEX).unlink()  # deleted: rebuilt from the manifests
    assert scan_inbox(lake).new_batches == []
    # A scan that died after writing its manifest, before the index: the next one folds it in.
    _wav(lake.inbox / "b.wav", 1)
    entry = next(f for f in scan_inbox_dry(lake) if f.path == "b.wav")
    atomic_write_json(
        manifest_path(lake, "000002-crashed"), Manifest("000002-crashed", (entry,)).to_json()
    )
    again = scan_inbox(lake)
    assert again.new_batches == [] and again.unchanged == 2
    assert read_manifest(lake, first.batch) == first


def scan_inbox_dry(lake: Lake) -> list[InboxFile]:
    """The inbox as a scan would record it, without writing anything."""
    from voxlake.ingest.inbox import _inspect, _key, walk_inbox

    return [_inspect(lake.inbox, p, _key(lake.inbox, p)) for p in walk_inbox(lake.inbox)]


def test_batched_references_leave_the_reference_log(tmp_path: Path) -> None:
    from voxlake.ingest.inbox import REFERENCES_LOG, log_entries
    from voxlake.ingest.references import reference_files

    lake = Lake(tmp_path / "lake").ensure()
    _wav(tmp_path / "src" / "a.wav", 0)
    reference_files(lake, [tmp_path / "src"])
    assert len(log_entries(lake, REFERENCES_LOG)) == 1
    assert len(scan_inbox(lake).new_batches) == 1
    assert log_entries(lake, REFERENCES_LOG) == []  # the index holds it now
    assert reference_files(lake, [tmp_path / "src"]).known == 1
    assert scan_inbox(lake).new_batches == []
