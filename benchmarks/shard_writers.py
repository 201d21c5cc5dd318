"""voxlake's shard writers against each format's own library writer (decision 0003).

On the first N voices (default 1,000) of the lake that `export_shards.py` clones, each
format is written twice by each writer, side by side:
- webdataset: `webdataset.TarWriter` against voxlake's `TarStream` writer;
- lhotse-shar: `lhotse.shar.SharWriter` (cuts from the lake's files) against voxlake's;
- hf-parquet: `datasets.Dataset.to_parquet` of an `Audio` column with the bytes embedded
  against voxlake's.

Reported per writer: median seconds, whether the two writes are bit-identical, and whether
the audio inside is the lake's stored bytes. Writes `benchmarks/results/shard_writers.json`.

    python benchmarks/shard_writers.py [--voices 1000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tarfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import blake3

RESULTS = Path(__file__).parent / "results"
WORK = Path("/tmp/voxlake-bench-export")


def digest(folder: Path) -> str:
    h = blake3.blake3()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(folder).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def tar_audio(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tf:
        return {
            m.name.split(".")[0]: tf.extractfile(m).read()  # type: ignore[union-attr]
            for m in tf.getmembers()
            if m.name.endswith(".flac")
        }


def wds_library(voices: list[Any], out: Path) -> dict[str, bytes]:
    import webdataset as wds

    with wds.TarWriter(str(out / "shard-000000.tar")) as sink:
        for sv in voices:
            sink.write(
                {
                    "__key__": sv.voice.voice_id,
                    "flac": Path(sv.audio).read_bytes(),
                    "json": sv.metadata(),
                }
            )
    return tar_audio(out / "shard-000000.tar")


def shar_library(voices: list[Any], out: Path) -> dict[str, bytes]:
    from lhotse import MonoCut, Recording
    from lhotse.shar import SharWriter

    with SharWriter(out, fields={"recording": "flac"}, shard_size=None) as writer:
        for sv in voices:
            rec = Recording.from_file(sv.audio, recording_id=sv.voice.voice_id)
            writer.write(
                MonoCut(sv.voice.voice_id, 0, rec.duration, 0, recording=rec, supervisions=[])
            )
    return {k: v for p in sorted(out.glob("recording*.tar")) for k, v in tar_audio(p).items()}


def hf_library(voices: list[Any], out: Path) -> dict[str, bytes]:
    import datasets
    import pyarrow as pa

    features = datasets.Features(
        {
            "audio": datasets.Audio(decode=False),
            "voice_id": datasets.Value("string"),
            "json": datasets.Value("string"),
        }
    )
    columns = {
        "audio": [{"bytes": Path(sv.audio).read_bytes(), "path": sv.member} for sv in voices],
        "voice_id": [sv.voice.voice_id for sv in voices],
        "json": [json.dumps(sv.metadata(), sort_keys=True) for sv in voices],
    }
    # Dataset.from_dict would encode the Audio column, which needs torchcodec even for bytes
    table = pa.Table.from_pydict(columns, schema=features.arrow_schema)
    ds = datasets.Dataset(table, info=datasets.DatasetInfo(features=features))
    ds.to_parquet(str(out / "shard-000000.parquet"))
    import pyarrow.parquet as pq

    t = pq.read_table(out / "shard-000000.parquet")
    audio = [a["bytes"] for a in t.column("audio").to_pylist()]
    return dict(zip(t.column("voice_id").to_pylist(), audio, strict=True))


def voxlake_writer(fmt: str) -> Callable[[list[Any], Path], dict[str, bytes]]:
    def write(voices: list[Any], out: Path) -> dict[str, bytes]:
        from voxlake.export.shard_formats import SHARD_FORMATS, ShardFile

        form = SHARD_FORMATS[fmt]
        files = {role: ShardFile(out / name) for role, name in form.names(0).items()}
        form.write(voices, files)
        for f in files.values():
            f.done()
        if fmt == "hf-parquet":
            import pyarrow.parquet as pq

            t = pq.read_table(out / form.names(0)["parquet"])
            audio = [a["bytes"] for a in t.column("audio").to_pylist()]
            return dict(zip(t.column("voice_id").to_pylist(), audio, strict=True))
        role = "tar" if fmt == "webdataset" else "recording"
        return tar_audio(out / form.names(0)[role])

    return write


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--voices", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=RESULTS / "shard_writers.json")
    args = ap.parse_args()

    from voxlake.export.selection import select
    from voxlake.export.shards import _shard_voices
    from voxlake.export.splits import SplitSpec
    from voxlake.lake.store import Lake

    lake = Lake(WORK / "lake")
    if not (WORK / "lake" / "done.json").exists():
        raise SystemExit("run benchmarks/export_shards.py first: it makes the lake")
    voices = _shard_voices(select(lake), SplitSpec(), "denoised")[: args.voices]
    stored = {sv.voice.voice_id: Path(sv.audio).read_bytes() for sv in voices}
    writers = {
        ("webdataset", "library: webdataset.TarWriter"): wds_library,
        ("webdataset", "voxlake"): voxlake_writer("webdataset"),
        ("lhotse-shar", "library: lhotse SharWriter"): shar_library,
        ("lhotse-shar", "voxlake"): voxlake_writer("lhotse-shar"),
        ("hf-parquet", "library: datasets to_parquet"): hf_library,
        ("hf-parquet", "voxlake"): voxlake_writer("hf-parquet"),
    }
    results: dict[str, dict[str, Any]] = {}
    for (fmt, who), write in writers.items():
        seconds, digests, same_audio = [], [], True
        for r in range(args.rounds):
            out = WORK / "writers" / f"{fmt}-{r}"
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            t0 = time.perf_counter()
            audio = write(voices, out)
            seconds.append(time.perf_counter() - t0)
            same_audio &= audio == stored
            digests.append(digest(out))
            time.sleep(1.1)  # a writer that stamps the clock shows it in the next round
            shutil.rmtree(out, ignore_errors=True)
        results.setdefault(fmt, {})[who] = {
            "seconds_median": round(statistics.median(seconds), 3),
            "bit_identical_runs": len(set(digests)) == 1,
            "audio_is_the_stored_bytes": same_audio,
        }
        print(f"{fmt:12s} {who:32s} {results[fmt][who]}", flush=True)
    record = {"voices": len(voices), "rounds": args.rounds, "writers": results}
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(record))


if __name__ == "__main__":
    main()
