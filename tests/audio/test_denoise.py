import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from voxlake import pipeline
from voxlake.audio.decode import resample
from voxlake.audio.denoise import DeepFilterRuntime, DenoiseConfig, denoise
from voxlake.demo.corpus import mix_at_snr, si_sdr
from voxlake.demo.synth import BASE_RATE, Speaker, synthesize


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


def fingerprint(config: DenoiseConfig) -> str:
    return pipeline.DENOISE.fingerprint(pipeline.PipelineConfig(denoise=config))


def test_parameters_are_in_the_fingerprint() -> None:
    assert fingerprint(DenoiseConfig()) == fingerprint(DenoiseConfig())
    assert fingerprint(DenoiseConfig()) != fingerprint(DenoiseConfig(atten_lim_db=20.0))
    assert fingerprint(DenoiseConfig()) != fingerprint(DenoiseConfig(post_filter_beta=0.02))


def _write(path, x, sr):
    import soundfile as sf

    sf.write(path, x, sr, subtype="FLOAT")
    return path


def test_streamed_file_is_aligned_full_length_and_forks_are_pristine(tmp_path) -> None:
    import soundfile as sf

    from voxlake.audio.fork_server import ForkingDenoiser
    from voxlake.audio.stream import BLOCK, denoise_file
    from voxlake.lake.hashing import hash_array

    rng = np.random.default_rng(7)
    x22 = resample(_speech(8, 6.0), 48000, 22050)  # longer than one decode block
    assert len(x22) > BLOCK
    src_a = _write(tmp_path / "a.wav", x22 + 0.01 * rng.standard_normal(len(x22)), 22050)
    src_b = _write(tmp_path / "b.wav", resample(_speech(9, 2.0), 48000, 16000), 16000)

    def forking(src, dst):
        row = denoiser(src, dst)
        assert row.pop("worker_peak_rss_mb") > 0
        return row

    denoiser = ForkingDenoiser()
    first = forking(src_b, tmp_path / "b1.flac")  # the worker has seen a voice before a
    got = forking(src_a, tmp_path / "a1.flac")
    with DeepFilterRuntime() as fresh:
        want = denoise_file(src_a, tmp_path / "a2.flac", fresh)
    assert got == want  # bit-identical to a fresh runtime: same hash, same metrics
    assert forking(src_b, tmp_path / "b2.flac") == first
    # stored at the source's rate, exactly as long as the source, and aligned with it
    y, sr = sf.read(tmp_path / "a1.flac", dtype="float32")
    assert sr == got["sample_rate"] == 22050 and len(y) == got["frames"] == len(x22)
    assert got["content_hash"] == hash_array(y)
    lags = range(-220, 221, 4)
    corr = [float(np.dot(np.roll(y, -lag)[2000:-2000], x22[2000:-2000])) for lag in lags]
    assert list(lags)[int(np.argmax(corr))] == 0
    # at the model's rate by config: 48 kHz, the resampled input's length, aligned too
    with DeepFilterRuntime() as fresh:
        model = denoise_file(src_a, tmp_path / "a48.flac", fresh, output_rate="model")
    y48, sr48 = sf.read(tmp_path / "a48.flac", dtype="float32")
    ref = resample(x22, 22050, 48000)
    assert sr48 == model["sample_rate"] == 48000 and len(y48) == model["frames"] == len(ref)
    lags = range(-480, 481, 8)
    corr = [float(np.dot(np.roll(y48, -lag)[5000:-5000], ref[5000:-5000])) for lag in lags]
    assert list(lags)[int(np.argmax(corr))] == 0
    # the stored source-rate voice is the model's output taken down to that rate
    down = resample(y48, 48000, 22050)[: len(y)]
    assert np.max(np.abs(down - y)) < 1e-3


def test_the_fork_honours_the_config_and_its_server_holds_the_runtime_alone(tmp_path) -> None:
    """The server sets up libDF itself (it imports no numpy): a fork's output with a
    config's attenuation limit and post-filter is a fresh `DeepFilterRuntime`'s, byte for
    byte; and the server maps no numpy and no audio library."""
    from voxlake.audio.fork_server import ForkingDenoiser
    from voxlake.audio.stream import denoise_file

    rng = np.random.default_rng(12)
    x = resample(_speech(12, 2.0), 48000, 16000)
    src = _write(tmp_path / "v.wav", x + 0.05 * rng.standard_normal(len(x)), 16000)
    config = DenoiseConfig(atten_lim_db=12.0, post_filter_beta=0.02, passthrough_depth_db=0.0)
    denoiser = ForkingDenoiser(config)
    got = denoiser(src, tmp_path / "fork.flac")
    got.pop("worker_peak_rss_mb")
    with DeepFilterRuntime(config) as fresh:
        want = denoise_file(src, tmp_path / "fresh.flac", fresh, 0.0)
    assert got == want
    with DeepFilterRuntime() as default:
        assert (
            denoise_file(src, tmp_path / "d.flac", default, 0.0)["content_hash"]
            != got["content_hash"]
        )
    maps = Path(f"/proc/{denoiser.server_pid}/maps")
    if maps.exists():  # Linux
        mapped = maps.read_text()
        assert "libdf" in mapped.lower() or "deepfilter" in mapped.lower()
        for lib in ("numpy", "sndfile", "soxr", "blake3"):
            assert lib not in mapped, f"the denoise server maps {lib}"
    denoiser.close()


def test_a_failing_file_is_reported_not_fatal(tmp_path) -> None:
    import pytest

    from voxlake.audio.fork_server import ForkingDenoiser

    (tmp_path / "bad.wav").write_bytes(b"RIFF nonsense")
    with pytest.raises(RuntimeError, match="Error"):
        ForkingDenoiser()(tmp_path / "bad.wav", tmp_path / "out.flac")


def test_an_already_clean_voice_is_passed_through(tmp_path) -> None:
    import soundfile as sf

    from voxlake.audio.fork_server import ForkingDenoiser
    from voxlake.audio.stream import denoise_file, floor_depth_db
    from voxlake.demo.corpus import pink_noise

    rng = np.random.default_rng(3)
    speech = resample(_speech(4, 4.0), 48000, 16000).astype(np.float64)
    clean = _write(
        tmp_path / "clean.wav", mix_at_snr(speech, pink_noise(len(speech), rng), 55), 16000
    )
    noisy = _write(
        tmp_path / "noisy.wav", mix_at_snr(speech, rng.standard_normal(len(speech)), 20), 16000
    )
    padded = np.concatenate([np.zeros(16000), sf.read(noisy)[0]])  # digital silence is no floor
    padded_path = _write(tmp_path / "padded.wav", padded, 16000)
    assert floor_depth_db(clean) > 45 > 30 > floor_depth_db(noisy)
    assert abs(floor_depth_db(padded_path) - floor_depth_db(noisy)) < 3

    denoiser = ForkingDenoiser(DenoiseConfig())  # passthrough_depth_db 45 by default
    row = denoiser(clean, tmp_path / "clean.flac")
    assert row["passthrough"] and np.isfinite(row["local_snr_db"])
    y, sr = sf.read(tmp_path / "clean.flac", dtype="float64")
    want = sf.read(clean, dtype="float64")[0]
    assert sr == 16000 and len(y) == len(want) and np.max(np.abs(y - want)) < 2e-7  # the input
    for src in (noisy, padded_path):
        assert not denoiser(src, tmp_path / "n.flac")["passthrough"]
    with DeepFilterRuntime() as rt:  # 0 switches it off: every voice is denoised
        assert not denoise_file(clean, tmp_path / "off.flac", rt, 0.0)["passthrough"]
    assert fingerprint(DenoiseConfig()) != fingerprint(DenoiseConfig(passthrough_depth_db=0.0))


ORPHAN = """
import os, sys, numpy as np, soundfile as sf
from voxlake.audio.fork_server import ForkingDenoiser
src, dst, marker = sys.argv[1:]
sf.write(src, np.random.default_rng(0).normal(0, 0.1, 16000 * 60).astype("float32"), 16000)
d = ForkingDenoiser()
d.ping()  # the server is up
print("ready", d.server_pid, flush=True)
try:
    d(src, dst)
except Exception:
    pass  # as the pipeline does: one voice failed, the batch goes on
open(marker, "w").write(str(os.getpid()))  # a process that went on with the batch
"""


@pytest.mark.slow
def test_a_denoise_fork_dies_with_its_killed_parent(tmp_path: Path) -> None:
    """A killed run leaves nothing running: its denoise server and the server's fork die
    with it (the fork denoising a minute of audio would otherwise run on for seconds)."""
    marker = tmp_path / "returned"
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            ORPHAN,
            str(tmp_path / "in.wav"),
            str(tmp_path / "out.flac"),
            str(marker),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    word, server = parent.stdout.readline().split()
    assert word == "ready"
    time.sleep(1.0)  # the server's fork is denoising a minute of audio
    forks = [p for p in Path("/proc").glob("[0-9]*") if _parent_of(p) == int(server)]
    assert forks, "the server forked no child for the file"
    parent.kill()
    parent.wait()
    time.sleep(3.0)
    alive = [p.name for p in [Path(f"/proc/{server}"), *forks] if _running(p)]
    assert not alive, f"processes {alive} outlived the killed run"
    time.sleep(12.0)  # longer than a fork needs to finish that minute
    assert not marker.exists(), f"process {marker.read_text()} carried on as the killed run"


def _parent_of(proc: Path) -> int:
    try:
        return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return -1


def _running(proc: Path) -> bool:
    """Alive, not a zombie (a zombie has exited; it waits only for its reaper)."""
    try:
        return (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_voice_gives_the_same_bytes_wherever_it_falls_in_a_batch(tmp_path: Path) -> None:
    """First in a batch, in the middle of one, just after a long voice, on one worker or
    two: the stored file is the same, byte for byte."""
    from voxlake.parallel import map_voices
    from voxlake.stage import VoiceJob, VoiceOutput

    rng = np.random.default_rng(11)
    voices = {}
    for name, seed, seconds, sr in (
        ("a", 20, 1.0, 16000),
        ("b", 21, 2.0, 22050),
        ("v", 22, 1.5, 16000),
    ):
        x = resample(_speech(seed, seconds), 48000, sr)
        voices[name] = _write(tmp_path / f"{name}.wav", x + 0.02 * rng.standard_normal(len(x)), sr)
    long = resample(_speech(23, 12.0), 48000, 44100)  # several decode blocks
    voices["long"] = _write(
        tmp_path / "long.wav", long + 0.05 * rng.standard_normal(len(long)), 44100
    )
    settings = pipeline.DenoiseSettings(DenoiseConfig())

    def batch(order: list[str], workers: int, tag: str) -> bytes:
        jobs = [
            VoiceJob(n, str(voices[n]), str(tmp_path / tag / f"{i}-{n}.flac"), settings)
            for i, n in enumerate(order)
        ]
        results = map_voices(pipeline.denoise_voice, jobs, workers)
        assert all(isinstance(r, VoiceOutput) for r in results)
        return (tmp_path / tag / f"{order.index('v')}-v.flac").read_bytes()

    first = batch(["v", "a", "b"], 1, "first")
    assert batch(["a", "b", "v", "a"], 1, "middle") == first
    assert batch(["long", "v"], 1, "after_long") == first
    assert batch(["a", "long", "v", "b"], 2, "two_workers") == first


def test_a_fork_denoises_several_voices_each_on_a_pristine_runtime_of_its_own(
    tmp_path: Path,
) -> None:
    """A fork holds `VOICES_PER_FORK` pristine runtimes and takes one voice on each: every
    voice is bit-identical to a fresh runtime's, whichever runtime of which fork took it. A
    fork killed between two voices is replaced; the next voice does not fail."""
    import os
    import signal

    from voxlake.audio.fork_model import VOICES_PER_FORK
    from voxlake.audio.fork_server import ForkingDenoiser, denoise_with

    rng = np.random.default_rng(13)
    srcs = []
    for i, (seconds, sr) in enumerate(((1.0, 16000), (2.5, 22050), (0.7, 44100))):
        x = resample(_speech(40 + i, seconds), 48000, sr)
        srcs.append(_write(tmp_path / f"v{i}.wav", x + 0.03 * rng.standard_normal(len(x)), sr))
    config = DenoiseConfig()
    want = []
    for i, src in enumerate(srcs):
        with DeepFilterRuntime(config) as fresh:
            want.append(denoise_with(fresh, config, src, tmp_path / f"fresh{i}.flac"))
    denoiser = ForkingDenoiser(config)
    n = VOICES_PER_FORK + 2
    for k in range(n):
        got = denoiser(srcs[k % 3], tmp_path / f"fork{k}.flac")
        got.pop("worker_peak_rss_mb")
        assert got == want[k % 3], k
    assert denoiser.forks_started == 2  # the second fork has voices left
    server = denoiser.server_pid
    (fork,) = [p for p in Path("/proc").glob("[0-9]*") if _parent_of(p) == server]
    os.kill(int(fork.name), signal.SIGKILL)  # between two voices
    for _ in range(100):
        if not _running(fork):
            break
        time.sleep(0.02)
    got = denoiser(srcs[0], tmp_path / "after.flac")
    assert got["content_hash"] == want[0]["content_hash"]
    assert denoiser.forks_started == 3 and denoiser.server_pid == server
    denoiser.close()
    one_each = ForkingDenoiser(config, voices_per_fork=1)  # a fork per voice: the same bytes
    for k in range(3):
        assert (
            one_each(srcs[k], tmp_path / f"one{k}.flac")["content_hash"] == want[k]["content_hash"]
        )
    assert one_each.forks_started == 3
    one_each.close()


def test_a_killed_denoise_server_is_replaced_without_losing_a_voice(tmp_path: Path) -> None:
    import os
    import signal

    from voxlake.audio.fork_server import ForkingDenoiser

    src = _write(tmp_path / "v.wav", resample(_speech(30, 1.0), 48000, 16000), 16000)
    denoiser = ForkingDenoiser()
    want = denoiser(src, tmp_path / "a.flac")["content_hash"]
    first = denoiser.server_pid
    assert first is not None
    os.kill(first, signal.SIGKILL)  # the OOM killer, say, between two voices
    assert denoiser(src, tmp_path / "b.flac")["content_hash"] == want
    assert denoiser.server_pid not in (None, first)
    denoiser.close()


def test_a_fork_that_dies_mid_voice_fails_that_voice_alone(tmp_path: Path) -> None:
    """The fork runs only the model, over frames the worker streams to it: when it dies
    (killed mid-voice), that voice fails with the reason; its server lives on and the next
    voice gets a pristine fork."""
    import os
    import signal
    import threading

    from voxlake.audio.fork_server import ForkingDenoiser

    short = _write(tmp_path / "v.wav", resample(_speech(31, 1.0), 48000, 16000), 16000)
    long = np.random.default_rng(1).normal(0, 0.1, 16000 * 60)
    src = _write(tmp_path / "long.wav", long, 16000)
    denoiser = ForkingDenoiser()
    want = denoiser(short, tmp_path / "a.flac")["content_hash"]
    server = denoiser.server_pid

    def kill_the_fork() -> None:
        for _ in range(200):
            forks = [p for p in Path("/proc").glob("[0-9]*") if _parent_of(p) == server]
            if forks:
                os.kill(int(forks[0].name), signal.SIGKILL)
                return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_the_fork)
    killer.start()
    with pytest.raises(RuntimeError, match="the denoise fork died"):
        denoiser(src, tmp_path / "long.flac")
    killer.join()
    assert not (tmp_path / "long.flac").exists()  # nothing half-written is left
    assert denoiser.server_pid == server
    assert denoiser(short, tmp_path / "b.flac")["content_hash"] == want
    denoiser.close()
