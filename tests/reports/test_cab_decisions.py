"""CAB decisions on every agenda item (changeboard/store/cab_decisions.py): the four kinds, their rules,
idempotency, form requests moving with them, the chair's running order; and the decisions published by the
next build as fct_cab_decisions (a real sync and dbt build)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

from changeboard.paths import DataDir
from changeboard.pipeline import build_run, ingest_run
from changeboard.store import cab_decisions as cd
from changeboard.store import requests as ops
from changeboard.store.requests import DecisionRefused, connect_ops, submit
from changeboard.warehouse.versions import connect_published

MEETING = datetime(2026, 11, 27, 10, 0)


def itsm(number: str = "CHG0000101", **kw: object) -> cd.AgendaItem:
    base: dict[str, object] = {
        "change_id": f"servicenow:{number}",
        "source_system": "servicenow",
        "number": number,
        "title": "Patch db-01",
        "source_id": "a" * 32,
        "risk_level": "high",
        "risk_score": 7,
        "collision_count": 2,
    }
    base.update(kw)
    return cd.AgendaItem(**base)  # type: ignore[arg-type]


@pytest.fixture
def con(tmp_path: Path):  # type: ignore[no-untyped-def]
    c = connect_ops(tmp_path / "ops" / "ops.sqlite")
    yield c
    c.close()


def test_the_four_decisions_and_what_each_needs(con) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DecisionRefused, match="needs a reason"):
        cd.record_decision(con, itsm("CHG1"), "rejected", decided_by="ann", meeting_at=MEETING)
    with pytest.raises(DecisionRefused, match="needs the conditions"):
        cd.record_decision(
            con, itsm("CHG1"), "approved_with_conditions", decided_by="ann", meeting_at=MEETING
        )
    with pytest.raises(DecisionRefused, match="date it comes back"):
        cd.record_decision(con, itsm("CHG1"), "deferred", decided_by="ann", meeting_at=MEETING)
    with pytest.raises(DecisionRefused, match="after the meeting"):
        cd.record_decision(
            con, itsm("CHG1"), "deferred", decided_by="ann", meeting_at=MEETING, deferred_to="2026-11-27"
        )
    with pytest.raises(DecisionRefused, match="one of"):
        cd.record_decision(con, itsm("CHG1"), "maybe", decided_by="ann")
    with pytest.raises(DecisionRefused, match="name of who"):
        cd.record_decision(con, itsm("CHG1"), "approved", decided_by="  ")
    assert con.execute("select count(*) from cab_decision").fetchone()[0] == 0

    at = datetime(2026, 11, 27, 10, 5, tzinfo=UTC)
    a = cd.record_decision(con, itsm("CHG1"), "approved", decided_by="ann", meeting_at=MEETING, now=at)
    r = cd.record_decision(
        con, itsm("CHG2"), "rejected", decided_by="ann", reason="no backout", meeting_at=MEETING
    )
    c = cd.record_decision(
        con,
        itsm("CHG3"),
        "approved_with_conditions",
        decided_by="bob",
        conditions="after 22:00",
        meeting_at=MEETING,
    )
    d = cd.record_decision(
        con, itsm("CHG4"), "deferred", decided_by="bob", deferred_to=date(2026, 12, 4), meeting_at=MEETING
    )
    assert (a.decision, a.decided_by, a.decided_at) == ("approved", "ann", "2026-11-27T10:05:00+00:00")
    assert (r.reason, c.conditions, d.deferred_to) == ("no backout", "after 22:00", "2026-12-04")
    rows = cd.list_decisions(con, meeting_at=MEETING)
    assert [x["number"] for x in rows] == ["CHG1", "CHG2", "CHG3", "CHG4"]
    assert rows[0]["source_id"] == "a" * 32
    assert rows[0]["risk_level"] == "high"
    assert rows[0]["collision_count"] == 2
    assert rows[0]["meeting_at"] == "2026-11-27T10:00:00+00:00"


def test_repeats_are_no_ops_and_final_decisions_stand(con) -> None:  # type: ignore[no-untyped-def]
    first = cd.record_decision(con, itsm(), "approved", decided_by="Ann", meeting_at=MEETING)
    again = cd.record_decision(con, itsm(), "approved", decided_by="ann", meeting_at=MEETING)
    assert again.repeated
    assert again.cab_decision_id == first.cab_decision_id
    with pytest.raises(DecisionRefused, match="already approved by Ann"):
        cd.record_decision(con, itsm(), "rejected", decided_by="bob", reason="no", meeting_at=MEETING)
    assert con.execute("select count(*) from cab_decision").fetchone()[0] == 1
    # a deferral is not final: the item is decided at the later meeting
    later = datetime(2026, 12, 4, 10, 0)
    cd.record_decision(
        con, itsm("CHG9"), "deferred", decided_by="ann", deferred_to="2026-12-04", meeting_at=MEETING
    )
    cd.record_decision(con, itsm("CHG9"), "rejected", decided_by="ann", reason="obsolete", meeting_at=later)
    latest = cd.latest_decisions(con, ["servicenow:CHG9", "servicenow:CHG0000101", "servicenow:nope"])
    assert {k: v["decision"] for k, v in latest.items()} == {
        "servicenow:CHG9": "rejected",
        "servicenow:CHG0000101": "approved",
    }


def test_approving_inside_a_blackout_needs_a_confirmation(con) -> None:  # type: ignore[no-untyped-def]
    frozen = itsm("CHG7", in_blackout=True, blackout_window_name="Year-end freeze")
    with pytest.raises(
        DecisionRefused, match="inside Year-end freeze: approving it needs an explicit confirmation"
    ):
        cd.record_decision(con, frozen, "approved", decided_by="ann", meeting_at=MEETING)
    with pytest.raises(DecisionRefused, match="explicit confirmation"):
        cd.record_decision(
            con, frozen, "approved_with_conditions", decided_by="ann", conditions="x", meeting_at=MEETING
        )
    # rejecting or deferring it needs none
    cd.record_decision(con, itsm("CHG8", in_blackout=True), "rejected", decided_by="ann", reason="freeze")
    ok = cd.record_decision(
        con, frozen, "approved", decided_by="ann", meeting_at=MEETING, blackout_confirmed=True
    )
    row = cd.latest_decisions(con)[ok.change_id]
    assert row["blackout_confirmed"] == 1
    assert row["in_blackout"] == 1
    assert row["blackout_window_name"] == "Year-end freeze"


def test_a_form_request_moves_with_its_cab_decision(con) -> None:  # type: ignore[no-untyped-def]
    base = {"created_by": "alice", "title": "t", "change_type": "normal", "cis": ["db-1"]}
    r1, r2, r3 = (submit(con, base, f"k{i}") for i in (1, 2, 3))
    item = lambda ref: cd.AgendaItem(change_id=f"form:{ref}", source_system="form", number=ref)  # noqa: E731
    cd.record_decision(con, item(r1), "approved_with_conditions", decided_by="ann", conditions="after 22:00")
    cd.record_decision(con, item(r2), "rejected", decided_by="ann", reason="duplicate")
    cd.record_decision(con, item(r3), "deferred", decided_by="ann", deferred_to="2026-12-04")
    got = {r["reference"]: r for r in ops.list_requests(con)}
    assert (got[r1]["status"], got[r1]["decision_comment"]) == ("approved", "Conditions: after 22:00")
    assert (got[r2]["status"], got[r2]["decision_comment"]) == ("rejected", "duplicate")
    assert got[r3]["status"] == "submitted"  # still waiting: it comes back on 4 December
    with pytest.raises(DecisionRefused, match="no form request"):
        cd.record_decision(con, item("CR9999999"), "approved", decided_by="ann")
    # decided earlier on the requests page: the CAB cannot silently overwrite it
    r4 = submit(con, base, "k4")
    ops.decide(con, r4, "rejected", decided_by="carol", comment="no")
    with pytest.raises(DecisionRefused, match="already rejected by carol"):
        cd.record_decision(con, item(r4), "approved", decided_by="ann")
    assert ops.get_request(con, r4)["status"] == "rejected"


def test_running_order_and_attendees(con) -> None:  # type: ignore[no-untyped-def]
    cd.save_running_order(
        con, MEETING, [("servicenow:CHG2", 10), ("servicenow:CHG1", None)], updated_by="chair"
    )
    assert cd.running_order(con, MEETING) == {"servicenow:CHG2": (1, 10), "servicenow:CHG1": (2, None)}
    cd.save_running_order(con, MEETING, [("servicenow:CHG1", 5)], updated_by="chair")
    assert cd.running_order(con, MEETING) == {"servicenow:CHG1": (1, 5)}
    with pytest.raises(ValueError, match="1 to 480"):
        cd.save_running_order(con, MEETING, [("servicenow:CHG1", 0)], updated_by="chair")
    cd.add_attendee(con, MEETING, "Ann Chair", role="chair", added_by="ann")
    cd.add_attendee(con, MEETING, "Bob", added_by="ann")
    cd.add_attendee(con, MEETING, "Bob", role="network", added_by="ann")
    assert [(a["name"], a["role"]) for a in cd.attendees(con, MEETING)] == [
        ("Ann Chair", "chair"),
        ("Bob", "network"),
    ]


@pytest.fixture(scope="module")
def decided_build(
    copy_built: Callable[[Path], DataDir], tmp_path_factory: pytest.TempPathFactory
) -> tuple[DataDir, dict[str, str]]:
    """A copy of the suite's built sample in which the CAB decided agenda items of both kinds, synced and
    built again (one real dbt build)."""
    data = copy_built(tmp_path_factory.mktemp("cabdecided"))
    wh, _pub = connect_published(data)
    try:
        rows = wh.sql(
            "select * from rpt_cab_agenda where agenda_section = 'awaiting_decision' "
            "order by source_system = 'form' desc, number"
        ).pl()
    finally:
        wh.close()
    others = rows.filter(rows["source_system"] != "form").head(3).to_dicts()
    assert len(others) == 3, "the sample needs ITSM changes awaiting a decision"
    con = connect_ops(data.ops_db)
    base = {"created_by": "alice", "change_type": "normal", "cis": ["db-1"]}
    forms = [
        {"change_id": f"form:{ref}", "source_system": "form", "number": ref, "title": f"form {i}"}
        for i in range(3)
        for ref in [submit(con, {**base, "title": f"form {i}"}, f"cabtest-{i}")]
    ]
    decided: dict[str, str] = {}
    try:
        kinds = [
            ("approved_with_conditions", {"conditions": "after 22:00"}),
            ("rejected", {"reason": "no backout plan"}),
            ("deferred", {"deferred_to": "2026-12-11"}),
        ]
        for row, (kind, extra) in zip(others + forms, kinds * 2, strict=False):
            item = cd.AgendaItem.from_row(row)
            cd.record_decision(
                con,
                item,
                kind,
                decided_by="ann@example.com",
                identity_verified=True,
                meeting_at=MEETING,
                blackout_confirmed=True,
                **extra,  # type: ignore[arg-type]
            )
            decided[item.change_id] = kind
    finally:
        con.close()
    run = ingest_run.new_run_id()
    ingest_run.sync_forms(data, run_id=run)
    build_run.build(data, run_id=run, as_of="2026-11-26 00:00:00")
    return data, decided


def test_decisions_are_published_as_fct_cab_decisions(decided_build) -> None:  # type: ignore[no-untyped-def]
    data, decided = decided_build
    wh, _pub = connect_published(data)
    try:
        got = wh.sql("select * from fct_cab_decisions order by cab_decision_id").pl()
        docs = wh.sql("select comment from duckdb_tables() where table_name = 'fct_cab_decisions'").fetchall()
    finally:
        wh.close()
    assert dict(zip(got["change_id"], got["decision"], strict=True)) == decided
    assert got["is_latest"].all()
    assert got["is_change_known"].all()
    assert set(got["source_system"]) >= {"form"}
    assert len(set(got["source_system"])) >= 2
    assert got["decided_by"].unique().to_list() == ["ann@example.com"]
    assert got["is_identity_verified"].all()
    assert got.filter(got["decision"] == "rejected")["reason"].to_list()[0] == "no backout plan"
    assert got.filter(got["decision"] == "deferred")["deferred_to"].to_list()[0] == date(2026, 12, 11)
    assert got["meeting_at"].unique().to_list() == [MEETING]
    assert docs
    assert "One row per CAB decision" in str(docs[0][0])


def test_sync_is_idempotent(decided_build) -> None:  # type: ignore[no-untyped-def]
    data, decided = decided_build
    run = ingest_run.new_run_id()
    ingest_run.sync_forms(data, run_id=run)
    con = duckdb.connect(str(data.ingest_db), read_only=True)
    try:
        n = con.execute("select count(distinct source_id), count(*) from raw.cab_decision").fetchall()[0]
    finally:
        con.close()
    assert n[0] == len(decided)


# --- the export back to the system of record ---------------------------------------------------------------


def _decided_store(data: DataDir) -> str:
    con = connect_ops(data.ops_db)
    try:
        ref = submit(
            con, {"created_by": "alice", "title": "=cmd|x", "change_type": "normal", "cis": []}, "k1"
        )
        form = cd.AgendaItem(change_id=f"form:{ref}", source_system="form", number=ref, title="=cmd|x")
        cd.record_decision(
            con,
            itsm("CHG1"),
            "approved_with_conditions",
            decided_by="ann@example.com",
            identity_verified=True,
            conditions="after 22:00",
            meeting_at=MEETING,
        )
        cd.record_decision(
            con,
            itsm("CHG2", source_id=None),
            "rejected",
            decided_by="ann",
            reason="no backout",
            meeting_at=MEETING,
        )
        cd.record_decision(
            con, itsm("CHG3"), "deferred", decided_by="ann", deferred_to="2026-12-04", meeting_at=MEETING
        )
        cd.record_decision(con, form, "approved", decided_by="ann", meeting_at=MEETING)
        jira = cd.AgendaItem(
            change_id="jira:OPS-7", source_system="jira", number="OPS-7", title="Rotate keys"
        )
        cd.record_decision(
            con, jira, "rejected", decided_by="bob", reason="duplicate of OPS-6", meeting_at=MEETING
        )
        # an earlier meeting's deferral, decided again at the later one: only the decision in force goes out
        later = datetime(2026, 12, 4, 10, 0)
        cd.record_decision(con, itsm("CHG3"), "approved", decided_by="ann", meeting_at=later)
    finally:
        con.close()
    return ref


def _csv_rows(path: Path) -> list[dict[str, str]]:
    import csv

    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def test_export_servicenow_csv_json_and_jira_csv(tmp_path: Path) -> None:
    from changeboard.store import cab_export

    data = DataDir(tmp_path / "data").ensure()
    ref = _decided_store(data)
    out = tmp_path / "sn.csv"
    result = cab_export.export(data.ops_db, "servicenow-csv", out)
    assert (result.written, result.left_out) == (4, {"jira": 1})
    rows = {r["u_number"] or r["u_correlation_id"]: r for r in _csv_rows(out)}
    assert list(rows) == ["CHG1", "CHG2", ref, "CHG3"]  # oldest first; CHG3's approval replaced its deferral
    assert list(_csv_rows(out)[0]) == list(cab_export.SN_COLUMNS)
    assert (rows["CHG1"]["u_approval"], rows["CHG1"]["u_cab_conditions"]) == ("approved", "after 22:00")
    assert rows["CHG1"]["u_sys_id"] == "a" * 32
    assert rows["CHG2"]["u_sys_id"] == ""
    assert (rows["CHG2"]["u_approval"], rows["CHG2"]["u_cab_reason"]) == ("rejected", "no backout")
    assert rows["CHG3"]["u_cab_decision"] == "approved"
    assert rows["CHG3"]["u_cab_date"] == "2026-12-04 10:00:00"
    assert rows[ref]["u_number"] == ""
    assert rows[ref]["u_correlation_id"] == ref
    assert rows["CHG1"]["u_cab_decided_at"]
    assert rows["CHG1"]["u_cab_identity_verified"] == "true"
    assert "identity not verified" in rows["CHG2"]["u_work_notes"]
    assert "Conditions: after 22:00" in rows["CHG1"]["u_work_notes"]

    # one meeting only: the deferral of 27 November was replaced, so that meeting exports 3
    only = cab_export.export(data.ops_db, "servicenow-csv", out, meeting_at=MEETING)
    assert only.written == 3

    doc = tmp_path / "sn.json"
    cab_export.export(data.ops_db, "json", doc)
    import json

    calls = {c["number"]: c for c in json.loads(doc.read_text())["decisions"]}
    assert calls["CHG1"]["find"] is None
    assert calls["CHG1"]["update"]["path"] == "/api/now/table/change_request/" + "a" * 32
    assert calls["CHG1"]["update"]["body"]["approval"] == "approved"
    assert calls["CHG2"]["find"]["query"]["sysparm_query"] == "number=CHG2"
    assert calls[ref]["find"]["query"]["sysparm_query"] == f"correlation_id={ref}"

    jira = tmp_path / "jira.csv"
    res = cab_export.export(data.ops_db, "jira-csv", jira, excel_safe=True)
    assert (res.written, res.left_out) == (1, {"form": 1, "servicenow": 3})
    (row,) = _csv_rows(jira)
    assert (row["Issue Key"], row["CAB decision"], row["CAB reason"]) == (
        "OPS-7",
        "Rejected",
        "duplicate of OPS-6",
    )
    assert list(row) == list(cab_export.JIRA_COLUMNS)
    # a title a spreadsheet would run is neutralised only with excel_safe
    cab_export.export(data.ops_db, "servicenow-csv", out, excel_safe=True)
    assert all(not v.startswith("=") for r in _csv_rows(out) for v in r.values())


def test_cli_cab_decisions_export(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from changeboard.cli import app

    data = DataDir(tmp_path / "data").ensure()
    _decided_store(data)
    out = tmp_path / "x.csv"
    args = ["cab", "decisions", "export", "--out", str(out), "--data-dir", str(data.root)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "wrote 4 CAB decision(s)" in result.output
    assert "left out 1 decision(s) on jira changes: export them with --format jira-csv" in result.output
    assert len(_csv_rows(out)) == 4
    result = CliRunner().invoke(app, [*args, "--format", "jira-csv", "--at", "2026-11-27T10:00"])
    assert result.exit_code == 0, result.output
    assert "wrote 1 CAB decision(s) of the meeting 2026-11-27 10:00 UTC" in result.output
    bad = CliRunner().invoke(app, [*args, "--format", "xml"])
    assert bad.exit_code != 0
    assert "unknown format" in bad.output


def test_the_sys_id_of_the_servicenow_export_reaches_the_decisions_export(
    decided_build, tmp_path: Path
) -> None:
    """A ServiceNow change's sys_id travels from the raw list export (the sample's change_request.csv)
    through the agenda (rpt_cab_agenda.source_id) into the decision and the servicenow-csv / json export."""
    import csv
    import json

    from changeboard.store import cab_export

    data, decided = decided_build
    with (data.samples / "servicenow" / "change_request.csv").open(encoding="cp1252", newline="") as f:
        raw = {r["number"]: r["sys_id"] for r in csv.DictReader(f)}
    sn = {cid.split(":", 1)[1] for cid in decided if cid.startswith("servicenow:")}
    assert sn, "the sample's decisions include ServiceNow changes"
    wh, _pub = connect_published(data)
    try:
        agenda = dict(
            wh.sql(
                "select number, source_id from rpt_cab_agenda where source_system = 'servicenow'"
            ).fetchall()
        )
        published = dict(
            wh.sql(
                "select number, change_source_id from fct_cab_decisions where source_system = 'servicenow'"
            ).fetchall()
        )
    finally:
        wh.close()
    for number in sn:
        assert agenda[number] == raw[number]
        assert published[number] == raw[number]
    out = tmp_path / "sn.csv"
    cab_export.export(data.ops_db, "servicenow-csv", out)
    rows = {r["u_number"]: r for r in _csv_rows(out) if r["u_number"]}
    assert {n: rows[n]["u_sys_id"] for n in sn} == {n: raw[n] for n in sn}
    doc = tmp_path / "sn.json"
    cab_export.export(data.ops_db, "json", doc)
    calls = {c["number"]: c for c in json.loads(doc.read_text())["decisions"]}
    for number in sn:
        assert calls[number]["find"] is None
        assert calls[number]["update"]["path"] == f"/api/now/table/change_request/{raw[number]}"


def test_only_a_real_sys_id_is_exported_and_a_missing_one_is_looked_up(tmp_path: Path) -> None:
    """An export without a sys_id column keys its changes by number (the connector's fallback): that
    number is never sent as a sys_id. A decision that recorded no sys_id gets the warehouse's."""
    from changeboard.store import cab_export

    data = DataDir(tmp_path / "data").ensure()
    con = connect_ops(data.ops_db)
    try:
        cd.record_decision(
            con, itsm("CHG5", source_id="CHG5"), "approved", decided_by="ann", meeting_at=MEETING
        )
        cd.record_decision(
            con, itsm("CHG6", source_id=None), "approved", decided_by="ann", meeting_at=MEETING
        )
    finally:
        con.close()
    known = {"servicenow:CHG6": "b" * 32, "servicenow:CHG5": "CHG5"}
    out = tmp_path / "sn.csv"
    cab_export.export(data.ops_db, "servicenow-csv", out, source_ids=known)
    rows = {r["u_number"]: r for r in _csv_rows(out)}
    assert (rows["CHG5"]["u_sys_id"], rows["CHG6"]["u_sys_id"]) == ("", "b" * 32)
    calls = cab_export.table_api_calls(
        cab_export.with_source_ids(cab_export.read_decisions(data.ops_db), known)
    )
    by = {c["number"]: c for c in calls}
    assert by["CHG5"]["find"]["query"]["sysparm_query"] == "number=CHG5"
    assert by["CHG6"]["find"] is None
