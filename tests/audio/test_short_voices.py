"""Very short voices: a clear reason when refused, the same bytes every time when kept."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voxlake import pipeline
from voxlake.audio.decode import MODEL_WINDOW_S, AudioLimits, RejectedAudio, measure_audio
from voxlake.audio.denoise import DenoiseConfig
from voxlake.features.mel import MelConfig
from voxlake.stage import VoiceJob, VoiceOutput

SR = 16_000


def _wav(path: Path, x: np.ndarray) -> Path:
    sf.write(path, np.asarray(x, dtype=np.float32), SR, subtype="PCM_16")
    return path


def _reason(path: Path, limits: AudioLimits = AudioLimits()) -> tuple[str, str]:
    with pytest.raises(RejectedAudio) as e:
        measure_audio(path, limits)
    return e.value.reason, e.value.detail


def test_short_empty_and_silent_voices_are_refused_with_their_reason(tmp_path: Path) -> None:
    noise = 0.1 * np.random.default_rng(0).standard_normal(SR)
    anything = AudioLimits(min_duration_s=0.0)
    assert _reason(_wav(tmp_path / "empty.wav", np.zeros(0)), anything)[0] == "empty"
    reason, detail = _reason(_wav(tmp_path / "click.wav", noise[:160]), anything)  # 10 ms
    assert reason == "too_short" and "analysis window" in detail
    reason, detail = _reason(_wav(tmp_path / "short.wav", noise[: SR // 4]))  # the default
    assert reason == "too_short" and "0.5 s" in detail
    assert _reason(_wav(tmp_path / "zeros.wav", np.zeros(SR)))[0] == "silent"
    assert _reason(_wav(tmp_path / "hiss.wav", 1e-5 * noise))[0] == "silent"  # -110 dBFS
    # just over the window, a voice is taken in when the limits allow it
    window = int(MODEL_WINDOW_S * SR)
    measure_audio(_wav(tmp_path / "window.wav", noise[: window + 1]), anything)


def _stages(src: Path, out: Path, tag: str) -> tuple[str, str, str]:
    """The voice's content hash in each stage after raw, as a worker makes them."""
    den, npy = out / f"{tag}.flac", out / f"{tag}.npy"
    settings = pipeline.DenoiseSettings(DenoiseConfig())
    results = [
        pipeline.denoise_voice(VoiceJob(tag, str(src), str(den), settings)),
        pipeline.mel_voice(VoiceJob(tag, str(den), str(npy), MelConfig())),
        pipeline.embed_voice(VoiceJob(tag, str(den), "", "ge2e")),
    ]
    assert all(isinstance(r, VoiceOutput) for r in results), results
    d, m, e = (r.content_hash for r in results if isinstance(r, VoiceOutput))
    return d, m, e


def test_a_kept_short_voice_has_the_same_hashes_every_time(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    speechy = np.sin(2 * np.pi * 220 * np.arange(SR) / SR) * 0.2 + 0.02 * rng.standard_normal(SR)
    voices = {
        "30ms": _wav(tmp_path / "a.wav", speechy[: int(0.03 * SR)]),
        "300ms": _wav(tmp_path / "b.wav", speechy[: int(0.3 * SR)]),
    }
    long = _wav(tmp_path / "long.wav", np.tile(speechy, 6))
    for name, src in voices.items():
        measure_audio(src, AudioLimits(min_duration_s=0.0))  # kept under these limits
        first = _stages(src, tmp_path, f"{name}-first")
        _stages(long, tmp_path, f"{name}-long")  # the worker has just done a long voice
        assert _stages(src, tmp_path, f"{name}-again") == first
        y, sr = sf.read(tmp_path / f"{name}-first.flac")
        assert sr == SR and len(y) == sf.info(src).frames  # as long as the voice
