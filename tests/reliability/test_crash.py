"""kill -9 at random and at the worst points of ingest, dbt build and publish: nothing is lost.

After every kill: the last published version keeps serving (pointer valid, file opens read-only and
holds the version the pointer names), no raw row committed before the kill is missing, no partial
file load is visible; the next run succeeds and leaves no stray files.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from changeboard.faults import ENV as FAULT_ENV
from changeboard.paths import ENV_DATA_DIR, DataDir
from changeboard.warehouse.versions import read_pointer
from tests.hostile.figures import FIGURES
from tests.reliability.workers import reexport

REPO = Path(__file__).resolve().parents[2]
AS_OF = "2026-11-26 00:00:00"


def _cli(data: DataDir, *args: str, fault: str | None = None) -> subprocess.Popen[bytes]:
    env = {**os.environ, ENV_DATA_DIR: str(data.root)}
    env.pop(FAULT_ENV, None)
    if fault:
        env[FAULT_ENV] = fault
    return subprocess.Popen(
        [sys.executable, "-m", "changeboard.cli", *args],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _raw_state(data: DataDir) -> tuple[int, dict[int, int], list[int]]:
    con = duckdb.connect(str(data.ingest_db), read_only=True)
    try:
        total = con.execute("select count(*) from raw.change").fetchall()[0][0]
        by_run = dict(con.execute("select _ingest_run_id, count(*) from raw.change group by 1").fetchall())
        unfinished = [
            r[0]
            for r in con.execute(
                "select run_id from meta.ingest_run where status in ('running', 'aborted')"
            ).fetchall()
        ]
    finally:
        con.close()
    return total, by_run, unfinished


def _assert_serving(data: DataDir) -> str:
    pub = read_pointer(data)
    con = duckdb.connect(str(pub.path), read_only=True)
    try:
        assert con.execute("select version from warehouse_version").fetchall() == [(pub.version,)]
        assert con.execute("select count(*) from fct_changes").fetchall()[0][0] > 0
    finally:
        con.close()
    return pub.version


def _no_strays(data: DataDir) -> None:
    strays = [
        *data.versions.glob("*.building*"),
        *data.landing.rglob("*.part"),
        *(p for p in (data.root / ".CURRENT.json.part", data.root / ".warehouse.duckdb.part") if p.exists()),
    ]
    assert strays == []
    published = set((data.versions / "published.txt").read_text().split())
    assert {p.name for p in data.versions.glob("warehouse_*.duckdb")} <= published


# Kills at random moments before the five named points (each trial costs ~12 s of the suite).
RANDOM_KILLS = 4


@pytest.mark.slow
def test_kill_9_anywhere_loses_nothing(built_copy: DataDir, tmp_path: Path) -> None:
    data = built_copy  # the suite's sample, ingested and published
    exports = data.samples
    # A random kill must land inside the run: time one clean ingest of the same kind first (with
    # compiled bytecode a small ingest takes about a second, so fixed delays would miss it).
    started = time.monotonic()
    clean = _cli(
        data,
        "ingest",
        str(reexport(exports / "servicenow" / "change_request.csv", tmp_path / "re_clean", 99)),
    )
    _, stderr = clean.communicate(timeout=300)
    assert clean.returncode == 0, stderr.decode()
    ingest_seconds = time.monotonic() - started
    rng = random.Random(20261126)
    # The random kills first, then the named points: the run after each named point must succeed and
    # clean up, and the last one (a build) is also the final check of the whole sequence.
    plan = [(rng.choice(["ingest", "build"]), None) for _ in range(RANDOM_KILLS)] + [
        ("ingest", "ingest:after_run_row"),
        ("ingest", "ingest:before_commit"),
        ("build", "build:after_dbt"),
        ("build", "publish:after_rename"),
        ("build", "publish:after_pointer"),
    ]
    assert plan[-1] == ("build", "publish:after_pointer")  # its recovery build ends the test
    kills = 0
    for n, (phase, point) in enumerate(plan):
        served_before = _assert_serving(data)
        total_before, by_run_before, _ = _raw_state(data)
        if phase == "ingest":
            target = reexport(exports / "servicenow" / "change_request.csv", tmp_path / f"re{n}", n)
            proc = _cli(data, "ingest", str(target), fault=point)
        else:
            proc = _cli(data, "build", "--as-of", AS_OF, fault=point)
        if point is None:
            time.sleep(rng.uniform(0.1, 0.8) * ingest_seconds if phase == "ingest" else rng.uniform(0.5, 9.0))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
        else:
            kills += 1
        proc.wait(timeout=300)
        # the published version still serves (the same one, or a complete newer one)
        served_after = _assert_serving(data)
        assert served_after >= served_before
        # nothing committed before the kill is gone, and nothing partial is visible
        total_after, by_run_after, unfinished = _raw_state(data)
        assert total_after >= total_before
        for run_id in unfinished:
            assert by_run_after.get(run_id, 0) == 0
        for run_id, count in by_run_before.items():
            assert by_run_after.get(run_id, 0) <= count  # rows move to newer runs only by update
        # after a fault point, the next run succeeds and cleans up; after a random kill the next
        # trial's own run is that next run
        if point is not None:
            again = (
                _cli(data, "ingest", str(exports))
                if phase == "ingest"
                else _cli(data, "build", "--as-of", AS_OF)
            )
            _, stderr = again.communicate(timeout=300)
            assert again.returncode == 0, stderr.decode()
            if phase == "build":
                _no_strays(data)
    # the last trial's next run was a build that succeeded and left no stray file
    _assert_serving(data)
    con = duckdb.connect(str(data.ingest_db), read_only=True)
    try:
        aborted = con.execute("select count(*) from meta.ingest_run where status = 'aborted'").fetchall()[0][
            0
        ]
        running = con.execute("select count(*) from meta.ingest_run where status = 'running'").fetchall()[0][
            0
        ]
    finally:
        con.close()
    print(f"\ntrials={len(plan)} kills={kills} aborted_runs_recovered={aborted}")
    FIGURES.note(
        f"crash trials (kill -9 at a random moment of ingest/build): {len(plan)} run, {kills} killed, "
        f"{aborted} aborted ingest runs recovered, {running} left running"
    )
    assert running == 0
    assert kills >= len(plan) - 1  # a random kill may come after its run ended
