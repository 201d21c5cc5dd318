"""What an idle Dagster daemon costs, with and without voxlake's code location.

    python benchmarks/daemon_idle.py [--warm-s 60] [--idle-s 120] [--out daemon_idle.json]

`control_plane_cpu_per_s.idle` in the cluster benchmark is the CPU per second of wall of the
daemon (with its code server), Postgres and the broker while no run is in flight. This
splits it: the same Postgres-backed instance (the cluster's `dagster.yaml`) and daemon,
measured idle
- `empty`: a code location with no asset, sensor or schedule (the daemon's own floor);
- `voxlake`: the cluster's code location (its sensors, automation and schedule) on an
  empty lake on an S3 emulator;
- `voxlake_default_monitoring`: the same with run monitoring at Dagster's default poll
  interval instead of the cluster's 5 s.
Each variant starts fresh, is left `--warm-s` to finish its start, then measured for
`--idle-s`. The JSON (also in benchmarks/results/) gives CPU seconds per second by process.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cluster import RESULTS, CpuMeter, _postmaster

from voxlake.orchestration.cluster import BROKER_ENV, write_cluster_home
from voxlake.orchestration.runner import POSTGRES_ENV
from voxlake.testing import postgres as pg
from voxlake.testing import redis as rd
from voxlake.testing.s3 import s3_server

EMPTY = "import dagster as dg\n\ndefs = dg.Definitions()\n"


def measure(home: Path, env: dict[str, str], pg_pid: int, warm_s: float, idle_s: float) -> dict:
    meter = CpuMeter()
    with open(home / "daemon.log", "w") as log:
        proc = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "dagster-daemon"),
                "run",
                "-w",
                str(home / "workspace.yaml"),
            ],
            env={**env, "DAGSTER_HOME": str(home)},
            cwd=home,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            meter.watch("daemon", proc.pid)
            meter.watch("postgres", pg_pid)
            meter.start()
            time.sleep(warm_s)
            meter.sample()
            before = meter.totals()
            time.sleep(idle_s)
            meter.sample()
            after = meter.totals()
            if proc.poll() is not None:
                tail = (home / "daemon.log").read_text().splitlines()[-5:]
                raise RuntimeError("the daemon exited early:\n" + "\n".join(tail))
        finally:
            meter.stop.set()
            os.killpg(proc.pid, 15)
            proc.wait(timeout=60)
    per_s = {g: round((after[g] - before.get(g, 0.0)) / idle_s, 4) for g in after}
    return {**per_s, "total": round(sum(per_s.values()), 4)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--warm-s", type=float, default=60.0)
    ap.add_argument("--idle-s", type=float, default=120.0)
    ap.add_argument("--out", default="daemon_idle.json")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="voxlake-daemon-idle-"))
    result: dict = {"warm_s": args.warm_s, "idle_s": args.idle_s, "cpu_per_s": {}}
    with pg.postgres_server() as pg_url, rd.redis_server() as (broker, _), s3_server() as s3:
        pg_pid = _postmaster(pg_url)
        env = {
            **os.environ,
            **s3.env(),
            "VOXLAKE_HOME": s3.uri("lake"),
            POSTGRES_ENV: pg_url,
            BROKER_ENV: broker,
            "VOXLAKE_PROGRESS": "off",
        }
        for variant in ("empty", "voxlake", "voxlake_default_monitoring"):
            home = write_cluster_home(work / variant)
            if variant == "empty":
                (home / "empty_location.py").write_text(EMPTY)
                (home / "workspace.yaml").write_text(
                    f"load_from:\n  - python_file: {home / 'empty_location.py'}\n"
                )
            if variant == "voxlake_default_monitoring":
                yaml = (home / "dagster.yaml").read_text()
                (home / "dagster.yaml").write_text(yaml.replace("  poll_interval_seconds: 5\n", ""))
            got = measure(home, env, pg_pid, args.warm_s, args.idle_s)
            result["cpu_per_s"][variant] = got
            print(f"{variant}: {got}", file=sys.stderr, flush=True)
    (RESULTS / args.out).write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
