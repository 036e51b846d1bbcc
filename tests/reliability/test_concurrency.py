"""Many readers and form submitters while pipeline runs publish back to back: nobody sees an error,
every acknowledged request is stored once (a retry does not double it) and reaches the warehouse.

Prints the figures it reached (reads, publishes, submissions, errors).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from changeboard.paths import DataDir
from changeboard.pipeline import build_run, ingest_run
from changeboard.store.requests import connect_ops
from changeboard.warehouse.versions import read_pointer
from tests.reliability.workers import reexport

REPO = Path(__file__).resolve().parents[2]
READERS = 4
SUBMITTERS = 3
SUBMISSIONS = 40


def _stored_references(data: DataDir) -> set[str]:
    if not data.ops_db.exists():
        return set()
    store = connect_ops(data.ops_db)
    try:
        return {r[0] for r in store.execute("select reference from change_request").fetchall()}
    finally:
        store.close()


@pytest.mark.slow
def test_readers_and_submitters_see_no_error_while_pipeline_publishes(
    built_copy: DataDir, tmp_path: Path
) -> None:
    data = built_copy  # the suite's sample, ingested and published
    before = _stored_references(data)

    seconds = 900  # safety limit: readers stop when the test tells them to
    procs = []
    for i in range(READERS):
        out = tmp_path / f"reader{i}.json"
        procs.append(
            (
                out,
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "tests.reliability.workers",
                        "reader",
                        str(data.root),
                        str(out),
                        str(seconds),
                    ],
                    cwd=REPO,
                ),
            )
        )
    for i in range(SUBMITTERS):
        out = tmp_path / f"submitter{i}.json"
        procs.append(
            (
                out,
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "tests.reliability.workers",
                        "submitter",
                        str(data.root),
                        str(out),
                        str(SUBMISSIONS),
                    ],
                    cwd=REPO,
                ),
            )
        )

    # a newer export published while the submitters write (the run's sync reads the store meanwhile)
    newer = reexport(data.samples / "servicenow" / "change_request.csv", tmp_path / "more", 0)
    run = ingest_run.new_run_id()
    report = ingest_run.ingest_paths(data, [newer], run_id=run)
    assert not report.failed
    assert report.results[0].counts.updated > 0
    ingest_run.sync_forms(data, run_id=run)
    published = build_run.build(data, run_id=run, as_of="2026-11-26 00:00:00")
    readers, submitters = procs[:READERS], procs[READERS:]
    for out, p in submitters:
        out.with_name(out.name + ".stop").touch()
        assert p.wait(timeout=300) == 0
    # a last run, published while the readers read, picks up every submission acknowledged after it
    run = ingest_run.new_run_id()
    ingest_run.sync_forms(data, run_id=run)
    final = build_run.build(data, run_id=run, as_of="2026-11-26 00:00:00")
    for out, p in readers:
        out.with_name(out.name + ".stop").touch()
        assert p.wait(timeout=300) == 0

    reports = [json.loads(out.read_text()) for out, _ in procs]
    reader_reports = reports[:READERS]
    submitter_reports = reports[READERS:]
    reads = sum(r["reads"] for r in reader_reports)
    reader_errors = [e for r in reader_reports for e in r["errors"]]
    acked = [a for r in submitter_reports for a in r["acked"]]
    submit_errors = [e for r in submitter_reports for e in r["errors"]]
    print(
        f"\nreads={reads} publishes=3 submissions_acked={len(acked)} "
        f"reader_errors={len(reader_errors)} submit_errors={len(submit_errors)}"
    )
    assert reader_errors == []
    assert submit_errors == []
    assert reads > 100
    for r in reader_reports:
        versions = [v for v, _, _ in r["versions"]]
        assert versions == sorted(versions), "a reader saw a version going backwards"
        assert len(r["versions"]) == 3, ("a reader did not see each new version published", r["versions"])
    assert len(set(acked)) == len(acked) >= SUBMITTERS * SUBMISSIONS
    con = duckdb.connect(str(read_pointer(data).path), read_only=True)
    try:
        refs = {
            r[0]
            for r in con.execute("select number from fct_changes where source_system = 'form'").fetchall()
        }
    finally:
        con.close()
    assert set(acked) <= refs
    # the store holds exactly the acknowledged requests besides those it had: none lost, none
    # doubled by a retry
    assert sorted(_stored_references(data) - before) == sorted(acked)
    assert final.version > published.version
