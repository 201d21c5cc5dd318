"""The demo corpus (natural speech where flite is installed) and how the demo reports gains."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import soundfile as sf

from voxlake.audio.denoise_picture import denoise_picture
from voxlake.demo import corpus, flite
from voxlake.demo.scoring import PairScore, gain_report, gain_table
from voxlake.lake.store import Lake

needs_flite = pytest.mark.skipif(not flite.available(), reason="flite is not installed")


@needs_flite
def test_flite_corpus_is_natural_speech_with_text_and_repeatable(tmp_path: Path) -> None:
    a = corpus.generate(tmp_path / "a", tmp_path / "ca", 8, 6, seed=3, speech="flite")
    b = corpus.generate(tmp_path / "b", tmp_path / "cb", 8, 6, seed=3, speech="flite")
    assert {v.speaker for v in a} == set(flite.VOICES)  # at most four: flite's voices
    assert {v.noise for v in a} >= {"white", "pink"}
    assert all(v.text and v.text.endswith(".") for v in a)
    for va in a:
        assert (tmp_path / "a" / va.file_name).read_bytes() == (
            tmp_path / "b" / va.file_name
        ).read_bytes()
        info = sf.info(str(tmp_path / "a" / va.file_name))
        assert info.samplerate == va.sample_rate and 1.5 < info.duration < 8
        labels = json.loads((tmp_path / "a" / va.file_name).with_suffix(".json").read_text())
        assert labels == {"speaker": va.speaker, "source": "demo", "text": va.text}
    assert [v.file_name for v in a] == [v.file_name for v in b]


def test_speech_source_falls_back_to_the_synthesizer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(flite, "available", lambda: False)
    assert corpus.speech_source("auto") == "synthetic"
    with pytest.raises(RuntimeError, match="apt install flite"):
        corpus.speech_source("flite")


def _score(noise: str, snr: float, gain: float) -> PairScore:
    return PairScore(f"{noise}{snr}", noise, snr, 0.0, gain)


def test_gain_table_by_noise_and_band_names_where_the_denoiser_loses() -> None:
    scores = [
        _score("white", 5, 10.0),
        _score("white", 15, 4.0),
        _score("babble", 5, -2.0),
        _score("babble", 6, -4.0),
    ]
    table = {(g.noise, g.band): (g.n, g.mean_gain) for g in gain_table(scores)}
    assert table[("white", "0-10 dB")] == (1, 10.0)
    assert table[("babble", "0-10 dB")] == (2, -3.0)
    assert table[("all", "all")] == (4, 2.0)
    assert ("babble", "10-20 dB") not in table
    text = "\n".join(gain_report(scores))
    assert "makes these worse: babble at 0-10 dB (-3.0 dB)" in text and "white at" not in text


def test_the_before_after_picture_is_a_png_of_the_first_voice(processed_lake: Lake) -> None:
    (batch,) = processed_lake.table_batches("denoise_metrics")
    picture = denoise_picture(processed_lake, batch)
    assert picture is not None and picture.png.startswith(b"\x89PNG")
    first = min(processed_lake.read_table("denoise_metrics", batch)["voice_id"].to_pylist())
    assert picture.voice_id == first
