"""A real wheel works: built from the sources, installed (not editable) into a fresh virtual
environment, and run from a working directory far from the repository — the demo, the CAB pack and
the dashboards' server find the dbt project, seeds, templates and the app inside the package."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# What the wheel is built from (pyproject.toml's packages and package data), copied so that the build
# neither writes into the checkout (build/, *.egg-info) nor picks up what a stale build/ holds.
SOURCES = ("pyproject.toml", "README.md", "changeboard", "ingest", "app", "dbt")
NOT_SOURCES = shutil.ignore_patterns(
    "__pycache__", "*.pyc", "target", "logs", "dbt_packages", ".user.yml", "secrets.toml"
)

pytestmark = pytest.mark.slow


STEPS: list[tuple[str, float]] = []  # what each step took, printed with the test's output (-rA, -s)


def _run(cmd: list[str], *, cwd: Path, env: dict[str, str], timeout: float = 600) -> str:
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    STEPS.append((" ".join(Path(c).name if "/" in c else c for c in cmd[:4]), time.monotonic() - started))
    assert proc.returncode == 0, (
        f"{' '.join(cmd)} exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    return proc.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _build_wheel(tmp: Path, env: dict[str, str]) -> Path:
    src = tmp / "src"
    src.mkdir()
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=NOT_SOURCES)
        else:
            shutil.copy2(path, src / name)
    dist = tmp / "dist"
    _run([sys.executable, "-m", "uv", "build", "--wheel", "--out-dir", str(dist), str(src)], cwd=tmp, env=env)
    (wheel,) = dist.glob("changeboard-*.whl")
    return wheel


def _check_contents(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    assert top == {"changeboard", wheel.name.split("-py3")[0] + ".dist-info"}, top  # no tests/, data/...
    for needed in (
        "changeboard/dbt/dbt_project.yml",
        "changeboard/dbt/profiles.yml",
        "changeboard/dbt/seeds/",
        "changeboard/dbt/macros/",
        "changeboard/dbt/models/marts/",
        "changeboard/app/streamlit_app.py",
        "changeboard/app/views/overview.py",
        "changeboard/app/.streamlit/config.toml",
        "changeboard/reports/templates/cab.html.j2",
        "changeboard/ingest/sources/servicenow.py",
    ):
        assert any(n.startswith(needed) for n in names), f"{needed} is not in the wheel"
    unwanted = [
        n
        for n in names
        if n.startswith(("changeboard/dbt/target/", "changeboard/dbt/logs/", "changeboard/tests/"))
        or "/__pycache__/" in n
        or n.endswith((".duckdb", ".user.yml", "secrets.toml"))
    ]
    assert not unwanted, unwanted


def test_the_wheel_installs_and_runs_the_demo_report_and_server_from_anywhere(tmp_path: Path) -> None:
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "CHANGEBOARD_DATA_DIR")
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # the fresh venv compiles its imports once, not per process
    wheel = _build_wheel(tmp_path, env)
    _check_contents(wheel)

    venv = tmp_path / "venv"
    _run(
        [sys.executable, "-m", "uv", "venv", "--quiet", "--python", sys.executable, str(venv)],
        cwd=tmp_path,
        env=env,
    )
    python = venv / "bin" / "python"
    uv_pip = [sys.executable, "-m", "uv", "pip", "install", "--quiet", "--python", str(python)]
    _run([*uv_pip, "-r", str(REPO / "requirements.lock")], cwd=tmp_path, env=env)
    _run([*uv_pip, "--no-deps", str(wheel)], cwd=tmp_path, env=env)

    elsewhere = tmp_path / "elsewhere"  # no repository around: only the installed package
    elsewhere.mkdir()
    data = tmp_path / "data"
    changeboard = str(venv / "bin" / "changeboard")
    where = _run(
        [str(python), "-c", "import changeboard; print(changeboard.__file__)"], cwd=elsewhere, env=env
    )
    assert Path(where.strip()).is_relative_to(venv), where

    _run(
        [changeboard, "demo", "--no-serve", "--changes", "300", "--data-dir", str(data)],
        cwd=elsewhere,
        env=env,
    )
    assert (data / "CURRENT.json").is_file(), "the demo published nothing"

    pack = elsewhere / "cab.html"
    _run([changeboard, "report", "cab", "--data-dir", str(data), "--out", str(pack)], cwd=elsewhere, env=env)
    assert "<html" in pack.read_text(encoding="utf-8").lower()

    port = _free_port()
    started = time.monotonic()
    server = subprocess.Popen(
        [changeboard, "serve", "--data-dir", str(data), "--port", str(port)],
        cwd=elsewhere,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        answer = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://localhost:{port}/_stcore/health", timeout=5) as r:
                    answer = (r.status, r.read().decode())
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.5)
        assert answer == (200, "ok"), f"no health answer: {answer}; server exit {server.poll()}"
        STEPS.append(("changeboard serve: health answered", time.monotonic() - started))
        # the app itself is served (not just the health route): the page shell answers too
        with urllib.request.urlopen(f"http://localhost:{port}/", timeout=10) as r:
            assert r.status == 200
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=20)
        if server.stdout is not None:
            server.stdout.close()
        print("\n".join(f"{seconds:6.1f} s  {step}" for step, seconds in STEPS))
