"""End to end through the `voxlake` command, as a user runs it (marked slow)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def voxlake(*args: str, lake: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DAGSTER_HOME": str(lake / "dagster")}
    env.pop("VOXLAKE_HOME", None)
    proc = subprocess.run(
        [sys.executable, "-m", "voxlake.cli", *args, "--lake", str(lake)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=900,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"voxlake {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def _sql(q: str, lake: Path) -> list[dict[str, object]]:
    return json.loads(voxlake("sql", q, "--format", "json", lake=lake).stdout)


@pytest.fixture(scope="module")
def demo_lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    lake = tmp_path_factory.mktemp("cli") / "lake"
    out = voxlake("demo", "--voices", "8", lake=lake).stdout
    return lake, out


@pytest.mark.slow
def test_demo_prints_the_summary(demo_lake: tuple[Path, str]) -> None:
    _, out = demo_lake
    for needle in (
        "voices ingested: 8",
        "rejected: 4",
        "SI-SDR gain on 8",
        "mean gain",
        "before/after spectrogram:",
        "shape (128,)",
        "index rows: 8",
        "top-1 speaker retrieval:",
        "voices most like",
        "reproducibility: bit-identical",
        "make ui",
    ):
        assert needle in out, needle


@pytest.mark.slow
def test_demo_runs_are_runs_of_the_code_location_jobs(demo_lake: tuple[Path, str]) -> None:
    import dagster as dg

    lake, _ = demo_lake
    instance = dg.DagsterInstance.from_config(str(lake / "dagster"))
    names = sorted({r.job_name for r in instance.get_runs()})
    assert names == ["ingest_batch", "refresh_dataset", "verify_batch"]


@pytest.mark.slow
def test_sql_counts_and_read_only(demo_lake: tuple[Path, str]) -> None:
    lake, _ = demo_lake
    assert _sql("select count(*) as n from voices", lake) == [{"n": 8}]
    assert _sql("select count(*) as n from rejected", lake) == [{"n": 4}]
    assert voxlake("sql", "drop view voices", lake=lake, check=False).returncode == 1
    rows = _sql(str(ROOT / "sql" / "queries" / "rejections_by_reason.sql"), lake)
    assert {r["reason"] for r in rows} == {"empty", "undecodable", "silent"}


@pytest.mark.slow
def test_search_by_voice_and_by_audio(demo_lake: tuple[Path, str]) -> None:
    lake, _ = demo_lake
    (first,) = _sql("select voice_id, raw_path from voices order by voice_id limit 1", lake)
    by_voice = voxlake("search", "--voice", str(first["voice_id"]), "-k", "3", lake=lake).stdout
    assert len(by_voice.strip().splitlines()) == 2 + 3
    by_audio = voxlake(
        "search", "--audio", str(lake / str(first["raw_path"])), "-k", "1", lake=lake
    ).stdout
    line = by_audio.strip().splitlines()[2]
    assert line.startswith(str(first["voice_id"])[:12] + " ")  # a voice finds itself first
    assert float(line.split()[1]) > 0.99
    missing = voxlake("search", "--voice", "nope", lake=lake, check=False)
    assert missing.returncode == 1 and "not a voice id" in missing.stderr
    unknown = voxlake("search", "--voice", "deadbeef", lake=lake, check=False)
    assert unknown.returncode == 1 and "no voice deadbeef" in unknown.stderr


@pytest.mark.slow
def test_reingesting_adds_nothing_and_verify_passes(
    demo_lake: tuple[Path, str], tmp_path: Path
) -> None:
    lake, _ = demo_lake
    again = tmp_path / "again"
    again.mkdir()
    for f in sorted((lake / "inbox").glob("spk*.wav"))[:2]:
        (again / f"copy-{f.name}").write_bytes(f.read_bytes())
    voxlake("ingest", str(again), lake=lake)
    out = voxlake("run", lake=lake).stdout
    assert "new batches: 0" in out
    assert _sql("select count(*) as n from voices", lake) == [{"n": 8}]
    verify = voxlake("verify", "--runs", "2", lake=lake)
    assert "reproducibility: bit-identical" in verify.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_the_ui_serves_the_asset_graph_with_partitions(demo_lake: tuple[Path, str]) -> None:
    lake, _ = demo_lake
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(lake / "dagster"), "VOXLAKE_HOME": str(lake)}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dagster_webserver",
            "-w",
            "workspace.yaml",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    query = {
        "query": "{ assetNodes { assetKey { path } partitionKeys } "
        "runsOrError { ... on Runs { results { jobName "
        "repositoryOrigin { repositoryLocationName repositoryName } } } } "
        "workspaceOrError { ... on Workspace { locationEntries { name } } } }"
    }
    try:
        deadline, data = time.time() + 120, None
        while time.time() < deadline and data is None:
            try:
                req = urllib.request.Request(
                    f"http://127.0.0.1:{port}/graphql",
                    json.dumps(query).encode(),
                    {"Content-Type": "application/json"},
                )
                with urllib.request.urlopen(req, timeout=10) as resp:
                    body = json.loads(resp.read())
                if body.get("data", {}).get("assetNodes"):
                    data = body["data"]
            except OSError:
                time.sleep(1)
        assert data is not None, "the webserver did not answer"
        # The CLI's runs belong to the code location the webserver serves, as its own do.
        (location,) = [e["name"] for e in data["workspaceOrError"]["locationEntries"]]
        runs = data["runsOrError"]["results"]
        assert runs and {r["jobName"] for r in runs} >= {"ingest_batch", "refresh_dataset"}
        for run in runs:
            assert run["repositoryOrigin"] == {
                "repositoryLocationName": location,
                "repositoryName": "__repository__",
            }
        keys = {"/".join(n["assetKey"]["path"]) for n in data["assetNodes"]}
        assert {"raw_voices", "voice_index", "reproducibility"} <= keys
        raw = next(n for n in data["assetNodes"] if n["assetKey"]["path"] == ["raw_voices"])
        names = raw["partitionKeys"]
        batches = _sql("select distinct batch from voices", lake)
        assert sorted(names) == sorted(str(b["batch"]) for b in batches)
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.slow
def test_stats_export_and_forget(demo_lake: tuple[Path, str], tmp_path: Path) -> None:
    """Runs last: it erases a voice from the shared demo lake."""
    lake, _ = demo_lake
    out = tmp_path / "stats.npz"
    voxlake("stats", "export", "--format", "npz", "--output", str(out), lake=lake)
    assert out.stat().st_size > 0
    (victim,) = _sql("select voice_id from voices order by voice_id limit 1", lake)
    forgot = voxlake("forget", str(victim["voice_id"]), "--reason", "test", lake=lake)
    assert "1 voice(s) erased" in forgot.stdout
    assert _sql("select count(*) as n from voices", lake) == [{"n": 7}]
    assert _sql("select count(*) as n from erasures", lake) == [{"n": 1}]
    assert voxlake("forget", "nope", lake=lake, check=False).returncode == 1


@pytest.mark.slow
def test_the_model_free_embedder_end_to_end(tmp_path: Path) -> None:
    """`run --embedder mel_profile`; later runs keep the lake's embedder; audio search
    embeds the query with it."""
    from voxlake import pipeline
    from voxlake.demo import corpus

    lake, src = tmp_path / "lake", tmp_path / "src"
    corpus.generate(src / "a", tmp_path / "clean", 3, 3, seed=5, bad_files=False)
    corpus.generate(src / "b", tmp_path / "clean", 2, 2, seed=6, bad_files=False)
    voxlake("ingest", str(src / "a"), lake=lake)
    voxlake("run", "--embedder", "mel_profile", lake=lake)
    voxlake("ingest", str(src / "b"), lake=lake)
    # no --embedder: the index's embedder, not the default
    second = voxlake("run", "--workers", "2", lake=lake)
    assert "leaked" not in second.stderr, second.stderr  # the pool's semaphores released
    rows = _sql("select embedder, fingerprint, count(*) as n from embeddings group by all", lake)
    assert rows == [
        {
            "embedder": "mel_profile",
            "fingerprint": pipeline.embedder_fingerprint("mel_profile"),
            "n": 5,
        }
    ]
    (first,) = _sql("select voice_id, raw_path from voices order by voice_id limit 1", lake)
    out = voxlake("search", "--audio", str(lake / str(first["raw_path"])), "-k", "1", lake=lake)
    assert out.stdout.strip().splitlines()[2].startswith(str(first["voice_id"])[:12] + " ")
