"""Shard exports: read back by each format's own library with no voxlake code in the read
path, bit-identical across worker counts and destinations, split without leaking speakers,
resumable, verifiable from the manifest alone, and refusing what would lose an export."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest

from voxlake.cli import main
from voxlake.export import EmptySelection, select
from voxlake.export.shards import (
    MANIFEST,
    DestinationTaken,
    ShardRequest,
    ShardSize,
    export_shards,
    parse_shard_size,
    verify_shards,
)
from voxlake.export.splits import BadSplit, SplitSpec, parse_split
from voxlake.lake import snapshots
from voxlake.lake.store import Lake

TWO = ShardSize(bytes=None, voices=2)


@pytest.fixture(scope="module")
def lake(processed_lake: Lake, tmp_path_factory: pytest.TempPathFactory) -> Lake:
    copy = Lake(tmp_path_factory.mktemp("shards") / "lake")
    shutil.copytree(processed_lake.root, copy.root)
    return copy


def _stored(lake: Lake, kind: str = "denoised") -> dict[str, bytes]:
    """voice_id -> the bytes of its stored audio, read from the lake's files."""
    out = {}
    for v in select(lake).voices:
        out[v.voice_id] = Path(v.audio(kind)).read_bytes()
    return out


def _files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# --- pure parts ---------------------------------------------------------------------------


def test_split_specs_parse_and_refuse_with_one_line() -> None:
    spec = parse_split("train=0.8, dev=0.1,test=0.1", by="speaker", seed="s1")
    assert spec.names == ["train", "dev", "test"]
    for bad, words in [
        ("train=0.9,test=0.2", "sum to 1.1"),
        ("train=1.0,train=0.0", "named twice"),
        ("train", "NAME=FRACTION"),
        ("train=x", "not a number"),
        ("a/b=1", "letters"),
    ]:
        with pytest.raises(BadSplit, match=words) as e:
            parse_split(bad)
        assert "\n" not in str(e.value)


def test_a_units_split_is_a_function_of_its_key_and_seed_alone() -> None:
    spec = parse_split("train=0.9,dev=0.05,test=0.05")
    keys = [f"speaker-{i}" for i in range(20_000)]
    first = [spec.split_of(k) for k in keys]
    assert first == [spec.split_of(k) for k in reversed(keys)][::-1]  # no dependence on order
    counts = Counter(first)
    assert abs(counts["train"] / len(keys) - 0.9) < 0.01
    assert abs(counts["test"] / len(keys) - 0.05) < 0.01
    other = parse_split("train=0.9,dev=0.05,test=0.05", seed="another")
    assert sum(a != other.split_of(k) for k, a in zip(keys, first, strict=True)) > 1000
    no_speaker = spec.key_of("v1", {"speaker": None}, {})
    assert no_speaker != spec.key_of("v2", {"speaker": None}, {})  # each is its own unit
    assert spec.key_of("v1", {"speaker": "a"}, {}) == spec.key_of("v2", {"speaker": "a"}, {})


def test_shard_sizes_parse() -> None:
    assert parse_shard_size("500MB") == ShardSize(bytes=500 * 10**6)
    assert parse_shard_size("2gb") == ShardSize(bytes=2 * 10**9)
    assert parse_shard_size("1000") == ShardSize(bytes=None, voices=1000)
    assert parse_shard_size("64voices") == ShardSize(bytes=None, voices=64)
    for bad in ("0", "12TB", "lots", "-5"):
        with pytest.raises(ValueError, match="--shard-size"):
            parse_shard_size(bad)


# --- each format, read by its own library -------------------------------------------------


def test_webdataset_shards_read_back_in_webdataset(lake: Lake, tmp_path: Path) -> None:
    import webdataset as wds

    done = export_shards(lake, ShardRequest("webdataset", tmp_path, size=TWO))
    stored = _stored(lake)
    urls = sorted(str(p) for p in tmp_path.rglob("*.tar"))
    samples = list(wds.WebDataset(urls, shardshuffle=False))
    assert len(samples) == len(stored) == done.voices
    assert done.shards == len(urls) == -(-len(stored) // 2)
    for sample in samples:
        assert sample["flac"] == stored[sample["__key__"]]
        meta = json.loads(sample["json"])
        assert meta["voice_id"] == sample["__key__"] and meta["split"] == "train"


def test_hf_parquet_shards_load_in_datasets(lake: Lake, tmp_path: Path) -> None:
    import datasets

    export_shards(lake, ShardRequest("hf-parquet", tmp_path, size=TWO))
    ds = datasets.load_dataset(
        "parquet", data_files={"train": str(tmp_path / "train" / "*.parquet")}, split="train"
    )
    assert isinstance(ds.features["audio"], datasets.Audio)  # the feature type travels along
    ds = ds.cast_column("audio", datasets.Audio(decode=False))
    stored = _stored(lake)
    assert sorted(ds["voice_id"]) == sorted(stored)
    for row in ds:
        assert row["audio"]["bytes"] == stored[row["voice_id"]]


def test_lhotse_shar_shards_load_in_lhotse(lake: Lake, tmp_path: Path) -> None:
    from lhotse import CutSet

    export_shards(lake, ShardRequest("lhotse-shar", tmp_path, size=TWO, kind="raw"))
    cuts = list(CutSet.from_shar(in_dir=tmp_path / "train"))
    stored = _stored(lake, "raw")
    assert sorted(c.id for c in cuts) == sorted(stored)
    for cut in cuts:
        assert cut.recording.sources[0].source == stored[cut.id]
        assert cut.load_audio().shape[-1] == cut.recording.num_samples


# --- the same bytes, whatever runs them; resumable; verifiable ----------------------------


def test_the_same_snapshot_gives_the_same_bytes_for_any_worker_count_and_place(
    lake: Lake, tmp_path: Path
) -> None:
    spec = parse_split("train=0.5,test=0.5")
    one = export_shards(
        lake, ShardRequest("webdataset", tmp_path / "a", spec=spec, size=TWO), workers=1
    )
    three = export_shards(
        lake, ShardRequest("webdataset", tmp_path / "b" / "c", spec=spec, size=TWO), workers=3
    )
    assert _files(tmp_path / "a") == _files(tmp_path / "b" / "c")
    assert one.manifest == three.manifest
    assert one.manifest["snapshot"]["id"] == snapshots.current(lake.tables).id
    assert not (tmp_path / "a" / ".voxlake-export").exists()  # progress records are gone


def test_an_interrupted_export_resumes_at_the_first_unfinished_shard(
    lake: Lake, tmp_path: Path
) -> None:
    seen: list[dict[str, object]] = []

    def crash_after_first(record: dict[str, object]) -> None:
        seen.append(record)
        raise KeyboardInterrupt("killed")

    with pytest.raises(KeyboardInterrupt):
        export_shards(
            lake, ShardRequest("hf-parquet", tmp_path / "x", size=TWO), on_shard=crash_after_first
        )
    assert not (tmp_path / "x" / MANIFEST).exists()  # no manifest: not a complete export
    again = export_shards(lake, ShardRequest("hf-parquet", tmp_path / "x", size=TWO))
    assert 1 <= again.written <= again.shards - 1  # the first shard was not written again
    assert (
        export_shards(lake, ShardRequest("hf-parquet", tmp_path / "y", size=TWO)).written
        == again.shards
    )
    assert _files(tmp_path / "x") == _files(tmp_path / "y")
    assert export_shards(lake, ShardRequest("hf-parquet", tmp_path / "y", size=TWO)).written == 0


def test_verify_needs_only_the_manifest_and_finds_a_changed_shard(
    lake: Lake, tmp_path: Path
) -> None:
    out = tmp_path / "export"
    export_shards(lake, ShardRequest("lhotse-shar", out, size=TWO))
    moved = tmp_path / "moved"
    shutil.move(out, moved)  # no lake, no original path
    assert verify_shards(moved / MANIFEST).ok
    tar = sorted(moved.rglob("recording.*.tar"))[0]
    data = bytearray(tar.read_bytes())
    data[600] ^= 1
    tar.write_bytes(bytes(data))
    checked = verify_shards(moved / MANIFEST)
    assert not checked.ok and tar.name in checked.problems[0]
    assert main(["export", "--verify", str(moved / MANIFEST)]) == 1


# --- splits -------------------------------------------------------------------------------


def test_no_speaker_is_in_two_splits_and_an_empty_split_warns(lake: Lake, tmp_path: Path) -> None:
    spec = parse_split("train=0.34,dev=0.33,test=0.33")
    done = export_shards(lake, ShardRequest("webdataset", tmp_path, spec=spec))
    splits_of: dict[str | None, set[str]] = {}
    for path in tmp_path.rglob("*.tar"):
        import webdataset as wds

        for sample in wds.WebDataset(str(path), shardshuffle=False):
            meta = json.loads(sample["json"])
            splits_of.setdefault(meta["speaker"], set()).add(meta["split"])
            assert path.parent.name == meta["split"]
    assert splits_of and all(len(s) == 1 for s in splits_of.values())
    empty = [n for n, c in done.manifest["splits"].items() if c["voices"] == 0]
    assert len(done.warnings) == len(empty)  # 3 speakers over 3 splits: some may be empty
    by_voice = export_shards(
        lake, ShardRequest("webdataset", tmp_path / "v", spec=SplitSpec(spec.fractions, by="voice"))
    )
    assert by_voice.voices == done.voices


def test_an_unknown_by_column_is_refused_before_writing(lake: Lake, tmp_path: Path) -> None:
    with pytest.raises(BadSplit, match="no column or label named 'accent'"):
        export_shards(
            lake, ShardRequest("webdataset", tmp_path / "x", spec=parse_split(None, by="accent"))
        )
    assert not (tmp_path / "x").exists()


# --- refusals -----------------------------------------------------------------------------


def test_an_empty_selection_writes_nothing(lake: Lake, tmp_path: Path) -> None:
    with pytest.raises(EmptySelection):
        export_shards(lake, ShardRequest("webdataset", tmp_path / "x", where="duration_s > 1e9"))
    assert not (tmp_path / "x").exists()


def test_another_export_at_the_destination_is_refused_unless_overwritten(
    lake: Lake, tmp_path: Path
) -> None:
    export_shards(lake, ShardRequest("webdataset", tmp_path, size=TWO))
    with pytest.raises(DestinationTaken, match="--overwrite"):
        export_shards(
            lake, ShardRequest("webdataset", tmp_path, size=ShardSize(bytes=None, voices=3))
        )
    (tmp_path.parent / "other").mkdir(exist_ok=True)
    (tmp_path.parent / "other" / "notes.txt").write_text("mine")
    with pytest.raises(DestinationTaken, match="other files"):
        export_shards(lake, ShardRequest("webdataset", tmp_path.parent / "other"))
    done = export_shards(
        lake,
        ShardRequest("webdataset", tmp_path, size=ShardSize(bytes=None, voices=3), overwrite=True),
    )
    assert verify_shards(tmp_path).ok
    assert sorted(p.name for p in tmp_path.rglob("*.tar")) == [
        f"shard-{i:06d}.tar" for i in range(done.shards)
    ]


def test_the_cli_writes_shards_and_says_what_is_wrong_in_one_line(
    lake: Lake, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = str(tmp_path / "wds")
    args = ["export", "--lake", str(lake.root), "--format", "webdataset", "--out", out]
    assert main([*args, "--shards", "--split", "train=0.5,test=0.5", "--shard-size", "2"]) == 0
    assert "manifest.json" in capsys.readouterr().out
    assert main(["export", "--verify", out + "/manifest.json"]) == 0
    for bad, words in [
        (["--shards", "--split", "train=0.5,test=0.6"], "sum to 1.1"),
        (["--shards", "--by", "nope"], "no column or label"),
        ([], "add --shards"),
    ]:
        assert main([*args[:-1], str(tmp_path / "x"), *bad]) == 1
        err = capsys.readouterr().err.strip()
        assert words in err and len(err.splitlines()) == 1


def test_shards_go_to_an_object_store_prefix(
    lake: Lake, s3: object, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for key, value in s3.env().items():  # type: ignore[attr-defined]
        monkeypatch.setenv(key, value)
    uri = s3.uri("exports/wds")  # type: ignore[attr-defined]
    remote = export_shards(lake, ShardRequest("webdataset", uri, size=TWO), workers=2)
    local = export_shards(lake, ShardRequest("webdataset", tmp_path, size=TWO))
    assert remote.manifest == local.manifest
    assert verify_shards(uri + "/manifest.json").ok
    with pytest.raises(DestinationTaken):
        export_shards(lake, ShardRequest("webdataset", uri, size=ShardSize(bytes=None, voices=5)))


def _splits_by_voice(manifest_root: Path) -> dict[str, tuple[str, str | None]]:
    import webdataset as wds

    out = {}
    for path in sorted(manifest_root.rglob("*.tar")):
        for sample in wds.WebDataset(str(path), shardshuffle=False):
            meta = json.loads(sample["json"])
            out[meta["voice_id"]] = (meta["split"], meta["speaker"])
    return out


@pytest.mark.slow
def test_speakers_keep_their_split_when_a_later_batch_adds_voices(
    processed_lake: Lake, tmp_path: Path
) -> None:
    from voxlake.demo import corpus
    from voxlake.testing import process_all

    grown = Lake(tmp_path / "lake")
    shutil.copytree(processed_lake.root, grown.root)
    spec = parse_split("train=0.5,dev=0.25,test=0.25")
    before = export_shards(grown, ShardRequest("webdataset", tmp_path / "before", spec=spec))
    corpus.generate(grown.inbox / "more", tmp_path / "clean", 6, 3, seed=1, bad_files=False)
    assert len(process_all(grown)) == 1
    after = export_shards(grown, ShardRequest("webdataset", tmp_path / "after", spec=spec))
    assert after.voices == before.voices + 6
    assert after.manifest["snapshot"]["id"] != before.manifest["snapshot"]["id"]
    old, new = _splits_by_voice(tmp_path / "before"), _splits_by_voice(tmp_path / "after")
    assert all(new[v] == old[v] for v in old)  # every voice kept its split
    split_of_speaker = {speaker: split for split, speaker in old.values()}
    added = [new[v] for v in new.keys() - old.keys()]
    assert {speaker for _, speaker in added} <= split_of_speaker.keys()  # same speakers...
    assert all(split_of_speaker[speaker] == split for split, speaker in added)  # same split
    # the snapshot the first export read, named after the lake moved on: the same shards
    pinned = before.manifest["snapshot"]["id"]
    again = export_shards(
        grown, ShardRequest("webdataset", tmp_path / "again", spec=spec, as_of=pinned)
    )
    assert again.manifest == before.manifest
    assert _files(tmp_path / "again") == _files(tmp_path / "before")


def _documented_filters() -> list[str]:
    """The `--where` column of the filters table in docs/exports.md."""
    text = (Path(__file__).parents[2] / "docs" / "exports.md").read_text()
    table = text.split("### Filters users ask for", 1)[1].split("###", 1)[0]
    out = []
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[1].startswith("`") and cells[1] != "`--where`":
            out.extend(re.findall(r"`([^`]+)`", cells[1]))
    return out


def test_the_documented_filters_run_and_select_what_they_say(lake: Lake) -> None:
    filters = _documented_filters()
    assert len(filters) >= 7
    every = {v.voice_id: v for v in select(lake).voices}
    for where in filters:
        try:
            chosen = select(lake, where).voices
        except EmptySelection:
            chosen = []
        assert {v.voice_id for v in chosen} <= every.keys(), where
    short = {v.voice_id for v in select(lake, "duration_s between 1 and 20").voices}
    assert short == {k for k, v in every.items() if 1 <= v.columns["duration_s"] <= 20}


def test_a_lake_on_a_store_exports_in_place_the_same_shards(
    lake: Lake,
    s3: object,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`voxlake export --shards --lake s3://...`: the tables read in place, each shard's
    audio fetched as it is written and dropped after; the shards are the local lake's
    bytes, the snapshot is recorded on the store, and the machine keeps no audio."""
    import obstore

    from voxlake.lake.objectstore import StoreConfig, open_store
    from voxlake.lake.objectstore.remote import StoreLake

    for key, value in s3.env().items():  # type: ignore[attr-defined]
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("VOXLAKE_CACHE", str(tmp_path / "cache"))
    uri = s3.uri("lakes/exported")  # type: ignore[attr-defined]
    copy = Lake(tmp_path / "published")
    shutil.copytree(lake.root, copy.root, ignore=shutil.ignore_patterns("snapshots", "dagster"))
    assert StoreLake.of(StoreConfig(uri)).publish(copy) > 0
    args = ["--format", "hf-parquet", "--shards", "--shard-size", "2", "--split", "a=0.5,b=0.5"]
    assert main(["export", *args, "--out", str(tmp_path / "local"), "--lake", str(lake.root)]) == 0
    assert main(["export", *args, "--out", str(tmp_path / "store"), "--lake", uri]) == 0
    assert "exported 6 voice(s)" in capsys.readouterr().out
    local = json.loads((tmp_path / "local" / MANIFEST).read_text())
    remote = json.loads((tmp_path / "store" / MANIFEST).read_text())
    assert [s["files"] for s in remote["shards"]] == [s["files"] for s in local["shards"]]
    shards = {k: v for k, v in _files(tmp_path / "store").items() if k != MANIFEST}
    assert shards == {k: v for k, v in _files(tmp_path / "local").items() if k != MANIFEST}
    snapshot = remote["snapshot"]["id"]
    listed = [m["path"] for c in obstore.list(open_store(uri), prefix="snapshots/") for m in c]
    assert f"snapshots/{snapshot}.json" in listed  # retention on the store keeps it
    held = [p for p in (tmp_path / "cache").rglob("*") if p.suffix in (".flac", ".wav")]
    assert held == []  # every shard's audio dropped once the shard was written
