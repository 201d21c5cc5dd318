"""The demo corpus: speakers, noisy recordings, clean references, a few bad files.

The speech is natural where `flite` is installed (its recorded voices saying Harvard
sentences, with the text as a label), else the source-filter synthesizer's. Everything is
derived from one seed: the same seed (and speech source) gives the same bytes. Noisy voices go
to the inbox with a label sidecar; their clean references (same length and rate) go to a
folder beside it, for measuring the denoiser. The manifest `corpus.json` ties them up.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from voxlake.audio.decode import resample
from voxlake.demo import flite
from voxlake.demo.synth import BASE_RATE, Speaker, synthesize
from voxlake.lake.hashing import derive_seed

SAMPLE_RATES = (16_000, 22_050, 44_100, 48_000)
NOISES = ("white", "pink", "babble", "hum")
ROOM_TONE_DB = 50.0
BAD_FILES = {
    "bad_empty.wav": "empty",
    "bad_truncated.wav": "undecodable",
    "bad_not_audio.wav": "undecodable",
    "bad_silent.wav": "silent",
}


@dataclass(frozen=True)
class DemoVoice:
    file_name: str
    speaker: str
    noise: str
    snr_db: float
    sample_rate: int
    duration_s: float
    clean_path: str
    text: str | None = None


def speech_source(choice: str = "auto") -> str:
    """`flite` (natural speech) where it is installed, else `synthetic`."""
    if choice == "auto":
        return "flite" if flite.available() else "synthetic"
    if choice == "flite" and not flite.available():
        raise RuntimeError("flite is not installed (apt install flite)")
    if choice not in ("flite", "synthetic"):
        raise ValueError(f"unknown speech source {choice!r}")
    return choice


def _flite_speech(voice: str, i: int, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """One or two Harvard sentences by a Flite voice, at flite.RATE, and their text."""
    sentences = flite.TARGET_SENTENCES
    said = [sentences[(i + j) % len(sentences)] for j in range(1 + int(rng.integers(2)))]
    return np.concatenate([flite.utterance(voice, t) for t in said]), " ".join(said)


def _flite_babble(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    x = flite.babble(n / sr + 0.1, 5, rng)
    return resample(x.astype(np.float32), flite.RATE, sr)[:n].astype(np.float64)


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spec), dtype=np.float64)
    f[0] = 1.0
    return np.fft.irfft(spec / np.sqrt(f), n)


def make_noise(
    kind: str, n: int, sr: int, rng: np.random.Generator, speakers: list[Speaker]
) -> np.ndarray:
    if kind == "white":
        return rng.standard_normal(n)
    if kind == "pink":
        return pink_noise(n, rng)
    if kind == "hum":
        t = np.arange(n) / sr
        mains = 50.0 if rng.random() < 0.5 else 60.0
        hum = np.zeros(n)
        for h in range(1, 8):
            hum += np.sin(2 * np.pi * mains * h * t + rng.uniform(0, 6.3)) / h
        return hum
    if kind == "babble":
        out = np.zeros(n)
        for _ in range(5):
            talker = speakers[rng.integers(len(speakers))]
            x = synthesize(talker, n / sr + 0.1, rng).astype(np.float64)
            x = resample(x.astype(np.float32), BASE_RATE, sr)[:n]
            out[: len(x)] += x
        return out
    raise ValueError(f"unknown noise {kind!r}")


def mix_at_snr(clean: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    p_clean = np.mean(clean.astype(np.float64) ** 2)
    p_noise = np.mean(noise.astype(np.float64) ** 2) or 1.0
    return clean + noise * np.sqrt(p_clean / (p_noise * 10 ** (snr_db / 10)))


def generate(
    out_dir: Path,
    clean_dir: Path,
    n_voices: int = 24,
    n_speakers: int = 6,
    seed: int = 0,
    bad_files: bool = True,
    speech: str = "synthetic",
) -> list[DemoVoice]:
    """Write n_voices noisy voices (+ sidecars) into out_dir and references into clean_dir.

    `speech`: `flite`, `synthetic` or `auto` (flite where installed). With flite the
    speakers are its voices (at most four).
    """
    natural = speech_source(speech) == "flite"
    out_dir.mkdir(parents=True, exist_ok=True)
    clean_dir.mkdir(parents=True, exist_ok=True)
    srng = np.random.default_rng(derive_seed("demo-speakers", seed))
    speakers = [Speaker.random(f"spk{i:02d}", srng) for i in range(max(n_speakers, 1))]
    names = list(flite.VOICES[: max(1, min(n_speakers, len(flite.VOICES)))])
    voices = []
    for i in range(n_voices):
        rng = np.random.default_rng(derive_seed("demo-voice", seed, i))
        spk = speakers[i % len(speakers)]
        sr = int(SAMPLE_RATES[i % len(SAMPLE_RATES)])
        text = None
        if natural:
            speaker = names[i % len(names)]
            noise_kind = NOISES[(i // len(names)) % len(NOISES)]
            snr = float(np.round(rng.uniform(0, 20), 1))
            said, text = _flite_speech(speaker, i, rng)
            clean = resample(said.astype(np.float32), flite.RATE, sr).astype(np.float64)
            duration = len(clean) / sr
        else:
            speaker = spk.name
            duration = float(rng.uniform(2.0, 8.0))
            noise_kind = NOISES[(i // len(speakers)) % len(NOISES)]
            snr = float(np.round(rng.uniform(0, 20), 1))
            clean = resample(synthesize(spk, duration, rng), BASE_RATE, sr).astype(np.float64)
        # room tone 50 dB below the speech: no real recording has digital silence
        clean = mix_at_snr(clean, pink_noise(len(clean), rng), ROOM_TONE_DB)
        if natural and noise_kind == "babble":
            noise = _flite_babble(len(clean), sr, rng)
        else:
            noise = make_noise(noise_kind, len(clean), sr, rng, speakers)
        noisy = mix_at_snr(clean, noise, snr)
        gain = 0.7 / max(np.max(np.abs(noisy)), 1e-9)
        name = f"{speaker}_utt{i:03d}"
        fmt = "FLAC" if i % 5 == 4 else "WAV"
        ext = ".flac" if fmt == "FLAC" else ".wav"
        sf.write(out_dir / f"{name}{ext}", noisy * gain, sr, subtype="PCM_16", format=fmt)
        sf.write(clean_dir / f"{name}.wav", clean * gain, sr, subtype="FLOAT")
        labels = {"speaker": speaker, "source": "demo", **({"text": text} if text else {})}
        (out_dir / f"{name}.json").write_text(json.dumps(labels))
        voices.append(
            DemoVoice(
                f"{name}{ext}",
                speaker,
                noise_kind,
                snr,
                sr,
                duration,
                str(clean_dir / f"{name}.wav"),
                text,
            )
        )
    if bad_files:
        write_bad_files(out_dir, seed)
    manifest = {
        "seed": seed,
        "speech": "flite" if natural else "synthetic",
        "voices": [asdict(v) for v in voices],
        "bad_files": BAD_FILES,
    }
    (clean_dir / "corpus.json").write_text(json.dumps(manifest, indent=2))
    return voices


def write_bad_files(out_dir: Path, seed: int) -> None:
    (out_dir / "bad_empty.wav").write_bytes(b"")
    rng = np.random.default_rng(derive_seed("demo-bad", seed))
    good = out_dir / ".tmp-good.wav"
    sf.write(good, rng.standard_normal(16000).astype(np.float32) * 0.1, 16000, subtype="PCM_16")
    (out_dir / "bad_truncated.wav").write_bytes(good.read_bytes()[:30])
    good.unlink()
    (out_dir / "bad_not_audio.wav").write_text("this is a text file, not a recording\n")
    sf.write(out_dir / "bad_silent.wav", np.zeros(2 * 16000, np.float32), 16000, subtype="PCM_16")


def si_sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Scale-invariant signal-to-distortion ratio in dB (both signals zero-meaned)."""
    ref = np.asarray(reference, np.float64) - np.mean(reference)
    est = np.asarray(estimate, np.float64) - np.mean(estimate)
    n = min(len(ref), len(est))
    ref, est = ref[:n], est[:n]
    alpha = np.dot(est, ref) / (np.dot(ref, ref) or 1e-12)
    target = alpha * ref
    noise = est - target
    return float(10 * np.log10((np.dot(target, target) + 1e-12) / (np.dot(noise, noise) + 1e-12)))
