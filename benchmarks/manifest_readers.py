"""voxlake's corpus readers against the ecosystem's, where one exists (decision 0004).

    python benchmarks/manifest_readers.py [--utterances 2000]

- LibriSpeech: Lhotse's recipe `prepare_librispeech` (it opens every file for its
  header) against `voxlake.ingest.sources.librispeech` on a generated tree, both run to
  the end of their output.
- Kaldi: Lhotse's `load_kaldi_data_dir` against `voxlake.ingest.sources.kaldi` on a
  generated data directory with segments; then the same directory with one `wav.scp`
  entry that is a pipe command, to see what each does with it.
Medians of 3 runs each, side by side. The last line is the JSON, also written to
benchmarks/results/manifest_readers.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

RESULTS = Path(__file__).parent / "results"
RATE = 16000


def _tree(root: Path, n: int) -> Path:
    x = (np.random.default_rng(0).standard_normal(int(0.6 * RATE)) * 0.1).astype(np.float32)
    top = root / "LibriSpeech" / "train-clean-100"
    for k in range(n):
        spk, chapter = str(100 + k // 100), "1"
        folder = top / spk / chapter
        folder.mkdir(parents=True, exist_ok=True)
        utt = f"{spk}-{chapter}-{k % 100:04d}"
        sf.write(folder / f"{utt}.flac", x, RATE, subtype="PCM_16")
        with open(folder / f"{spk}-{chapter}.trans.txt", "a") as f:
            f.write(f"{utt} SOME WORDS {k}\n")
    return root / "LibriSpeech"


def _kaldi(root: Path, n: int, pipe: bool) -> Path:
    data = root / ("kaldi_pipe" if pipe else "kaldi")
    data.mkdir(parents=True)
    recordings = max(1, n // 20)
    x = (np.random.default_rng(1).standard_normal(int(12 * RATE)) * 0.1).astype(np.float32)
    scp, seg, text = [], [], []
    for r in range(recordings):
        wav = root / "kaldi_audio" / f"r{r}.wav"
        if not wav.exists():
            wav.parent.mkdir(parents=True, exist_ok=True)
            sf.write(wav, x, RATE, subtype="PCM_16")
        scp.append(f"r{r} {wav}")
        for s in range(20):
            seg.append(f"r{r}-{s} r{r} {s * 0.5:.2f} {s * 0.5 + 0.5:.2f}")
            text.append(f"r{r}-{s} WORDS {s}")
    if pipe:
        scp[0] = f"r0 cat {root / 'kaldi_audio' / 'r0.wav'} |"
    (data / "wav.scp").write_text("\n".join(scp) + "\n")
    (data / "segments").write_text("\n".join(seg) + "\n")
    (data / "text").write_text("\n".join(text) + "\n")
    (data / "utt2spk").write_text("\n".join(f"{s.split()[0]} spk" for s in seg) + "\n")
    return data


def _median_s(fn: Callable[[], Any], runs: int = 3) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    from lhotse.kaldi import load_kaldi_data_dir
    from lhotse.recipes import prepare_librispeech

    from voxlake.ingest.sources import read_source

    ap = argparse.ArgumentParser()
    ap.add_argument("--utterances", type=int, default=2000)
    args = ap.parse_args()
    n = args.utterances
    result: dict[str, Any] = {"utterances": n}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        tree = _tree(root, n)

        def lhotse_libri() -> int:
            parts = prepare_librispeech(tree, dataset_parts=["train-clean-100"], num_jobs=1)
            return len(parts["train-clean-100"]["supervisions"])

        def voxlake_libri() -> int:
            return sum(1 for _ in read_source("librispeech", tree / "train-clean-100"))

        result["librispeech"] = {}
        for name, fn in (("lhotse_recipe", lhotse_libri), ("voxlake", voxlake_libri)):
            seconds, count = _median_s(fn)
            result["librispeech"][name] = {"seconds": seconds, "utterances": count}
        kaldi = _kaldi(root, n, pipe=False)

        def lhotse_kaldi(d: Path) -> int:
            _recs, sups, _feats = load_kaldi_data_dir(d, sampling_rate=RATE)
            return len(sups) if sups is not None else 0

        result["kaldi"] = {}
        for name, fn in (
            ("lhotse_load_kaldi_data_dir", lambda: lhotse_kaldi(kaldi)),
            ("voxlake", lambda: sum(1 for _ in read_source("kaldi", kaldi))),
        ):
            seconds, count = _median_s(fn)
            result["kaldi"][name] = {"seconds": seconds, "utterances": count}
        piped = _kaldi(root, n, pipe=True)
        try:
            lhotse_kaldi(piped)
            result["kaldi"]["lhotse_with_a_pipe"] = "read (the command was run)"
        except Exception as e:  # what Lhotse says, kept as it says it
            result["kaldi"]["lhotse_with_a_pipe"] = f"{type(e).__name__}: {e}"[:300]
        items = list(read_source("kaldi", piped))
        refused = [i.problem for i in items if i.problem]
        result["kaldi"]["voxlake_with_a_pipe"] = (
            f"{len(items) - len(refused)} utterances read, {len(refused)} refused as "
            f"{sorted({p[0] for p in refused})}"
        )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "manifest_readers.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
