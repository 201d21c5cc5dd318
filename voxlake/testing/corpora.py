"""Small corpora in the layouts users hold them, generated here with their truth: a
LibriSpeech tree, a VCTK tree, a Kaldi data directory with segments, a NeMo manifest, a
Hugging Face Parquet file with embedded audio, and a Lhotse manifest pair. Each builder
writes the corpus under `root` and returns what a correct ingest must find: one
`Expected` per utterance that should become a voice, and the reasons of those that
should be rejected."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import soundfile as sf

from voxlake.testing.hostile import speech

RATE = 16000


@dataclass(frozen=True)
class Expected:
    utterance: str
    speaker: str | None
    text: str | None
    gender: str | None = None
    language: str | None = None
    segment: tuple[float, float] | None = None  # seconds, as the manifest gives them
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class Corpus:
    path: Path  # what `voxlake ingest --from` is given
    voices: list[Expected]
    rejected: dict[str, str] = field(default_factory=dict)  # utterance -> reason
    recordings: dict[str, Path] = field(default_factory=dict)  # a segmented one's file


def _wav(path: Path, seconds: float, seed: int, fmt: str = "WAV") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, speech(RATE, seconds, seed), RATE, format=fmt, subtype="PCM_16")
    return path


def _wav_bytes(seconds: float, seed: int) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, speech(RATE, seconds, seed), RATE, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def librispeech(root: Path) -> Corpus:
    top = root / "LibriSpeech"
    (top).mkdir(parents=True, exist_ok=True)
    (top / "SPEAKERS.TXT").write_text(
        "; ID  |SEX| SUBSET | MINUTES | NAME\n19 | F | train-clean-100 | 25.19 | Kara\n"
        "26 | M | train-clean-100 | 25.08 | Denny\n"
    )
    voices = []
    for spk, chapter in (("19", "198"), ("26", "495")):
        folder = top / "train-clean-100" / spk / chapter
        lines = []
        for n in range(2):
            utt = f"{spk}-{chapter}-{n:04d}"
            text = f"UTTERANCE {n} OF SPEAKER {spk}"
            _wav(folder / f"{utt}.flac", 1.0 + 0.3 * n, int(spk) * 10 + n, fmt="FLAC")
            lines.append(f"{utt} {text}\n")
            gender = {"19": "F", "26": "M"}[spk]
            voices.append(Expected(utt, spk, text, gender, "en", labels={"chapter": chapter}))
        (folder / f"{spk}-{chapter}.trans.txt").write_text("".join(lines))
    return Corpus(top / "train-clean-100", voices)


def vctk(root: Path) -> Corpus:
    top = root / "VCTK-Corpus"
    (top / "txt" / "p225").mkdir(parents=True)
    (top / "speaker-info.txt").write_text(
        "ID  AGE  GENDER  ACCENTS  REGION\n225  23  F    English    Southern  England\n"
    )
    voices = []
    for n in (1, 2):
        stem = f"p225_{n:03d}"
        _wav(top / "wav48" / "p225" / f"{stem}.wav", 1.2, 300 + n)
        text = "Please call Stella." if n == 1 else None
        if text:
            (top / "txt" / "p225" / f"{stem}.txt").write_text(text + "\n")
        labels = {"age": "23", "accents": "English", "region": "Southern  England"}
        voices.append(Expected(stem, "p225", text, "F", "en", labels=labels))
    return Corpus(top, voices)


def kaldi(root: Path) -> Corpus:
    """Two recordings cut into segments, with the bad cases a Kaldi directory can hold: a
    pipe command, a segment beyond its recording, a transcript that is not UTF-8, a
    recording that is not there."""
    data = root / "data" / "train"
    audio = root / "audio"
    rec_a = _wav(audio / "rec_a.wav", 6.0, 401)
    rec_b = _wav(audio / "rec_b.wav", 3.0, 402)
    data.mkdir(parents=True)
    (data / "wav.scp").write_text(
        f"rec_a {rec_a}\nrec_b ../../audio/rec_b.wav\n"
        "rec_c sox /corpus/rec_c.flac -t wav - |\nrec_d /nowhere/rec_d.wav\n"
    )
    (data / "segments").write_text(
        "spk1-a-01 rec_a 0.50 2.00\nspk1-a-02 rec_a 2.5 4.75\nspk2-b-01 rec_b 0 3.0\n"
        "spk2-b-02 rec_b 1.0 9.0\nspk2-c-01 rec_c 0 1\nspk2-d-01 rec_d 0 1\n"
        "spk1-a-03 rec_a 5.0 6.0\n"
    )
    (data / "text").write_bytes(
        b"spk1-a-01 HELLO THERE\nspk1-a-02 GENERAL KENOBI\nspk2-b-01 THE WHOLE OF IT\n"
        b"spk2-b-02 TOO LONG\nspk2-c-01 A PIPE\nspk2-d-01 NOT HERE\nspk1-a-03 BAD \xff\xfe BYTES\n"
    )
    (data / "utt2spk").write_text(
        "spk1-a-01 spk1\nspk1-a-02 spk1\nspk1-a-03 spk1\nspk2-b-01 spk2\nspk2-b-02 spk2\n"
        "spk2-c-01 spk2\nspk2-d-01 spk2\n"
    )
    (data / "spk2gender").write_text("spk1 m\nspk2 f\n")
    lab = {"kaldi_recording": "rec_a"}
    voices = [
        Expected("spk1-a-01", "spk1", "HELLO THERE", "m", None, (0.5, 2.0), lab),
        Expected("spk1-a-02", "spk1", "GENERAL KENOBI", "m", None, (2.5, 4.75), lab),
        # covers its whole recording: the recording itself, no segment
        Expected(
            "spk2-b-01", "spk2", "THE WHOLE OF IT", "f", None, None, {"kaldi_recording": "rec_b"}
        ),
    ]
    rejected = {
        "spk2-b-02": "segment_out_of_range",
        "spk2-c-01": "pipe_command",
        "spk2-d-01": "missing",
        "spk1-a-03": "bad_text",
    }
    return Corpus(data, voices, rejected, {"rec_a": rec_a, "rec_b": rec_b})


def nemo(root: Path) -> Corpus:
    audio = root / "clips"
    rows = [
        {
            "audio_filepath": str(_wav(audio / "a.wav", 1.5, 501)),
            "duration": 1.5,
            "text": "first clip",
            "lang": "de",
            "speaker": "anna",
            "emotion": "calm",
        },
        {
            "audio_filepath": "clips/b.wav",
            "duration": 1.0,
            "text": "zweiter teil",
            "speaker": "ben",
        },
        {
            "audio_filepath": "clips/long.wav",
            "offset": 0.25,
            "duration": 1.0,
            "text": "a segment",
            "speaker": "ben",
        },
        {"audio_filepath": "clips/gone.wav", "duration": 1.0, "text": "missing"},
    ]
    _wav(audio / "b.wav", 1.0, 502)
    long = _wav(audio / "long.wav", 3.0, 503)
    manifest = root / "train_manifest.json"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    voices = [
        Expected("a.wav", "anna", "first clip", None, "de", labels={"emotion": "calm"}),
        Expected("b.wav", "ben", "zweiter teil", None, None),
        Expected("long.wav", "ben", "a segment", None, None, (0.25, 1.25)),
    ]
    return Corpus(manifest, voices, {"train_manifest.json:4": "missing"}, {"long": long})


def hf_parquet(root: Path) -> Corpus:
    rows = []
    voices = []
    for n, (spk, lang, gender) in enumerate((("s1", "fr", "female"), ("s2", "fr", "male"))):
        text = f"phrase numéro {n}"
        rows.append(
            {
                "audio": {"bytes": _wav_bytes(1.0 + 0.2 * n, 600 + n), "path": f"clip_{n}.wav"},
                "sentence": text,
                "client_id": spk,
                "locale": lang,
                "gender": gender,
                "accent": "québécois",
                "up_votes": n + 2,
            }
        )
        voices.append(
            Expected(
                f"clip_{n}.wav",
                spk,
                text,
                gender,
                lang,
                labels={"accent": "québécois", "up_votes": str(n + 2)},
            )
        )
    rows.append(
        {
            "audio": {"bytes": None, "path": None},
            "sentence": "no audio",
            "client_id": "s3",
            "locale": "fr",
            "gender": None,
            "accent": None,
            "up_votes": 0,
        }
    )
    path = root / "data" / "train-00000-of-00001.parquet"
    path.parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), path)
    return Corpus(root / "data", voices, {f"{path.name}:3": "missing"})


def lhotse_pair(root: Path) -> Corpus:
    from lhotse import Recording, RecordingSet, SupervisionSegment, SupervisionSet

    rec = _wav(root / "audio" / "talk.wav", 4.0, 701)
    recordings = RecordingSet.from_recordings([Recording.from_file(rec, recording_id="talk")])
    sups = SupervisionSet.from_segments(
        [
            SupervisionSegment(
                "talk-1",
                "talk",
                0.2,
                1.3,
                text="one part",
                speaker="lee",
                language="English",
                gender="f",
                custom={"topic": "weather"},
            ),
            SupervisionSegment(
                "talk-2",
                "talk",
                2.0,
                1.5,
                text="another part",
                speaker="lee",
                language="English",
                gender="f",
            ),
            SupervisionSegment("talk-3", "talk", 3.5, 2.0, text="past the end", speaker="lee"),
        ]
    )
    out = root / "manifests"
    out.mkdir()
    recordings.to_file(out / "corpus_recordings.jsonl.gz")
    sups.to_file(out / "corpus_supervisions.jsonl.gz")
    voices = [
        Expected("talk-1", "lee", "one part", "f", "English", (0.2, 1.5), {"topic": "weather"}),
        Expected("talk-2", "lee", "another part", "f", "English", (2.0, 3.5)),
    ]
    return Corpus(out, voices, {"talk-3": "segment_out_of_range"}, {"talk": rec})


BUILDERS = {
    "librispeech": librispeech,
    "vctk": vctk,
    "kaldi": kaldi,
    "nemo": nemo,
    "hf": hf_parquet,
    "lhotse": lhotse_pair,
}
