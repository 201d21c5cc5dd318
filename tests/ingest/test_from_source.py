"""`voxlake ingest --from`: each corpus layout, built in its real form, ingested into a real
lake; voices, segment bounds, text, speakers and refusals checked against the fixture."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import soundfile as sf

from voxlake.ingest import inbox, raw
from voxlake.ingest.from_source import ingest_source, segment_id
from voxlake.lake.hashing import hash_file
from voxlake.lake.store import Lake
from voxlake.testing import corpora


def _ingest(lake: Lake, fmt: str, path: str | Path, **kw: Any) -> list[str]:
    ingest_source(lake, fmt, path, **kw)
    batches = [m.batch for m in inbox.scan_inbox(lake).new_batches]
    for b in batches:
        raw.ingest_batch(lake, b)
    return batches


def _rows(lake: Lake, table: str) -> list[dict[str, Any]]:
    return lake.read_table(table).to_pylist()


@pytest.mark.parametrize("fmt", sorted(corpora.BUILDERS))
def test_layout_ingests_with_its_truth(tmp_path: Path, fmt: str) -> None:
    corpus = corpora.BUILDERS[fmt](tmp_path / "corpus")
    lake = Lake(tmp_path / "lake").ensure()
    _ingest(lake, fmt, corpus.path)
    voices = {v["voice_id"]: v for v in _rows(lake, "voices")}
    texts = {t["voice_id"]: t for t in _rows(lake, "transcripts")}
    assert set(texts) == set(voices)
    by_name = {
        (texts[v].get("utterance_id") or voices[v]["file_name"]): (voices[v], texts[v])
        for v in voices
    }
    assert sorted(by_name) == sorted(e.utterance for e in corpus.voices)
    for e in corpus.voices:
        voice, t = by_name[e.utterance]
        assert (voice["speaker"], t["text"], t["gender"]) == (e.speaker, e.text, e.gender)
        assert t["language"] == e.language
        assert json.loads(voice["labels"] or "{}") == e.labels
        stored = lake.root / voice["raw_path"]
        assert stored.stem == hash_file(stored)  # every raw file is named by its hash
        if e.segment is None:
            assert t["segment_start_s"] is None and voice["voice_id"] == hash_file(stored)
            continue
        rate = voice["sample_rate"]
        start, end = round(e.segment[0] * rate), round(e.segment[1] * rate)
        assert (t["segment_start_s"], t["segment_end_s"]) == (start / rate, end / rate)
        assert voice["frames"] == end - start
        recording = next(iter(corpus.recordings.values()))
        if fmt == "kaldi":
            recording = corpus.recordings["rec_a"]
        assert t["recording_id"] == hash_file(recording)
        assert voice["voice_id"] == segment_id(t["recording_id"], start, end)
        # the cut holds the recording's own samples, bit for bit
        whole, _ = sf.read(recording, dtype="int16")
        cut, _ = sf.read(stored, dtype="int16")
        assert (cut == whole[start:end]).all()
    refused = {r["file_name"]: r["reason"] for r in _rows(lake, "rejected")}
    assert refused == corpus.rejected


def test_reingest_adds_nothing_and_ids_ignore_names(tmp_path: Path) -> None:
    corpus = corpora.kaldi(tmp_path / "corpus")
    lake = Lake(tmp_path / "lake").ensure()
    _ingest(lake, "kaldi", corpus.path)
    first = sorted(v["voice_id"] for v in _rows(lake, "voices"))
    again = ingest_source(lake, "kaldi", corpus.path)
    assert again.new == 0 and inbox.scan_inbox(lake).new_batches == []
    # the same bounds written otherwise, under other names, are the same voices
    renamed = tmp_path / "renamed"
    renamed.mkdir()
    (renamed / "wav.scp").write_text(f"R {corpus.recordings['rec_a']}\n")
    (renamed / "segments").write_text("x R 0.5000 2.0\ny R 2.50000001 4.75\n")
    lake2 = Lake(tmp_path / "lake2").ensure()
    _ingest(lake2, "kaldi", renamed)
    seg_ids = {v["voice_id"] for v in _rows(lake2, "voices")}
    assert seg_ids <= set(first) and len(seg_ids) == 2


def test_duplicate_utterance_with_other_audio_is_refused(tmp_path: Path) -> None:
    corpus = corpora.nemo(tmp_path / "corpus")
    rows = [json.loads(x) for x in corpus.path.read_text().splitlines()]
    dup = {**rows[0], "id": "u1"}
    other = {**rows[1], "id": "u1"}
    same = {**rows[0], "id": "u1"}
    corpus.path.write_text("".join(json.dumps(r) + "\n" for r in (dup, other, same)))
    lake = Lake(tmp_path / "lake").ensure()
    _ingest(lake, "nemo", corpus.path)
    assert [r["reason"] for r in _rows(lake, "rejected")] == ["duplicate_utterance"]
    assert len(_rows(lake, "voices")) == 1


def test_unparseable_manifest_names_file_and_line(tmp_path: Path) -> None:
    from voxlake.ingest.sources import ManifestError

    manifest = tmp_path / "m.json"
    manifest.write_text('{"audio_filepath": "a.wav"}\n{not json\n')
    lake = Lake(tmp_path / "lake").ensure()
    with pytest.raises(ManifestError, match=r"m\.json:2: not a JSON object"):
        ingest_source(lake, "nemo", manifest)


def test_language_option_fills_what_the_manifest_leaves_out(tmp_path: Path) -> None:
    corpus = corpora.nemo(tmp_path / "corpus")
    lake = Lake(tmp_path / "lake").ensure()
    _ingest(lake, "nemo", corpus.path, language="en")
    langs = sorted(t["language"] for t in _rows(lake, "transcripts"))
    assert langs == ["de", "en", "en"]


def test_the_cli_ingests_a_corpus_and_says_a_bad_manifest_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from voxlake.cli import main

    corpus = corpora.kaldi(tmp_path / "corpus")
    lake = tmp_path / "lake"
    assert main(["ingest", "--lake", str(lake), "--from", "kaldi", str(corpus.path)]) == 0
    out = capsys.readouterr().out
    assert "referenced 7 utterance(s) of kaldi" in out and "4 of them to `rejected`" in out
    (corpus.path / "segments").write_text("only three fields\n")
    assert main(["ingest", "--lake", str(lake), "--from", "kaldi", str(corpus.path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.endswith("segments:1: expected `utt rec start end`")


@pytest.mark.slow
def test_a_corpus_on_an_object_store_is_copied_in_and_read(
    tmp_path: Path, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import obstore

    from voxlake.lake.objectstore import open_store

    for key, value in s3.env().items():
        monkeypatch.setenv(key, value)
    corpus = corpora.librispeech(tmp_path / "corpus")
    top = corpus.path.parent  # LibriSpeech/, with SPEAKERS.TXT
    store = open_store(s3.uri("corpora/LibriSpeech"))
    for f in sorted(p for p in top.rglob("*") if p.is_file()):
        obstore.put(store, f.relative_to(top).as_posix(), f.read_bytes())
    lake = Lake(tmp_path / "lake").ensure()
    _ingest(lake, "librispeech", s3.uri("corpora/LibriSpeech"))
    texts = {t["utterance_id"]: t for t in _rows(lake, "transcripts")}
    assert sorted(texts) == sorted(e.utterance for e in corpus.voices)
    assert {e.utterance: e.gender for e in corpus.voices} == {
        u: t["gender"] for u, t in texts.items()
    }
    assert ingest_source(lake, "librispeech", s3.uri("corpora/LibriSpeech")).new == 0


def test_forget_takes_a_segments_transcript_and_file_and_keeps_the_raw_hash_true(
    tmp_path: Path,
) -> None:
    from voxlake.ingest.forget import forget
    from voxlake.lake.hashing import stage_hash
    from voxlake.lake.lineage import stored_stage_hash

    corpus = corpora.kaldi(tmp_path / "corpus")
    lake = Lake(tmp_path / "lake").ensure()
    (batch,) = _ingest(lake, "kaldi", corpus.path)
    texts = {t["utterance_id"]: t["voice_id"] for t in _rows(lake, "transcripts")}
    gone = texts["spk1-a-01"]
    stored = lake.root / next(v["raw_path"] for v in _rows(lake, "voices") if v["voice_id"] == gone)
    forget(lake, [gone])
    assert gone not in {t["voice_id"] for t in _rows(lake, "transcripts")}
    assert not stored.exists()
    # the batch's raw hash is that of a run that never saw the voice
    voices = lake.read_table("voices", batch).to_pylist()
    rejected = [
        r for r in lake.read_table("rejected", batch).to_pylist() if r["stage"] == raw.ASSET
    ]
    pairs = raw.raw_pairs(voices, rejected, [], lake.read_table("transcripts", batch).to_pylist())
    assert stored_stage_hash(lake, batch, raw.ASSET) == stage_hash(pairs)


def test_bytes_that_are_not_utf8_outside_the_text_do_not_stop_the_batch(tmp_path: Path) -> None:
    corpus = corpora.kaldi(tmp_path / "corpus")
    utt2spk = (corpus.path / "utt2spk").read_bytes()
    (corpus.path / "utt2spk").write_bytes(utt2spk.replace(b"spk1-a-01 spk1", b"spk1-a-01 sp\xe9k"))
    text = (corpus.path / "text").read_bytes()
    (corpus.path / "text").write_bytes(text.replace(b"spk1-a-02 ", b"spk1-a-02\xff "))
    segments = (corpus.path / "segments").read_bytes()
    (corpus.path / "segments").write_bytes(segments.replace(b"spk1-a-02 ", b"spk1-a-02\xff "))
    lake = Lake(tmp_path / "lake").ensure()
    _ingest(lake, "kaldi", corpus.path)
    voices = {v["voice_id"]: v for v in _rows(lake, "voices")}
    ids = {t["utterance_id"]: voices[t["voice_id"]] for t in _rows(lake, "transcripts")}
    assert ids["spk1-a-01"]["speaker"] == "sp\\xe9k"  # the byte kept, escaped
    assert "spk1-a-02\\xff" in ids


def test_an_hf_audiofolder_is_read_from_its_metadata(tmp_path: Path) -> None:
    import csv

    corpus = corpora.nemo(tmp_path / "corpus")  # its clips, described the audiofolder way
    folder = corpus.path.parent
    with open(folder / "metadata.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file_name", "transcription", "speaker_id", "accent"])
        w.writerow(["clips/a.wav", "first clip", "anna", "north"])
        w.writerow(["clips/b.wav", "zweiter teil", "ben", ""])
    lake = Lake(tmp_path / "lake").ensure()
    _ingest(lake, "hf", folder)
    voices = {v["voice_id"]: v for v in _rows(lake, "voices")}
    got = {
        t["utterance_id"]: (
            t["text"],
            voices[t["voice_id"]]["speaker"],
            voices[t["voice_id"]]["labels"],
        )
        for t in _rows(lake, "transcripts")
    }
    assert got == {
        "clips/a.wav": ("first clip", "anna", '{"accent": "north"}'),
        "clips/b.wav": ("zweiter teil", "ben", None),
    }
