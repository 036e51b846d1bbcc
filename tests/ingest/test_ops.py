"""The form's store (ingest/ops.py): idempotent submit, CAB decisions, listing, matching to ITSM changes,
the export for ServiceNow; durability after a kill -9 between the commit and the confirmation.
Concurrent submitters while pipeline runs publish: tests/reliability/test_concurrency.py."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from changeboard.ingest.sources import forms

from changeboard.faults import ENV as FAULT_ENV
from changeboard.paths import DataDir
from changeboard.store import export as export_requests
from changeboard.store import requests as ops
from changeboard.store.requests import Match, connect_ops, decide, derive_status, match_request, submit

REPO = Path(__file__).resolve().parents[2]


def fields(**kw: object) -> dict[str, object]:
    base: dict[str, object] = {
        "created_by": "alice",
        "title": "Patch lnx-pay-030 kernel",
        "change_type": "normal",
        "service": "Payments",
        "cis": ["lnx-pay-030"],
        "window_start": "2026-12-10T09:00:00+00:00",
        "window_end": "2026-12-10T11:00:00+00:00",
        "impact": "2 - Medium",
        "risk": "Low",
        "description": '=HYPERLINK("http://x")',
        "backout_plan": "- boot the previous kernel",
    }
    base.update(kw)
    return base


@pytest.fixture
def con(tmp_path: Path):  # type: ignore[no-untyped-def]
    c = connect_ops(tmp_path / "ops" / "ops.sqlite")
    yield c
    c.close()


def count(con, table: str = "change_request") -> int:  # type: ignore[no-untyped-def]
    return con.execute(f"select count(*) from {table}").fetchone()[0]


def test_submit_is_idempotent_per_key(con) -> None:  # type: ignore[no-untyped-def]
    a = submit(con, fields(), "k1")
    assert submit(con, fields(title="changed on retry"), "k1") == a
    b = submit(con, fields(), "k2")
    assert a == "CR0000001"
    assert b == "CR0000002"
    assert count(con) == 2
    assert ops.get_request(con, a)["title"] == "Patch lnx-pay-030 kernel"
    assert ops.find_by_key(con, "k2")["reference"] == b
    assert ops.find_by_key(con, "nope") is None


def test_decide_records_who_when_and_moves_status(con) -> None:  # type: ignore[no-untyped-def]
    ref = submit(con, fields(), "k1")
    at = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
    result = decide(con, ref, "approved", decided_by="cab@example.com", comment="ok, off-peak", now=at)
    assert (result.decision, result.decided_by, result.decided_at) == (
        "approved",
        "cab@example.com",
        "2026-11-27T09:30:00+00:00",
    )
    row = ops.get_request(con, ref)
    assert row["status"] == "approved"
    assert row["decision_comment"] == "ok, off-peak"
    assert row["updated_at"] == "2026-11-27T09:30:00+00:00"
    # a double click on the same button writes nothing more
    again = decide(con, ref, "approved", decided_by="CAB@example.com", comment="ok, off-peak")
    assert again.repeated
    assert count(con, "decision") == 1
    # a conflicting decision is refused, saying who decided first
    with pytest.raises(ops.DecisionRefused, match=r"already approved by cab@example\.com"):
        decide(con, ref, "rejected", decided_by="bob", comment="no")
    with pytest.raises(ops.DecisionRefused, match="no request"):
        decide(con, "CR9999999", "approved", decided_by="bob")
    with pytest.raises(ops.DecisionRefused):
        decide(con, ref, "maybe", decided_by="bob")
    assert ops.decisions(con, ref) == [
        {
            "decision": "approved",
            "comment": "ok, off-peak",
            "decided_by": "cab@example.com",
            "decided_at": "2026-11-27T09:30:00+00:00",
        }
    ]


def test_list_requests_by_requester_and_status(con) -> None:  # type: ignore[no-untyped-def]
    a = submit(con, fields(created_by="Alice"), "k1")
    b = submit(con, fields(created_by="bob"), "k2")
    c = submit(con, fields(created_by="alice"), "k3")
    decide(con, c, "rejected", decided_by="cab", comment="no")
    assert [r["reference"] for r in ops.list_requests(con, created_by="ALICE")] == [c, a]
    assert [r["reference"] for r in ops.list_requests(con, statuses=["submitted"])] == [b, a]
    assert ops.list_requests(con, statuses=[]) == []
    assert ops.list_requests(con, created_by="alice", statuses=["rejected"])[0]["decision"] == "rejected"
    assert ops.list_requests(con)[0]["cis"] == ["lnx-pay-030"]


REQUEST = {
    "reference": "CR0000042",
    "title": "Patch lnx-pay-030 kernel",
    "cis": ["lnx-pay-030"],
    "window_start": "2026-12-10T09:00:00+00:00",
    "window_end": "2026-12-10T11:00:00+00:00",
    "status": "submitted",
}


def change(**kw: object) -> dict[str, object]:
    base: dict[str, object] = {
        "number": "CHG0040001",
        "source_system": "servicenow",
        "title": "Patch kernel on lnx-pay-030",
        "primary_ci_name": "LNX-PAY-030",
        "planned_start_at": datetime(2026, 12, 10, 10, 0),
        "planned_end_at": datetime(2026, 12, 10, 12, 0),
        "state_category": "open",
        "outcome": None,
    }
    base.update(kw)
    return base


def test_match_by_quoted_reference() -> None:
    quoted = change(
        number="CHG1", title="Other words", primary_ci_name="x", description="from form cr0000042."
    )
    m = match_request(REQUEST, [quoted])
    assert m is not None
    assert (m.number, m.rule) == ("CHG1", "reference quoted")
    assert match_request(REQUEST, [change(primary_ci_name="x", title="see CR00000421")]) is None


def test_match_by_ci_window_and_title() -> None:
    m = match_request(REQUEST, [change()])
    assert m is not None
    assert m.rule == "same CI, overlapping window, similar title"
    assert m.similarity is not None
    assert m.similarity >= ops.MATCH_TITLE_SIMILARITY
    assert match_request(REQUEST, [change(primary_ci_name="other-ci")]) is None
    assert match_request(REQUEST, [change(planned_start_at=datetime(2026, 12, 11))]) is None
    assert match_request(REQUEST, [change(title="Replace the load balancer")]) is None
    assert match_request(REQUEST, [change(source_system="form")]) is None
    best = match_request(REQUEST, [change(number="A", title="Patch lnx kernel"), change(number="B")])
    assert best is not None
    assert best.number == "B"


def test_derived_status() -> None:
    closed = Match("CHG1", "reference quoted", "closed", "successful")
    open_ = Match("CHG1", "reference quoted", "open", None)
    assert derive_status(REQUEST, on_agenda=False, match=None) == "submitted"
    assert derive_status(REQUEST, on_agenda=True, match=None) == "on the CAB agenda"
    assert derive_status({**REQUEST, "status": "approved"}, on_agenda=True, match=None) == "approved"
    assert derive_status({**REQUEST, "status": "approved"}, on_agenda=True, match=open_) == "matched"
    assert derive_status(REQUEST, on_agenda=True, match=closed) == "implemented"
    assert derive_status({**REQUEST, "status": "rejected"}, on_agenda=True, match=closed) == "rejected"


def test_export_servicenow_csv_and_json(tmp_path: Path) -> None:
    db = tmp_path / "ops.sqlite"
    c = connect_ops(db)
    try:
        ref = submit(c, fields(title='Patch "kernel", now\nplease'), "k1")
        decide(c, ref, "approved", decided_by="cab@example.com", comment="fine")
        submit(c, fields(created_by="bob"), "k2")
        rejected = submit(c, fields(), "k3")
        decide(c, rejected, "rejected", decided_by="cab", comment="no")
    finally:
        c.close()
    out = tmp_path / "out" / "import.csv"
    assert export_requests.export(db, "servicenow-csv", out) == 2
    text = out.read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == list(export_requests.CSV_COLUMNS)
    assert all(k.startswith("u_") for k in rows[0])
    first = rows[0]
    assert first["u_correlation_id"] == ref
    assert first["u_short_description"] == 'Patch "kernel", now please'.replace(" please", "\nplease")
    assert first["u_start_date"] == "2026-12-10 09:00:00"
    assert first["u_impact"] == "2"
    assert first["u_approval"] == "approved"
    assert first["u_cab_comment"] == "fine"
    assert first["u_description"].startswith("=HYPERLINK")  # as typed, unless --excel-safe
    safe = tmp_path / "safe.csv"
    export_requests.export(db, "servicenow-csv", safe, excel_safe=True)
    safe_rows = list(csv.DictReader(io.StringIO(safe.read_text(encoding="utf-8-sig"))))
    assert safe_rows[0]["u_description"].startswith("'=HYPERLINK")
    assert safe_rows[0]["u_backout_plan"].startswith("'- boot")

    js = tmp_path / "payloads.json"
    assert export_requests.export(db, "servicenow-json", js, statuses=["rejected"]) == 1
    doc = json.loads(js.read_text(encoding="utf-8"))
    (item,) = doc["requests"]
    assert item["reference"] == rejected
    call = item["change_request"]
    assert call["path"] == "/api/now/table/change_request"
    assert call["body"]["correlation_id"] == rejected
    assert call["body"]["type"] == "normal"
    assert call["body"]["start_date"] == "2026-12-10 09:00:00"
    assert [t["body"]["ci_item"] for t in item["task_ci"]] == ["lnx-pay-030"]
    assert "CAB decision: rejected by cab" in call["body"]["work_notes"]
    assert not list(out.parent.glob(".*.part"))


def test_cli_requests_export(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from changeboard.cli import app

    data = DataDir(tmp_path / "data").ensure()
    c = connect_ops(data.ops_db)
    submit(c, fields(), "k1")
    c.close()
    out = tmp_path / "x.json"
    result = CliRunner().invoke(
        app,
        [
            "requests",
            "export",
            "--format",
            "servicenow-json",
            "--out",
            str(out),
            "--data-dir",
            str(data.root),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "wrote 1 request(s)" in result.output
    assert json.loads(out.read_text())["requests"][0]["reference"] == "CR0000001"
    bad = CliRunner().invoke(
        app, ["requests", "export", "--format", "xml", "--out", str(out), "--data-dir", str(data.root)]
    )
    assert bad.exit_code != 0


# --- durability ------------------------------------------------------------------------------------------


def test_a_crash_between_commit_and_confirmation_loses_nothing(tmp_path: Path) -> None:
    db = tmp_path / "ops.sqlite"
    connect_ops(db).close()
    script = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from changeboard.store.requests import connect_ops, submit
        con = connect_ops(Path(sys.argv[1]))
        ref = submit(con, {"created_by": "alice", "title": "crash test", "change_type": "normal"}, "the-key")
        print("CONFIRMED", ref)  # never reached: the process dies right after the commit
        """
    )
    env = {**os.environ, FAULT_ENV: "form:after_commit"}
    p = subprocess.run(
        [sys.executable, "-c", script, str(db)], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert p.returncode == -9, p.stderr
    assert "CONFIRMED" not in p.stdout
    c = connect_ops(db)
    try:
        assert c.execute("select reference, title from change_request").fetchall() == [
            ("CR0000001", "crash test")
        ]
        # the requester retries (same form instance, same key): the same reference, still one request
        assert submit(
            c, {"created_by": "alice", "title": "crash test", "change_type": "normal"}, "the-key"
        ) == ("CR0000001")
        assert count(c) == 1
    finally:
        c.close()


def test_a_store_caught_while_it_is_being_created_reads_as_empty(tmp_path: Path) -> None:
    """The app creates the store the first time someone opens the form; a pipeline run that opens the
    file between its creation and its schema (seen in CI: "no such table: change_request") reads no
    request instead of failing, and the schema appears all at once."""
    path = tmp_path / "ops" / "ops.sqlite"
    path.parent.mkdir()
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("pragma journal_mode=wal")  # the file exists, no table yet: the moment the reader hit
    frames = forms.read_form_store(path)
    assert {f.entity: f.frame.height for f in frames} == {
        "change": 0,
        "change_ci": 0,
        "approval": 0,
        "cab_decision": 0,
    }
    raw.execute("begin immediate")  # a creator holding its schema transaction: readers see no table
    store = threading.Thread(target=lambda: connect_ops(path).close())
    store.start()
    assert all(f.frame.height == 0 for f in forms.read_form_store(path))
    raw.execute("commit")
    store.join()
    submit(connect_ops(path), fields(), "k1")
    assert [f.frame.height for f in forms.read_form_store(path) if f.entity == "change"] == [1]
