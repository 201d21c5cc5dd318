import numpy as np

from voxlake import pipeline
from voxlake.features.mel import MelConfig, log_mel, mel_filterbank


def test_log_mel_matches_librosa_with_the_same_config() -> None:
    import librosa

    cfg = MelConfig()
    x = np.random.default_rng(0).normal(0, 0.1, 16000 * 2).astype(np.float32)
    ours = log_mel(x, cfg)
    ref = librosa.feature.melspectrogram(
        y=x,
        sr=cfg.sample_rate,
        n_fft=cfg.n_fft,
        hop_length=cfg.hop_length,
        win_length=cfg.win_length,
        n_mels=cfg.n_mels,
        fmin=cfg.fmin,
        fmax=cfg.fmax,
        power=cfg.power,
        center=True,
        pad_mode="constant",
    )
    ref_log = np.log(np.maximum(ref, cfg.floor)).T
    assert ours.shape == ref_log.shape == (201, 128)
    assert float(np.max(np.abs(ours - ref_log))) < 1e-3


def test_filterbank_matches_librosa() -> None:
    import librosa

    ours = mel_filterbank(16000, 400, 128, 0.0, 8000.0)
    ref = librosa.filters.mel(sr=16000, n_fft=400, n_mels=128, fmin=0.0, fmax=8000.0)
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-7)


def test_fingerprint_follows_the_config() -> None:
    assert pipeline.mel_fingerprint(MelConfig()) == pipeline.mel_fingerprint(MelConfig())
    assert pipeline.mel_fingerprint(MelConfig()) != pipeline.mel_fingerprint(MelConfig(n_mels=80))


def test_log_mel_is_deterministic_and_finite_on_silence() -> None:
    x = np.zeros(1600, np.float32)
    a, b = log_mel(x), log_mel(x)
    assert a.tobytes() == b.tobytes()
    assert np.all(np.isfinite(a)) and np.allclose(a, np.log(1e-10))
