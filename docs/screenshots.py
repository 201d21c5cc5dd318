"""Screenshots of the Dagster UI for the manual, taken in a real browser.

    python docs/screenshots.py --lake LAKE     (a lake made by `voxlake demo`)

Starts `dg dev` (webserver and daemon, as `make ui` does) on the lake's instance,
drives Debian's Chromium through Playwright (Playwright's own browser download is not
used) and writes docs/_static/ui/*.png. The docs build does not run it: the pictures are
committed, and this script remakes them after a change to the UI's look.
Needs: `apt-get install chromium` and `pip install playwright`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from voxlake.testing.ports import free_port

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "_static" / "ui"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# name -> (path, text to wait for, what to click first or None)
PAGES: dict[str, tuple[str, str, str | None]] = {
    "asset_graph": (
        "/assets/raw_voices?view=lineage&lineageScope=downstream&lineageDepth=6",
        "voice_index",
        None,
    ),
    "partitions": ("/assets/raw_voices?view=partitions", "Partitions", None),
    "checks": ("/assets/raw_voices?view=checks", "gx_voices", None),
    "backfill": ("/assets/denoised_voices?view=partitions", "Partitions", "Materialize"),
    "sensors": ("/automation", "voice_inbox", None),
    "dataset_sensor": (
        "/locations/voxlake/sensors/dataset_follows_batches",
        "dataset_follows_batches",
        None,
    ),
    "timeline": ("/overview/activity/timeline", "voxlake", "1hr"),
    "runs": ("/runs", "ingest_batch", None),
}


def _wait(url: str, seconds: float = 180) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url + "/server_info", timeout=5):
                return
        except OSError:
            time.sleep(1)
    raise SystemExit(f"the webserver at {url} did not answer in {seconds:.0f} s")


def _dismiss_welcome(page: Any) -> None:
    """Dagster's first-visit invitation covers the page: skip it where it shows."""
    skip = page.get_by_role("button", name="Skip")
    if skip.count():
        skip.first.click()
        page.wait_for_timeout(500)


def _shoot(page: Any, url: str, name: str, wait_for: str, click: str | None) -> None:
    page.goto(url, wait_until="networkidle")
    page.wait_for_timeout(2_000)
    _dismiss_welcome(page)
    page.get_by_text(wait_for).first.wait_for(timeout=60_000)
    if click:
        page.get_by_role("button", name=click).first.click()
        page.wait_for_timeout(2_000)
    page.wait_for_timeout(1_500)
    page.screenshot(path=str(OUT / f"{name}.png"))
    print(f"  {name}.png  <- {url}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lake", required=True, help="a lake made by `voxlake demo`")
    ap.add_argument("--only", nargs="*", help="page names to take (default: all)")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    lake = Path(args.lake).resolve()
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(lake / "dagster"), "VOXLAKE_HOME": str(lake)}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "dg"), "dev", "--no-check-yaml", "-p", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    OUT.mkdir(parents=True, exist_ok=True)
    try:
        _wait(base)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 820})
            for name, (path, wait_for, click) in PAGES.items():
                if not args.only or name in args.only:
                    _shoot(page, base + path, name, wait_for, click)
            browser.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
