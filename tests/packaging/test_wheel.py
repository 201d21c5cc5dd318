"""The built wheel: one import root with its SQL, working from any folder (marked slow).

The wheel is installed into a fresh virtual environment; its dependencies come from the
project's own environment (a .pth line), since nothing is downloaded here.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(*cmd: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, f"{cmd} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.mark.slow
def test_the_wheel_holds_one_import_root_and_runs_outside_the_checkout(tmp_path: Path) -> None:
    # Built from a copy of the sources, so that nothing built in the checkout leaks in.
    src = tmp_path / "src"
    skip = (".git", ".venv", "build", "*.egg-info", "__pycache__", ".*_cache", ".voxlake")
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(*skip))
    wheels = tmp_path / "wheels"
    _run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "-q",
        "-w",
        wheels,
        src,
        cwd=tmp_path,
    )
    (wheel,) = wheels.glob("voxlake-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {
        "voxlake",
        wheel.name.split("-py")[0] + ".dist-info",
    }
    for path in (
        "voxlake/sql/views/batch_summary.sql",
        "voxlake/assets/raw.py",
        "voxlake/orchestration/definitions.py",
        "voxlake/cli/run.py",
    ):
        assert path in names, path

    env_dir = tmp_path / "env"
    _run(sys.executable, "-m", "venv", env_dir, cwd=tmp_path)
    py = env_dir / "bin" / "python"
    _run(py, "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel, cwd=tmp_path)
    purelib = _run(py, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=tmp_path)
    (Path(purelib.strip()) / "project-deps.pth").write_text("\n".join(site.getsitepackages()))

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VOXLAKE_HOME")}
    env.pop("DAGSTER_HOME", None)
    where = _run(py, "-c", "import voxlake; print(voxlake.__file__)", cwd=work, env=env)
    assert str(env_dir) in where and str(ROOT) not in where
    for generic in ("assets", "resources", "quality", "orchestration"):
        proc = subprocess.run([py, "-c", f"import {generic}"], cwd=work, env=env)
        assert proc.returncode != 0, f"`{generic}` is importable from the wheel"

    voxlake = env_dir / "bin" / "voxlake"
    lake = work / "lake"
    out = _run(voxlake, "demo", "--voices", "6", "--lake", lake, cwd=work, env=env)
    assert "reproducibility: bit-identical" in out
    rows = json.loads(
        _run(
            voxlake,
            "sql",
            "select count(*) as n from batch_summary",
            "--format",
            "json",
            "--lake",
            lake,
            cwd=work,
            env=env,
        )
    )
    assert rows[0]["n"] >= 1
    jobs = _run(
        py,
        "-c",
        "import dagster as dg, sys; i = dg.DagsterInstance.from_config(sys.argv[1]); "
        "print('\\n'.join(sorted({r.job_name for r in i.get_runs()})))",
        lake / "dagster",
        cwd=work,
        env=env,
    ).split()
    assert jobs == ["ingest_batch", "refresh_dataset", "verify_batch"]
