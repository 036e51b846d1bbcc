"""The pack people read (--detail summary|full): the executive summary first, one line per change, the
timeline one landscape page per week with labels of 7 pt or more, the detail as an appendix; the
minutes of a meeting. PDF pages are checked by extracting their text and counting them (pypdf)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest
from icalendar import Calendar
from matplotlib.text import Text
from pypdf import PdfReader

from changeboard.paths import DataDir
from changeboard.reports import cab, cab_charts, cab_meeting, cab_minutes
from changeboard.store import cab_decisions as cd
from changeboard.store.requests import connect_ops
from changeboard.warehouse.versions import connect_published

SUMMARY_PAGES = 10


@pytest.fixture(scope="module")
def warehouse(built_data: DataDir) -> Iterator[duckdb.DuckDBPyConnection]:
    con, _pub = connect_published(built_data)
    try:
        yield con
    finally:
        con.close()


@pytest.fixture(scope="module")
def pack(warehouse: duckdb.DuckDBPyConnection) -> cab.CabPack:
    return cab.cab_pack(warehouse, None)


def pdf_pages(payload: bytes) -> list[str]:
    return [" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(payload)).pages]


def test_summary_pdf_leads_with_the_executive_summary_and_fits_ten_pages(
    pack: cab.CabPack, output_dir: Path
) -> None:
    payload = cab.render(pack, "pdf")
    (output_dir / "cab-summary.pdf").write_bytes(payload)
    pages = pdf_pages(payload)
    assert len(pages) <= SUMMARY_PAGES, len(pages)
    first = pages[0]
    assert first.index("Executive summary") < first.index("KPI strip") < first.index("Decisions needed")
    summ = cab.summary(pack)
    top = summ["decisions"]["items"][0]
    assert top["number"] in first  # the highest-risk item awaiting a decision is on page 1
    awaiting = cab._by_risk(pack.section("awaiting_decision"))
    assert top["number"].split(" ")[0] == awaiting["number"][0]
    assert "High-risk, colliding or in a blackout" in " ".join(pages[:2])
    text = " ".join(pages)
    assert "The agenda, one line per change" in text
    # the executive summary takes one or two pages: the one-line agenda starts on page 2 or 3
    assert any(p.startswith("The agenda, one line per change") for p in pages[1:3])
    assert "low-risk standard changes" in text
    for item in summ["standard_low"]["items"][:5]:
        assert item["number"] in text
    # the timeline: one page per week, after the one-line agenda; no appendix in summary mode
    weeks = [i for i, p in enumerate(pages) if p.startswith("Forward schedule, week")]
    assert weeks
    assert all(i > 0 for i in weeks)
    assert "Appendix: the detail" not in text


def test_full_detail_adds_the_appendix(pack: cab.CabPack) -> None:
    summary, full = pdf_pages(cab.render(pack, "pdf")), pdf_pages(cab.render(pack, "pdf", detail="full"))
    assert len(full) > len(summary)
    text = " ".join(full)
    assert text.index("Executive summary") < text.index("Appendix: the detail")
    assert "Evidence (90 days)" in text
    assert "Evidence (90 days)" not in " ".join(summary)
    md = cab.render(pack, "md").decode()
    assert "## Executive summary" in md
    assert "# Appendix" not in md
    assert "# Appendix: the detail" in cab.render(pack, "md", detail="full").decode()
    with pytest.raises(ValueError, match="unknown detail"):
        cab.render(pack, "pdf", detail="brief")


def test_summary_lists_cap_and_count(pack: cab.CabPack, monkeypatch) -> None:
    monkeypatch.setitem(cab.SUMMARY_LIMITS, "awaiting", 2)
    summ = cab.summary(pack)
    total = pack.section("awaiting_decision").height
    assert total > 2
    assert (len(summ["awaiting"]["items"]), summ["awaiting"]["total"], summ["awaiting"]["hidden"]) == (
        2,
        total,
        total - 2,
    )
    text = " ".join(pdf_pages(cab.render(pack, "pdf")))
    assert f"… and {total - 2} more" in text
    scores = [int(i["risk"].split("(")[1].rstrip(")")) for i in summ["decisions"]["items"]]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("paper", cab.PAPERS)
def test_timeline_pages_print_labels_at_seven_points(pack: cab.CabPack, paper: str) -> None:
    """Each week's figure is drawn at the page's size (so it is not shrunk) and no text is under 7 pt."""
    from reportlab.lib.pagesizes import landscape
    from reportlab.lib.units import inch, mm

    from changeboard.reports import cab_pdf

    size = landscape(cab_pdf.PAGES[paper])
    width = (size[0] - 2 * cab_pdf.MARGIN) / inch
    height = (size[1] - 2 * cab_pdf.MARGIN - 4 * mm - 14 * mm) / inch
    pages = cab_charts.timeline_pages(pack, width_in=width, height_in=height)
    assert pages
    fs = pack.forward_schedule
    drawn: set[str] = set()
    for _title, fig in pages:
        w, h = fig.get_size_inches()
        assert w <= width + 1e-6
        assert h <= height + 1e-6
        assert w >= h  # landscape
        sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_text().strip()]
        assert min(sizes) >= cab_charts.MIN_FONT
        drawn |= {t.get_text().strip() for t in fig.findobj(Text)}
    assert set(fs["number"]) <= drawn  # every change of the forward schedule is on some week's page


def test_minutes_in_every_format(built_data: DataDir, tmp_path: Path) -> None:
    import shutil

    store = tmp_path / "ops.sqlite"
    if built_data.ops_db.exists():
        shutil.copy(built_data.ops_db, store)
    con = connect_ops(store)
    meeting = datetime(2026, 11, 27, 10, 0)
    try:
        item = cd.AgendaItem(
            change_id="servicenow:CHG9", source_system="servicenow", number="CHG9", title="<b>x</b>"
        )
        cd.record_decision(
            con, item, "deferred", decided_by="ann", deferred_to="2026-12-04", meeting_at=meeting
        )
        other = cd.AgendaItem(
            change_id="servicenow:CHG8", source_system="servicenow", number="CHG8", title="Patch"
        )
        cd.record_decision(
            con,
            other,
            "approved_with_conditions",
            decided_by="bob",
            conditions="after 22:00",
            meeting_at=meeting,
        )
        cd.add_attendee(con, meeting, "Ann Chair", role="chair", added_by="ann")
        m = cab_minutes.minutes(con, meeting)
    finally:
        con.close()
    html = cab_minutes.render(m, "html").decode()
    assert "Ann Chair (chair)" in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html
    assert "Conditions: after 22:00" in html
    md = cab_minutes.render(m, "md").decode()
    assert "Back to the CAB on 2026\\-12\\-04" in md or "Back to the CAB on 2026-12-04" in md
    text = " ".join(pdf_pages(cab_minutes.render(m, "pdf")))
    assert "Attendees (1)" in text
    assert "Approved with conditions" in text
    assert "Deferred" in text
    cal = Calendar.from_ical(cab_minutes.render(m, "ics"))
    (event,) = list(cal.walk("VEVENT"))
    assert str(event["uid"]) == "deferred-servicenow-CHG9@changeboard"
    assert event.decoded("DTSTART").date().isoformat() == "2026-12-04"
    empty = cab_minutes.minutes(connect_ops(tmp_path / "empty.sqlite"), meeting)
    assert "No decision was recorded at this meeting" in cab_minutes.render(empty, "html").decode()


def test_cli_cab_minutes(built_data: DataDir, tmp_path: Path) -> None:
    import shutil

    from typer.testing import CliRunner

    from changeboard.cli import app

    data = DataDir(tmp_path / "data").ensure()
    if built_data.ops_db.exists():
        shutil.copy(built_data.ops_db, data.ops_db)
    con = connect_ops(data.ops_db)
    try:
        item = cd.AgendaItem(change_id="jira:OPS-1", source_system="jira", number="OPS-1", title="Rotate")
        cd.record_decision(
            con, item, "rejected", decided_by="ann", reason="duplicate", meeting_at=datetime(2026, 11, 27, 10)
        )
    finally:
        con.close()
    for fmt in cab_minutes.FORMATS:
        out = tmp_path / f"m.{fmt}"
        result = CliRunner().invoke(
            app,
            [
                "report",
                "cab-minutes",
                "--at",
                "2026-11-27",
                "--format",
                fmt,
                "--out",
                str(out),
                "--data-dir",
                str(data.root),
            ],
        )
        assert result.exit_code == 0, result.output
        assert out.stat().st_size > 0
    assert "1 rejected" in result.output or "0 deferred item(s)" in result.output
    assert "OPS-1" in (tmp_path / "m.md").read_text()


def test_a_past_meeting_is_rebuilt_as_it_stood_then(warehouse: duckdb.DuckDBPyConnection) -> None:
    """A meeting two days before the evidence time lists the changes that were awaiting a decision or
    scheduled then (from their timestamps), not today's states, and says what is still as of the build."""
    import polars as pl

    default = cab.cab_pack(warehouse, None)
    assert default.evidence_as_of is not None
    # two days before the evidence time (the sample raises its changes days before their windows)
    t = (default.evidence_as_of - timedelta(days=2)).replace(hour=10, minute=0, second=0, microsecond=0)
    f = t + (default.forward_end_at - default.meeting_at)
    past = cab.cab_pack(warehouse, t)
    ev = pl.DataFrame(warehouse.sql("select * from fct_change_risk_evidence"))
    raised = pl.col("opened_at").is_null() | (pl.col("opened_at") < t)
    open_then = pl.col("closed_at").is_null() | (pl.col("closed_at") >= t)
    awaiting = ev.filter(
        raised
        & open_then
        & (pl.col("change_type").fill_null("") != "standard")
        & (pl.col("actual_start_at").is_null() | (pl.col("actual_start_at") >= t))
        & ((pl.col("approved_at") >= t) | (pl.col("approved_at").is_null() & pl.col("is_awaiting_decision")))
    )
    scheduled = ev.filter(
        raised
        & open_then
        & ~pl.col("change_id").is_in(awaiting["change_id"].implode())
        & (pl.col("planned_start_at") >= t)
        & (pl.col("planned_start_at") < f)
        & ((pl.col("change_type") == "standard") | (pl.col("approved_at") < t))
    )
    assert awaiting.height > 0, "the sample has changes that were awaiting a decision two days before as_of"
    assert set(past.section("awaiting_decision")["change_id"]) == set(awaiting["change_id"])
    assert set(past.section("scheduled")["change_id"]) == set(scheduled["change_id"])
    assert scheduled.height > 0
    # today's rule would list only the changes still awaiting now: nearly nothing for a past meeting
    still = ev.filter(pl.col("is_awaiting_decision") & raised)
    assert awaiting.height > still.height
    (note,) = [n for n in past.notes if "before the warehouse's evidence time" in n]
    assert f"changeboard build --as-of '{t:%Y-%m-%d %H:%M:%S}'" in note
    assert note in " ".join(pdf_pages(cab.render(past, "pdf")))


def test_items_to_decide_follow_the_chairs_order_then_risk(pack: cab.CabPack) -> None:
    from changeboard.reports import cab_meeting

    default = cab_meeting.items_to_decide(pack)
    awaiting = pack.section("awaiting_decision")
    assert default.height == awaiting.height
    scores = default["risk_score"].to_list()
    assert scores == sorted(scores, reverse=True)
    assert default["position"].to_list() == list(range(1, default.height + 1))
    last, second_last = default["change_id"][-1], default["change_id"][-2]
    pending = [{"reference": "CR9999999", "title": "Late", "change_type": "normal", "cis": ["db-1"]}]
    ordered = cab_meeting.items_to_decide(pack, {last: (1, 15), second_last: (2, None)}, pending)
    assert ordered["change_id"].to_list()[:2] == [last, second_last]
    assert ordered["timebox_minutes"].to_list()[:2] == [15, None]
    assert ordered.row(-1, named=True)["change_id"] == "form:CR9999999"
    assert ordered.row(-1, named=True)["in_warehouse"] is False
    assert ordered.height == awaiting.height + 1


def test_every_format_honours_detail(pack: cab.CabPack) -> None:
    """--detail summary: the executive summary, one line per change and the timeline; full adds the
    appendix (every listed change's evidence, the collisions). HTML as the PDF and the Markdown."""
    summary, full = cab.render(pack, "html").decode(), cab.render(pack, "html", detail="full").decode()
    for html in (summary, full):
        assert (
            html.index('id="executive-summary"')
            < html.index('id="agenda-lines"')
            < html.index('id="schedule"')
        )
        for item in cab.summary(pack)["standard_low"]["items"][:5]:
            assert f'<tr data-change="{item["number"]}">' in html
    assert 'id="appendix"' not in summary
    assert "data-section=" not in summary
    assert 'id="collisions"' not in summary
    assert "Risk evidence (last 90 days)" not in summary
    assert 'id="detail-note"' in summary
    assert full.index('id="agenda-lines"') < full.index('id="appendix"') < full.index('id="collisions"')
    assert full.count("data-section=") == sum(
        min(pack.section(s).height, cab.DEFAULT_SECTION_LIMIT) for s in cab.SECTIONS
    )
    assert "Risk evidence (last 90 days)" in full
    assert len(full) > len(summary)


def _ordered(pack: cab.CabPack) -> tuple[cab.CabPack, str, str]:
    """The pack with the third item awaiting a decision moved to the top (15 min) and the first second
    (10 min): returns the pack, the moved number and the number that was first."""
    awaiting = pack.section("awaiting_decision")
    ids, numbers = awaiting["change_id"].to_list(), awaiting["number"].to_list()
    order = {ids[2]: (1, 15), ids[0]: (2, 10)}
    return cab_meeting.with_running_order(pack, order), numbers[2], numbers[0]


def test_the_chairs_running_order_in_every_format(pack: cab.CabPack) -> None:
    ordered, moved, first = _ordered(pack)
    at = ordered.meeting_at
    slot1 = f"15 min ({at:%H:%M}–{at + timedelta(minutes=15):%H:%M})"
    slot2 = f"10 min ({at + timedelta(minutes=15):%H:%M}–{at + timedelta(minutes=25):%H:%M})"
    awaiting = ordered.section("awaiting_decision")
    assert awaiting["number"].to_list()[:2] == [moved, first]
    assert awaiting["agenda_position"].to_list()[:3] == [1, 2, 3]
    assert awaiting["slot_start_at"].to_list()[2] == at + timedelta(minutes=25)
    assert awaiting["slot_start_at"].to_list()[3] is None  # the third item has no time box
    # the other sections keep their order
    assert ordered.section("scheduled")["number"].to_list() == pack.section("scheduled")["number"].to_list()
    summ = cab.summary(ordered)
    assert [i["number"].split(" ")[0] for i in summ["decisions"]["items"][:2]] == [moved, first]
    for detail in cab.DETAILS:
        html = cab.render(ordered, "html", detail=detail).decode()
        needed = html[html.index('data-list="decisions-needed"') :]
        needed = needed[: needed.index("</table>")]
        assert re.findall(r'<tr data-change="([^"]+)">', needed)[:2] == [moved, first]
        assert slot1 in needed
        assert slot2 in needed
        md = cab.render(ordered, "md", detail=detail).decode()
        assert f"| 1 | {cab.md_escape(slot1)} | {cab.md_escape(moved)} |" in md
        text = " ".join(pdf_pages(cab.render(ordered, "pdf", detail=detail)))
        assert "Decisions needed, in the chair's running order" in text
        assert text.index(f"1 {slot1} {moved}") < text.index(f"2 {slot2} {first}")
    full = cab.render(ordered, "html", detail="full").decode()
    assert f'data-position="1">#1 · {slot1}</span>' in full.replace("\n", "")
    # without a running order: by risk, as before
    assert cab.summary(cab_meeting.with_running_order(ordered, {}))["decisions_title"].endswith(
        "highest risk first"
    )


def test_a_limited_pack_keeps_the_chairs_items(pack: cab.CabPack) -> None:
    awaiting = pack.section("awaiting_decision")
    last = awaiting.row(awaiting.height - 1, named=True)  # the lowest risk
    ordered = cab_meeting.with_running_order(pack, {last["change_id"]: (1, 5)})
    listed = cab.listed_rows(ordered.section("awaiting_decision"), 3)
    assert listed["number"].to_list()[0] == last["number"]
    assert listed.height == 3


def test_minutes_follow_the_running_order(tmp_path: Path) -> None:
    meeting = datetime(2026, 11, 27, 10, 0)
    con = connect_ops(tmp_path / "ops.sqlite")
    try:
        items = [
            cd.AgendaItem(change_id=f"servicenow:CHG{i}", source_system="servicenow", number=f"CHG{i}")
            for i in (1, 2, 3)
        ]
        cd.save_running_order(
            con,
            meeting,
            [("servicenow:CHG3", 20), ("servicenow:CHG1", 10), ("servicenow:CHG2", None)],
            updated_by="chair",
        )
        cd.record_decision(con, items[0], "approved", decided_by="ann", meeting_at=meeting)
        cd.record_decision(
            con, items[2], "rejected", reason="no backout", decided_by="ann", meeting_at=meeting
        )
        m = cab_minutes.minutes(con, meeting)
    finally:
        con.close()
    rows = cab_minutes.rows(m)
    assert [(r["position"], r["change"], r["timebox"]) for r in rows] == [
        ("1", "CHG3", "20 min (10:00–10:20)"),
        ("2", "CHG1", "10 min (10:20–10:30)"),
    ]
    assert [(u["position"], u["number"]) for u in m.undecided] == [("3", "CHG2")]
    md = cab_minutes.render(m, "md").decode()
    assert md.index("CHG3") < md.index("CHG1")
    assert "On the running order, no decision recorded (1)" in md
    html = cab_minutes.render(m, "html").decode()
    assert html.index("20 min (10:00–10:20)") < html.index("10 min (10:20–10:30)")
    text = " ".join(pdf_pages(cab_minutes.render(m, "pdf")))
    assert text.index("1 20 min (10:00–10:20)") < text.index("2 10 min (10:20–10:30)")
    assert "On the running order, no decision recorded (1)" in text


def test_the_calendar_honours_detail(pack: cab.CabPack) -> None:
    """--detail summary: a low-risk standard change's event carries one line unless it collides or
    falls in a blackout, every other event its evidence, and the calendar says so; full: every event
    carries its evidence."""
    summary = Calendar.from_ical(cab.render(pack, "ics", limit=None))
    full = Calendar.from_ical(cab.render(pack, "ics", limit=None, detail="full"))
    schedule = pack.forward_schedule
    low = schedule.filter(
        (pl.col("change_type") == "standard")
        & (pl.col("risk_level") == "low")
        & (pl.col("collision_count").fill_null(0) == 0)
        & ~pl.col("in_blackout").fill_null(False)
    )["change_id"]
    assert 0 < len(low) < schedule.height
    brief_uids = {cab.event_uid(c) for c in low}
    for event in summary.walk("VEVENT"):
        description = str(event["DESCRIPTION"])
        if str(event["UID"]) in brief_uids:
            assert "\n" not in description
            assert "risk indicator: low" in description
        else:
            assert "Risk reasons:" in description
            assert "Collisions:" in description
    assert all("Risk reasons:" in str(e["DESCRIPTION"]) for e in full.walk("VEVENT"))
    assert [str(e["UID"]) for e in summary.walk("VEVENT")] == [str(e["UID"]) for e in full.walk("VEVENT")]
    assert cab.ICS_SUMMARY_NOTE in str(summary["X-WR-CALDESC"])
    assert "X-WR-CALDESC" not in full
