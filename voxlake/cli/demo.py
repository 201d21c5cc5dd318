"""`voxlake demo`: generate a corpus, run the whole pipeline, print what it made."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from voxlake.audio.denoise_picture import denoise_picture
from voxlake.audio.dnsmos import DEFAULT_MODE, MODES
from voxlake.cli.args import Subparsers, add_command, open_lake
from voxlake.cli.run import run_and_report
from voxlake.cli.verify import verify_and_report
from voxlake.demo import corpus, flite, summary_lines
from voxlake.demo.scoring import clean_dir
from voxlake.lake.store import Lake
from voxlake.orchestration.runner import RunSettings


def write_picture(lake: Lake) -> Path | None:
    """The first batch's before/after spectrogram, as a PNG beside the demo corpus."""
    batches = lake.table_batches("denoise_metrics")
    picture = denoise_picture(lake, batches[0]) if batches else None
    if picture is None:
        return None
    path = clean_dir(lake).parent / "denoise_spectrogram.png"
    path.write_bytes(picture.png)
    return path


def cmd_demo(args: argparse.Namespace) -> int:
    lake = open_lake(args)
    t0 = time.perf_counter()
    try:
        speech = corpus.speech_source(args.speech)
    except RuntimeError as e:
        print(f"voxlake demo: {e}")
        return 2
    speakers = min(max(6, args.voices // 4), max(args.voices, 1))
    print(f"lake: {lake.root}")
    if speech == "flite":
        voices = ", ".join(flite.VOICES[:speakers])
        who = f"Flite's recorded voices ({voices}) saying Harvard sentences"
    else:
        who = f"{speakers} synthetic speakers (install flite for natural speech)"
    print(f"generating {args.voices} noisy voices from {who} (seed {args.seed}) ...")
    corpus.generate(lake.inbox, clean_dir(lake), args.voices, speakers, args.seed, speech=speech)
    dnsmos = "off" if args.no_dnsmos else args.dnsmos
    settings = RunSettings(str(lake.root), workers=args.workers, dnsmos=dnsmos)
    if run_and_report(lake, settings) != 0:
        return 1
    print("\n== summary ==")
    print("\n".join(summary_lines(lake)))
    picture = write_picture(lake)
    if picture:
        print(f"before/after spectrogram: {picture}")
    print()
    code = verify_and_report(lake, settings, runs=1, batches=None, cross=False)
    print(
        f"\ndone in {time.perf_counter() - t0:.0f} s. Open the UI on this lake with:\n"
        f"  make ui LAKE={lake.root}\n"
        f"or: VOXLAKE_HOME={lake.root} DAGSTER_HOME={lake.root}/dagster dg dev"
    )
    return code


def register(sub: Subparsers) -> None:
    p = add_command(sub, "demo", "generate a corpus, run the whole pipeline, print a summary")
    p.add_argument("--voices", type=int, default=24, help="voices to generate")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated corpus")
    p.add_argument("--workers", type=int, default=1, help="processes per batch")
    p.add_argument("--no-dnsmos", action="store_true", help="skip DNSMOS (faster)")
    p.add_argument("--dnsmos", choices=MODES[1:], default=DEFAULT_MODE, help="DNSMOS mode")
    p.add_argument(
        "--speech",
        choices=["auto", "flite", "synthetic"],
        default="auto",
        help="natural speech from flite where installed (auto), or the synthesizer",
    )
    p.set_defaults(fn=cmd_demo)
