from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voxlake.audio.decode import AudioLimits, RejectedAudio, read_audio, resample, to_mono, validate


def _reason(path: Path, limits: AudioLimits = AudioLimits()) -> str:
    with pytest.raises(RejectedAudio) as e:
        data, info = read_audio(path)
        validate(data, info, limits)
    return e.value.reason


def test_bad_files_are_rejected_with_their_reason(tmp_path: Path) -> None:
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "text.wav").write_text("not audio")
    sf.write(tmp_path / "silent.wav", np.zeros(16000), 16000)
    sf.write(tmp_path / "short.wav", np.ones(800) * 0.1, 16000)
    sf.write(tmp_path / "nan.wav", np.full(16000, np.nan, np.float32), 16000, subtype="FLOAT")
    sf.write(tmp_path / "long.wav", np.ones(16000 * 3) * 0.1, 16000)
    loud = np.sin(np.arange(16000) / 8.0).astype(np.float32) * 50  # far beyond full scale
    sf.write(tmp_path / "loud.wav", loud, 16000, subtype="FLOAT")
    sf.write(tmp_path / "hot.wav", loud / 40, 16000, subtype="FLOAT")  # peak 1.25: a voice
    assert _reason(tmp_path / "empty.wav") == "empty"
    assert _reason(tmp_path / "text.wav") == "undecodable"
    assert _reason(tmp_path / "silent.wav") == "silent"
    assert _reason(tmp_path / "short.wav") == "too_short"
    assert _reason(tmp_path / "nan.wav") == "non_finite"
    assert _reason(tmp_path / "long.wav", AudioLimits(max_duration_s=2.0)) == "too_long"
    assert _reason(tmp_path / "missing.wav") == "missing"
    assert _reason(tmp_path / "loud.wav") == "too_loud"
    data, info = read_audio(tmp_path / "hot.wav")
    validate(data, info, AudioLimits())  # a float file a little over full scale is kept


def test_good_file_decodes_with_its_info(tmp_path: Path) -> None:
    x = np.random.default_rng(0).normal(0, 0.1, (22050, 2)).astype(np.float32)
    sf.write(tmp_path / "a.flac", x, 22050, subtype="PCM_16")
    data, info = read_audio(tmp_path / "a.flac")
    validate(data, info, AudioLimits())
    assert (info.sample_rate, info.channels, info.frames) == (22050, 2, 22050)
    assert info.format == "FLAC"
    assert to_mono(data).shape == (22050,)
    np.testing.assert_allclose(to_mono(data), data.mean(axis=1), atol=1e-6)


def test_resample_keeps_duration_and_tone() -> None:
    t = np.arange(16000) / 16000
    x = np.sin(2 * np.pi * 440 * t).astype(np.float32)
    y = resample(x, 16000, 48000)
    assert len(y) == 48000
    spec = np.abs(np.fft.rfft(y[4800:-4800]))
    freq = np.argmax(spec) * 48000 / len(y[4800:-4800])
    assert abs(freq - 440) < 3
    assert resample(x, 16000, 16000) is not None and np.array_equal(resample(x, 16000, 16000), x)
