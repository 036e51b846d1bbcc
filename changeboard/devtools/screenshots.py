"""Screenshots of every dashboard page at 1440 px wide, for the README (``./run screenshots``).

Builds the demo data when the data directory has no published warehouse, serves the app on a free
local port, opens every page in Debian's chromium (Playwright) and writes ``docs/screenshots/<page>.png``
(full page). Not part of the test suite: run it when a page changes and commit the pictures.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from changeboard.paths import ENV_DATA_DIR, DataDir
from changeboard.resources import app_dir

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run"]
WIDTH = 1440
# (url path, title on the page, file name): every page of the navigation (app/streamlit_app.py SECTIONS)
PAGES = (
    ("", "Overview", "overview"),
    ("changes", "Changes", "changes"),
    ("lead_times", "Lead times", "lead_times"),
    ("incidents", "Incidents & attribution", "incidents"),
    ("releases", "Releases", "releases"),
    ("services", "Services & CIs", "services"),
    ("backlog", "Backlog & schedule", "backlog"),
    ("data_quality", "Data quality", "data_quality"),
    ("cab", "CAB meeting pack", "cab"),
    ("change_request", "Raise a change request", "change_request"),
    ("my_requests", "My requests", "my_requests"),
    ("cab_decisions", "CAB decisions", "cab_decisions"),
)
SETTLE_JS = "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
HEIGHT_JS = (
    "() => Math.max(...[...document.querySelectorAll('[data-testid=stMain], [data-testid=stMainBlockContainer]')]"
    ".map(e => e.scrollHeight))"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(base: str, proc: subprocess.Popen[bytes], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the dashboard stopped while starting")
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"the dashboard did not answer at {base}")


def shoot(base: str, out: Path) -> list[Path]:
    """Every page of the app served at ``base``, full page at 1440 px, into ``out``."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    written = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": WIDTH, "height": 900})
            for path, title, name in PAGES:
                page.goto(f"{base}/{path}")
                page.wait_for_function(
                    "t => [...document.querySelectorAll('h1')].some(h => h.innerText.trim() === t)",
                    arg=title,
                    timeout=60_000,
                )
                page.wait_for_timeout(500)
                page.wait_for_function(SETTLE_JS, timeout=60_000)
                page.wait_for_timeout(1500)
                height = int(page.evaluate(HEIGHT_JS))
                page.set_viewport_size({"width": WIDTH, "height": min(height + 60, 14_000)})
                page.wait_for_timeout(1200)
                target = out / f"{name}.png"
                page.screenshot(path=str(target), full_page=True)
                page.set_viewport_size({"width": WIDTH, "height": 900})
                written.append(target)
        finally:
            browser.close()
    return written


def main(argv: list[str] | None = None) -> int:
    """Build the demo data if needed, serve it, and write the screenshots."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--data-dir", type=Path, default=Path("data"), help="data directory (demo data if empty)"
    )
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"), help="where the PNG files go")
    args = parser.parse_args(argv)
    data = DataDir(args.data_dir.resolve())
    if not data.warehouse_link.exists():
        subprocess.run(
            [
                str(Path(sys.executable).parent / "changeboard"),
                "demo",
                "--data-dir",
                str(data.root),
                "--no-serve",
            ],
            check=True,
        )
    port = _free_port()
    env = os.environ | {ENV_DATA_DIR: str(data.root)}
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "streamlit", "run", str(app_dir() / "streamlit_app.py"),
            "--server.port", str(port), "--server.address", "127.0.0.1",
            "--server.headless", "true", "--browser.gatherUsageStats", "false",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_healthy(base, proc)
        for path in shoot(base, args.out):
            print(path)
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
