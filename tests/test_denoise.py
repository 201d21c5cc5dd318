import numpy as np

from voxlake.audio import resample
from voxlake.corpus import mix_at_snr, si_sdr
from voxlake.denoise import DeepFilterRuntime, DenoiseConfig, denoise, fingerprint
from voxlake.synth import BASE_RATE, Speaker, synthesize


def _speech(seed: int = 0, seconds: float = 3.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return resample(synthesize(Speaker.random("s", rng), seconds, rng), BASE_RATE, 48000)


def test_output_is_as_long_as_the_input_and_bit_identical_run_to_run() -> None:
    x = _speech()[: 48000 * 2 + 123]
    a, b = denoise(x), denoise(x)
    assert len(a.audio) == len(x)
    assert a.audio.tobytes() == b.audio.tobytes()
    assert np.isfinite(a.local_snr_db)


def test_output_is_aligned_with_the_input() -> None:
    x = _speech(1)
    y = denoise(x).audio
    lags = range(-960, 961, 4)
    corr = [float(np.dot(np.roll(y, -lag)[5000:-5000], x[5000:-5000])) for lag in lags]
    assert list(lags)[int(np.argmax(corr))] == 0


def test_denoising_improves_si_sdr_on_white_noise() -> None:
    x = _speech(2).astype(np.float64)
    noisy = mix_at_snr(x, np.random.default_rng(3).standard_normal(len(x)), 0.0)
    y = denoise(noisy.astype(np.float32)).audio
    assert si_sdr(x, y) - si_sdr(x, noisy) > 3.0


def test_a_voice_does_not_depend_on_what_the_worker_processed_before() -> None:
    x, other = _speech(4), _speech(5)
    fresh = denoise(x).audio
    with DeepFilterRuntime() as rt:
        rt.process(other)
    assert denoise(x).audio.tobytes() == fresh.tobytes()


def test_parameters_are_in_the_fingerprint() -> None:
    assert fingerprint(DenoiseConfig()) == fingerprint(DenoiseConfig())
    assert fingerprint(DenoiseConfig()) != fingerprint(DenoiseConfig(atten_lim_db=20.0))
    assert fingerprint(DenoiseConfig()) != fingerprint(DenoiseConfig(post_filter_beta=0.02))
