"""Denoise benchmark: DeepFilterNet3 (voxlake's stage) side by side with spectral gating.

    python benchmarks/denoise.py [--quick] [--speech auto|flite|synthetic]
                                 [--only quality|speed|sweep] [--long-file-s S]

Quality: clean speech x noise (white, pink, babble, hum) x input SNR (0, 5, 10, 20 dB),
plus the clean input; speech at 48 kHz with room tone 50 dB below it. The speech is
natural (CMU Flite's recorded voices, benchmarks/speech.py, babble from other sentences)
when `flite` is installed, else voxlake's source-filter voices. For each condition:
SI-SDR gain, DNSMOS P.835 OVRL before and after, STOI and wideband PESQ (when pystoi and
pesq are installed), for DeepFilterNet3 and for `noisereduce` (stationary spectral
gating) on the same files in the same run.

Speed (DNSMOS excluded): the real-time factor per core of the runtime alone (a pristine
state on an in-memory 48 kHz signal) and of the whole stage (decode, resample, denoise,
FLAC write, read-back hash: `denoise_voice` as the pipeline runs it), timed side by side
(the overhead is the median ratio of 5 pairs); throughput with 1
and 2 workers (warm process pools; 3 side-by-side pairs, medians and the median ratio);
peak RSS of a worker denoising a one-hour file.

`--only speed` skips the quality grid (and needs neither flite nor DNSMOS); `--only
quality` skips the timings. `--only sweep` runs the runtime's parameters (attenuation
limit, post-filter beta), one at a time, over held-out voices (other sentences, other
seeds) at 0-10 dB: the evidence for the defaults, never tuned on the reported grid. The
last stdout line is one JSON object, also written to
benchmarks/results/denoise[_quality|_speed|_sweep][_quick].json, so a partial or quick
run never overwrites the full one.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from statistics import mean, median

os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import speech  # noqa: E402

from voxlake.audio import dnsmos  # noqa: E402
from voxlake.audio.decode import resample  # noqa: E402
from voxlake.audio.denoise import DeepFilterRuntime, DenoiseConfig  # noqa: E402
from voxlake.demo.corpus import ROOM_TONE_DB, make_noise, mix_at_snr, pink_noise, si_sdr  # noqa: E402
from voxlake.demo.synth import BASE_RATE, Speaker, synthesize  # noqa: E402
from voxlake.lake.hashing import derive_seed  # noqa: E402
from voxlake.pipeline import DenoiseSettings, denoise_voice  # noqa: E402
from voxlake.stage import VoiceFailure, VoiceJob  # noqa: E402

SR = 48_000
NOISES = ("white", "pink", "babble", "hum")
SNRS = (0.0, 5.0, 10.0, 20.0)


def _seed_tag(split: str) -> str:
    """What a split adds to the names its seeds derive from (nothing for the test split)."""
    return "" if split == "test" else f"-{split}"


def clean_voices(
    n: int, seconds: float, source: str, split: str = "test"
) -> tuple[list[np.ndarray], list[np.ndarray], list[Speaker]]:
    """(references, clean inputs with room tone, speakers of the synthetic babble).

    `split` "test" gives the voices every reported figure is measured on; "dev" gives
    held-out ones (other sentences, other seeds) for choosing parameters."""
    tag = _seed_tag(split)
    rng = np.random.default_rng(derive_seed(f"bench-speakers{tag}"))
    speakers = [Speaker.random(f"b{i}", rng) for i in range(max(n, 4))]
    sentences = speech.TARGET_SENTENCES if split == "test" else speech.DEV_SENTENCES
    refs, inputs = [], []
    for i in range(n):
        r = np.random.default_rng(derive_seed(f"bench-voice{tag}", i))
        if source == "flite":
            voice = speech.VOICES[i % len(speech.VOICES)]
            y = speech.speech(voice, sentences, seconds, 3 * i)
            x = resample(y.astype(np.float32), speech.RATE, SR).astype(np.float64)
        else:
            x = resample(synthesize(speakers[i], seconds, r), BASE_RATE, SR).astype(np.float64)
        refs.append(x)
        inputs.append(mix_at_snr(x, pink_noise(len(x), r), ROOM_TONE_DB))
    return refs, inputs, speakers


def dfn(x: np.ndarray, config: DenoiseConfig = DenoiseConfig()) -> tuple[np.ndarray, bool]:
    """voxlake's denoise stage as the pipeline runs it (a 48 kHz float file in, FLAC out):
    the output and whether the voice was passed through as already clean."""
    with tempfile.TemporaryDirectory(prefix="denoise-bench-") as d:
        src, dst = Path(d) / "in.wav", Path(d) / "out.flac"
        sf.write(src, x.astype(np.float32), SR, subtype="FLOAT")
        out = denoise_voice(VoiceJob("b", str(src), str(dst), DenoiseSettings(config)))
        if isinstance(out, VoiceFailure):
            raise RuntimeError(out.error)
        return sf.read(dst, dtype="float32")[0], bool(out.row["passthrough"])


def peer(x: np.ndarray) -> tuple[np.ndarray, bool]:
    return gate(x), False


def gate(x: np.ndarray) -> np.ndarray:
    import noisereduce

    return np.asarray(
        noisereduce.reduce_noise(y=x, sr=SR, stationary=True, n_jobs=1), dtype=np.float32
    )


def optional_metrics(ref: np.ndarray, est: np.ndarray) -> dict[str, float]:
    out: dict[str, float] = {}
    r16, e16 = (
        resample(ref.astype(np.float32), SR, 16000),
        resample(est.astype(np.float32), SR, 16000),
    )
    try:
        from pystoi import stoi

        out["stoi"] = float(stoi(r16, e16, 16000, extended=False))
    except ImportError:
        pass
    try:
        from pesq import pesq

        out["pesq_wb"] = float(pesq(16000, r16, e16, "wb"))
    except ImportError:
        pass
    except Exception:  # pesq refuses some signals (no utterance detected)
        out["pesq_wb"] = float("nan")
    return out


def mos(x: np.ndarray) -> float:
    return dnsmos.score(resample(np.clip(x, -1, 1).astype(np.float32), SR, 16000)).ovrl


def noise_for(
    kind: str, n: int, source: str, rng: np.random.Generator, speakers: list[Speaker]
) -> np.ndarray:
    if kind == "babble" and source == "flite":
        b = speech.babble(n / SR + 0.1, 6, rng).astype(np.float32)
        return resample(b, speech.RATE, SR)[:n].astype(np.float64)
    return make_noise(kind, n, SR, rng, speakers)


def noisy_inputs(
    n_voices: int, seconds: float, source: str, split: str, snrs: tuple[float, ...] = SNRS
) -> Iterator[tuple[str, float | None, int, np.ndarray, np.ndarray, float]]:
    """(noise, snr, voice, reference, noisy input peaking at 0.7, the gain that brought it
    there) for every condition."""
    refs, inputs, speakers = clean_voices(n_voices, seconds, source, split)
    tag = _seed_tag(split)
    conditions: list[tuple[str, float | None]] = [("clean", None)]
    conditions += [(k, s) for k in NOISES for s in snrs]
    for noise, snr in conditions:
        for i, (ref, clean_in) in enumerate(zip(refs, inputs, strict=True)):
            r = np.random.default_rng(derive_seed(f"bench-noise{tag}", noise, snr, i))
            if snr is None:  # the clean input
                noisy = clean_in
            else:
                noisy = mix_at_snr(clean_in, noise_for(noise, len(ref), source, r, speakers), snr)
            gain = 0.7 / max(np.max(np.abs(noisy)), 1e-9)
            yield noise, snr, i, ref, noisy * gain, gain


def quality(n_voices: int, seconds: float, source: str) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for noise, snr, i, ref, noisy, gain in noisy_inputs(n_voices, seconds, source, "test"):
        scale = gain if noise == "clean" else 1.0  # the clean reference at its input's level
        base = si_sdr(ref, noisy)
        row: dict[str, object] = {
            "noise": noise,
            "snr_db": snr,
            "voice": i,
            "si_sdr_in": base,
            "dnsmos_in": mos(noisy),
        }
        for name, fn in (("dfn", dfn), ("peer", peer)):
            est, passed = fn(noisy)
            row[f"{name}_passthrough"] = float(passed)
            row[f"{name}_si_sdr_gain"] = si_sdr(ref, est) - base
            row[f"{name}_dnsmos"] = mos(est)
            for k, v in optional_metrics(ref * scale, est).items():
                row[f"{name}_{k}"] = v
        rows.append(row)
    return rows


SWEEP = (  # one parameter at a time away from the default
    DenoiseConfig(),
    DenoiseConfig(atten_lim_db=60.0),
    DenoiseConfig(atten_lim_db=40.0),
    DenoiseConfig(atten_lim_db=20.0),
    DenoiseConfig(post_filter_beta=0.02),
    DenoiseConfig(post_filter_beta=0.05),
    DenoiseConfig(post_filter_beta=0.1),
)


def sweep(n_voices: int, seconds: float, source: str) -> list[dict[str, object]]:
    """SI-SDR gain of each `SWEEP` setting on the held-out voices at 0-10 dB: the evidence
    for the defaults, kept apart from the voices the reported figures come from."""
    gains: dict[DenoiseConfig, dict[str, list[float]]] = {c: {} for c in SWEEP}
    inputs = noisy_inputs(n_voices, seconds, source, "dev", snrs=(0.0, 5.0, 10.0))
    for noise, _, _, ref, noisy, _ in inputs:
        if noise == "clean":
            continue
        base = si_sdr(ref, noisy)
        for config in SWEEP:
            est, _ = dfn(noisy, config)
            gains[config].setdefault(noise, []).append(si_sdr(ref, est) - base)
    return [
        {
            "atten_lim_db": c.atten_lim_db,
            "post_filter_beta": c.post_filter_beta,
            "si_sdr_gain_db_median": round(median(g for v in by.values() for g in v), 2),
            **{f"{k}_mean": round(mean(v), 2) for k, v in by.items()},
        }
        for c, by in gains.items()
    ]


def _write_voice(path: Path, seconds: float, sr: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = resample(synthesize(Speaker.random("s", rng), seconds, rng), BASE_RATE, sr)
    sf.write(path, x + 0.01 * rng.standard_normal(len(x)).astype(np.float32), sr)


def speed(tmp: Path, seconds: float, repeats: int) -> tuple[float, float, float]:
    """(rtf of the runtime alone, rtf of the whole stage, median stage/runtime ratio) on
    one file; the two are timed side by side, one pair per repeat."""
    src = tmp / "speed.wav"
    _write_voice(src, seconds, 16000, 1)
    x, _ = sf.read(src, dtype="float32")
    x48 = resample(x, 16000, SR)
    job = VoiceJob("v", str(src), str(tmp / "speed.flac"), DenoiseSettings(DenoiseConfig()))
    denoise_voice(job)  # the worker's runtime is created once, before timing
    runtime_times, stage_times = [], []
    for _ in range(repeats):
        rt = DeepFilterRuntime()
        t = time.perf_counter()
        rt.process(x48)
        runtime_times.append(time.perf_counter() - t)
        rt.close()
        t = time.perf_counter()
        out = denoise_voice(job)
        stage_times.append(time.perf_counter() - t)
        assert not isinstance(out, VoiceFailure), out
    ratio = median(s / r for s, r in zip(stage_times, runtime_times, strict=True))
    return median(runtime_times) / seconds, median(stage_times) / seconds, ratio


def _warm(_: int) -> int:
    from voxlake.pipeline import _denoiser

    _denoiser(DenoiseConfig())
    return os.getpid()


def throughput(tmp: Path, files: int, seconds: float, workers: int) -> float:
    """Voices per second over a warm pool of `workers` processes."""
    jobs = []
    for i in range(files):
        src = tmp / f"tp{i}.wav"
        if not src.exists():
            _write_voice(src, seconds, 16000, 100 + i)
        jobs.append(
            VoiceJob(
                f"v{i}",
                str(src),
                str(tmp / f"tp{i}-{workers}.flac"),
                DenoiseSettings(DenoiseConfig()),
            )
        )
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        list(pool.map(_warm, range(workers * 4)))
        t = time.perf_counter()
        rows = list(pool.map(denoise_voice, jobs, chunksize=1))
        elapsed = time.perf_counter() - t
    assert not any(isinstance(r, VoiceFailure) for r in rows)
    return files / elapsed


def long_file_rss(tmp: Path, seconds: float) -> float:
    """Peak RSS (MB) of a worker (the process and its fork) denoising one long file."""
    src = tmp / "long.wav"
    rng = np.random.default_rng(3)
    piece = resample(synthesize(Speaker.random("l", rng), 10.0, rng), BASE_RATE, 16000)
    with sf.SoundFile(src, "w", 16000, 1, subtype="PCM_16") as f:
        for i in range(int(seconds // 10)):
            f.write(piece + 0.01 * np.random.default_rng(i).standard_normal(len(piece)))
    code = (
        "import sys; sys.path.insert(0, sys.argv[3]);"
        "from voxlake.audio.fork_server import ForkingDenoiser;"
        "from voxlake.audio.stream import peak_rss_mb;"
        "row = ForkingDenoiser()(sys.argv[1], sys.argv[2]);"
        "print(max(peak_rss_mb(), row['worker_peak_rss_mb']))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(src), str(tmp / "long.flac"), str(ROOT)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def summarise(rows: list[dict[str, object]]) -> dict[str, object]:
    def vals(key: str, pred) -> list[float]:  # type: ignore[no-untyped-def]
        return [
            float(r[key])
            for r in rows
            if pred(r)
            and key in r  # type: ignore[arg-type]
            and np.isfinite(float(r[key]))
        ]  # type: ignore[arg-type]

    noisy_0_10 = lambda r: r["noise"] != "clean" and r["snr_db"] <= 10  # noqa: E731
    noisy = lambda r: r["noise"] != "clean"  # noqa: E731
    clean = lambda r: r["noise"] == "clean"  # noqa: E731
    table = {}
    for noise in ("clean", *NOISES):
        for snr in (None,) if noise == "clean" else SNRS:
            sel = [r for r in rows if r["noise"] == noise and r["snr_db"] == snr]
            key = noise if snr is None else f"{noise}@{snr:g}dB"
            table[key] = {
                k: round(mean(float(r[k]) for r in sel), 3)  # type: ignore[arg-type]
                for k in sel[0]
                if k not in ("noise", "snr_db", "voice")
            }
    dnsmos_gain = [float(r["dfn_dnsmos"]) - float(r["dnsmos_in"]) for r in rows if noisy(r)]  # type: ignore[arg-type]
    peer_gain = [float(r["peer_dnsmos"]) - float(r["dnsmos_in"]) for r in rows if noisy(r)]  # type: ignore[arg-type]
    return {
        "si_sdr_gain_db_median": round(median(vals("dfn_si_sdr_gain", noisy_0_10)), 2),
        "si_sdr_gain_db_clean": round(median(vals("dfn_si_sdr_gain", clean)), 2),
        "dnsmos_ovrl_gain_mean": round(mean(dnsmos_gain), 3),
        "peer_si_sdr_gain_db_median": round(median(vals("peer_si_sdr_gain", noisy_0_10)), 2),
        "peer_dnsmos_ovrl_gain_mean": round(mean(peer_gain), 3),
        "conditions": table,
    }


def timings(q: bool, long_s: float) -> dict[str, object]:
    """The speed figures: rtf of runtime and stage, 1 vs 2 workers, a long file's peak RSS.
    Each figure is logged to stderr as it comes."""
    with tempfile.TemporaryDirectory(prefix="denoise-bench-") as d:
        tmp = Path(d)
        rtf_runtime, rtf_stage, ratio = speed(tmp, 20.0 if q else 60.0, 2 if q else 5)
        log(f"rtf runtime {rtf_runtime:.4f}, stage {rtf_stage:.4f} (ratio {ratio:.3f})")
        n_files = 4 if q else 16
        pairs = []  # 1 and 2 workers side by side, repeated: medians and the median ratio
        for _ in range(1 if q else 3):
            pairs.append((throughput(tmp, n_files, 10.0, 1), throughput(tmp, n_files, 10.0, 2)))
            log(f"voices/s, 1 vs 2 workers: {pairs[-1][0]:.3f} vs {pairs[-1][1]:.3f}")
        one, two = median(p[0] for p in pairs), median(p[1] for p in pairs)
        scaling = median(p[1] / p[0] for p in pairs)
        rss = long_file_rss(tmp, long_s)
        log(f"peak RSS, {long_s:g} s file: {rss:.1f} MB")
    return {
        "cpu": cpu_model(),
        "cpus_available": len(os.sched_getaffinity(0)),
        "rtf_runtime": round(rtf_runtime, 4),
        "rtf_stage": round(rtf_stage, 4),
        "stage_overhead": round(ratio - 1, 3),
        "voices_per_s_1_worker": round(one, 3),
        "voices_per_s_2_workers": round(two, 3),
        "scaling_2_workers": round(scaling, 3),
        "long_file_s": long_s,
        "peak_rss_mb_long_file": round(rss, 1),
        "peak_rss_mb_1h_file": round(rss, 1) if long_s >= 3600 else None,
    }


_START = time.perf_counter()


def log(message: str) -> None:
    print(f"[{time.perf_counter() - _START:7.1f} s] {message}", file=sys.stderr, flush=True)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--speech", choices=["auto", "flite", "synthetic"], default="auto")
    ap.add_argument("--only", choices=["quality", "speed", "sweep"])
    ap.add_argument(
        "--long-file-s", type=float, help="length of the peak-RSS file (3600; 600 with --quick)"
    )
    args = ap.parse_args()
    q = args.quick
    source = args.speech
    if source == "auto":
        source = "flite" if speech.available() else "synthetic"
    elif source == "flite" and not speech.available():
        raise SystemExit("--speech flite: the flite program is not installed (apt install flite)")
    result: dict[str, object] = {"quick": q}
    if args.only == "sweep":
        settings = sweep(2 if q else 4, 4.0, source)
        result.update({"speech": source, "sweep": settings})
        for row in settings:
            print("  ".join(f"{k} {v}" for k, v in row.items()))
    elif args.only != "speed":
        rows = quality(2 if q else 4, 4.0, source)
        result.update({"speech": source, **summarise(rows)})
        log(f"quality grid done: {len(rows)} rows")
    if args.only in (None, "speed"):
        result.update(timings(q, args.long_file_s or (600.0 if q else 3600.0)))
    for k, v in result.items():
        if k not in ("conditions", "sweep"):
            print(f"{k:28} {v}")
    conditions: dict[str, dict[str, float]] = result.get("conditions", {})  # type: ignore[assignment]
    if conditions:
        columns = next(iter(conditions.values()))
        print(f"{'condition':16} " + " ".join(f"{k:>18}" for k in columns))
        for cond, vals in conditions.items():
            print(f"{cond:16} " + " ".join(f"{v:>18}" for v in vals.values()))
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    name = "denoise" + (f"_{args.only}" if args.only else "") + ("_quick" if q else "")
    (out / f"{name}.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
