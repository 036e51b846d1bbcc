"""The process around the pipeline (issue #20): ``--wait`` says what it waits for and for how long; the
ingest's memory ceiling holds against a file that would take more; the request export warns about, or
neutralises, cells a spreadsheet would run (lookalike characters included)."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from changeboard import cli
from changeboard.paths import DataDir
from changeboard.pipeline.lock import PipelineLock
from changeboard.store import export as export_requests
from changeboard.store import requests as ops
from tests.hostile import corpus
from tests.hostile.figures import FIGURES


def test_wait_says_what_it_waits_for_and_how_long(tmp_path: Path) -> None:
    data = DataDir(tmp_path / "data").ensure()
    export = corpus.good_export(tmp_path / "corpus")[0]
    with PipelineLock(data.lock_file, run_id="20261204T150000Z_busy", command="build"):
        result = CliRunner().invoke(
            cli.app, ["ingest", str(export), "--data-dir", str(data.root), "--wait", "1.5"]
        )
    out = result.output
    print(f"\n[process] --wait output:\n{out}")
    assert result.exit_code == 75, out
    assert "waiting for the pipeline lock" in out
    assert "20261204T150000Z_busy" in out  # who holds it
    assert "(build, pid" in out  # who holds it
    assert "0 s of up to 2 s" in out  # elapsed of the wait asked for
    assert "after waiting 2 s" in out or "after waiting 1 s" in out
    # once the lock is free, the wait ends and says so
    holder = PipelineLock(data.lock_file, run_id="short", command="build").acquire()
    import threading

    threading.Timer(1.0, holder.release).start()
    result = CliRunner().invoke(
        cli.app, ["ingest", str(export), "--data-dir", str(data.root), "--wait", "30"]
    )
    assert result.exit_code == 0, result.output
    assert "got the pipeline lock after" in result.output


def _measured_ingest(args: list[str], env: dict[str, str]) -> tuple[int, str, float]:
    """Run ``changeboard ingest ARGS`` from a fresh process that reports the peak resident memory of
    its descendants (the command and its guarded child): (exit code, stderr, peak MB)."""
    probe = (
        "import resource, subprocess, sys\n"
        "p = subprocess.run([sys.executable, '-m', 'changeboard.cli', 'ingest', *sys.argv[1:]], "
        "capture_output=True, text=True)\n"
        "sys.stderr.write(p.stderr)\n"
        "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    code, peak = proc.stdout.split()[-2:]
    return int(code), proc.stderr, float(peak)


@pytest.mark.slow
def test_memory_ceiling_holds_against_a_hostile_workbook(tmp_path: Path) -> None:
    """A workbook whose styles part inflates to 1 GB (one number format), let past the XLSX bound on purpose
    (``CHANGEBOARD_XLSX_MAX_MB``): without a ceiling its reading takes more than 1 GB; with the
    ceiling at 600 MB the ingest is stopped under it, says so, and nothing of the file is loaded."""
    bomb = tmp_path / "corpus" / "change_request_bomb.xlsx"
    bomb.parent.mkdir()
    corpus.write_styles_bomb(bomb, 1024)
    good, good_rows = corpus.good_export(tmp_path / "corpus")
    base = {**os.environ, "CHANGEBOARD_XLSX_MAX_MB": "4096"}
    ceiling = 600

    data = DataDir(tmp_path / "guarded").ensure()
    args = [str(good), str(bomb), "--data-dir", str(data.root)]
    code, stderr, peak = _measured_ingest(args, {**base, "CHANGEBOARD_INGEST_MAX_MB": str(ceiling)})
    print(f"\n[process] with a {ceiling} MB ceiling: exit {code}, peak {peak:,.0f} MB\n{stderr[-600:]}")
    assert code == 2, stderr
    assert f"memory ceiling of {ceiling} MB" in stderr
    assert "change_request_bomb.xlsx" in stderr
    assert "Traceback" not in stderr
    assert peak <= ceiling + 64, f"peak {peak:,.0f} MB is over the {ceiling} MB ceiling"  # one poll's growth
    con = duckdb.connect(str(data.ingest_db), read_only=True)
    try:
        runs = con.execute("select file_name, status, error from meta.ingest_run order by run_id").fetchall()
        loaded = con.execute("select count(*) from raw.change").fetchall()[0][0]
    finally:
        con.close()
    assert [(r[0], r[1]) for r in runs] == [(good.name, "succeeded"), (bomb.name, "aborted")], runs
    assert "memory ceiling" in runs[1][2]
    assert loaded == good_rows  # the file before it is kept, nothing of the bomb

    unguarded = DataDir(tmp_path / "unguarded").ensure()
    args = [str(bomb), "--data-dir", str(unguarded.root)]
    code, stderr, free_peak = _measured_ingest(args, {**base, "CHANGEBOARD_INGEST_MAX_MB": "0"})
    print(f"[process] without a ceiling: exit {code}, peak {free_peak:,.0f} MB")
    assert free_peak > ceiling * 1.5, "the workbook is not hostile enough to show the ceiling"
    FIGURES.note(
        f"memory ceiling: a workbook whose styles part inflates to 1 GB took {free_peak:,.0f} MB unguarded; "
        f"with CHANGEBOARD_INGEST_MAX_MB={ceiling} the ingest stopped at {peak:,.0f} MB"
    )


@pytest.fixture
def ops_db(tmp_path: Path) -> Path:
    db = tmp_path / "ops.sqlite"
    con = ops.connect_ops(db)
    try:
        for title in LOOKALIKES:
            ops.submit(con, {"created_by": "Mallory", "title": title, "change_type": "normal"}, "k" + title)
    finally:
        con.close()
    return db


LOOKALIKES = [
    '\uff1dHYPERLINK("http://x","click")',  # fullwidth equals
    "\uff0bcmd|' /C calc'!A0",  # fullwidth plus
    "\uff20SUM(1)",  # fullwidth at
    "\ufe66cmd",  # small equals
    "  =1+1",  # leading spaces
    "\u22121+1",  # minus sign
    "=1+1",
]


def test_excel_safe_covers_lookalikes_and_the_plain_export_warns(ops_db: Path, tmp_path: Path) -> None:
    safe = tmp_path / "safe.csv"
    export_requests.export(ops_db, "servicenow-csv", safe, statuses=["submitted"], excel_safe=True)
    rows = list(csv.DictReader(io.StringIO(safe.read_text(encoding="utf-8-sig"))))
    titles = {r["u_short_description"] for r in rows}
    assert titles == {"'" + t for t in LOOKALIKES}, titles

    data = DataDir(tmp_path / "data").ensure()
    data.ops_db.write_bytes(ops_db.read_bytes())
    plain = tmp_path / "plain.csv"
    result = CliRunner().invoke(
        cli.app,
        ["requests", "export", "--out", str(plain), "--status", "submitted", "--data-dir", str(data.root)],
    )
    assert result.exit_code == 0, result.output
    assert f"warning: {len(LOOKALIKES)} cell(s) start like a spreadsheet formula" in result.output
    assert "--excel-safe" in result.output
    plain_titles = {
        r["u_short_description"] for r in csv.DictReader(io.StringIO(plain.read_text("utf-8-sig")))
    }
    assert plain_titles == set(LOOKALIKES)  # written as typed, and said so
    quiet = CliRunner().invoke(
        cli.app,
        [
            "requests",
            "export",
            "--out",
            str(plain),
            "--excel-safe",
            "--status",
            "submitted",
            "--data-dir",
            str(data.root),
        ],
    )
    assert "warning" not in quiet.output
