"""The CAB pack: one feed, four formats, generated from the sample warehouse (as of 2026-11-26).

Content checks compare the pack with the published models queried directly: the agenda for the default
meeting equals rpt_cab_agenda row for row, the KPI strip equals rpt_cab_kpi_strip, collisions carry their
shared CI or relationship path. The PDF is rendered to PNG with pdftoppm (pages kept in
test-output/cab/ for a person to look at), the ICS parses, a hostile title stays text, and a meeting with
nothing on the agenda gives a clean "Nothing to review" pack in every format.
"""

from __future__ import annotations

import dataclasses
import gc
import io
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest
from icalendar import Calendar
from PIL import Image, ImageStat
from pypdf import PdfReader
from reportlab import rl_config
from reportlab.platypus import Paragraph

from changeboard.paths import DataDir
from changeboard.reports import cab, cab_charts, cab_pdf
from changeboard.warehouse.versions import connect_published

HOSTILE = '<script>alert("x")</script> | **bold** [link](http://evil) `tick`'
FAR_PAST = datetime(2020, 1, 6, 10, 0)
MODEL_COLUMNS = (
    "agenda_item_id",
    "agenda_section",
    "change_id",
    "number",
    "change_type",
    "risk",
    "state",
    "is_from_form",
    "ci_names",
    "service_name",
    "planned_start_at",
    "planned_end_at",
    "in_blackout",
    "blackout_window_name",
    "is_outside_maintenance_window",
    "is_replan",
    "replan_reason",
    "updated_at",
    "collision_count",
    "collision_descriptions",
    "caused_incidents",
    "ci_success_rate",
    "ci_completed_count",
    "service_success_rate",
    "group_success_rate",
    "open_incident_count",
    "last_failed_change_number",
    "last_failure_caused_incidents",
    "risk_score",
    "risk_level",
    "risk_reasons",
)


@pytest.fixture(scope="module")
def warehouse(built_data: DataDir) -> Iterator[tuple[duckdb.DuckDBPyConnection, str]]:
    con, pub = connect_published(built_data)
    try:
        yield con, pub.version
    finally:
        con.close()


@pytest.fixture(scope="module")
def pack(warehouse: tuple[duckdb.DuckDBPyConnection, str]) -> cab.CabPack:
    con, version = warehouse
    return cab.cab_pack(con, None, warehouse_version=version)


@pytest.fixture(scope="module")
def cab_out(output_dir: Path) -> Path:
    out = output_dir / "cab"
    out.mkdir(parents=True, exist_ok=True)
    return out


def model(con: duckdb.DuckDBPyConnection, sql: str) -> pl.DataFrame:
    return con.sql(sql).pl()


# --- the feed -----------------------------------------------------------------------------------------


def test_default_meeting_is_the_models_meeting(pack: cab.CabPack, warehouse) -> None:
    con, version = warehouse
    t, p, f = con.sql(
        "select distinct cab_meeting_at, previous_meeting_at, forward_schedule_end_at from rpt_cab_agenda"
    ).fetchall()[0]
    assert (pack.meeting_at, pack.previous_meeting_at, pack.forward_end_at) == (t, p, f)
    assert pack.meeting_at == datetime(2026, 11, 27, 10, 0)  # Thursday 26 Nov -> Friday 10:00
    assert pack.warehouse_version == version
    assert cab.next_working_day_at(datetime(2026, 11, 27, 15)) == datetime(2026, 11, 30, 10)


def test_agenda_rows_equal_the_model_rows(pack: cab.CabPack, warehouse) -> None:
    con, _ = warehouse
    expected = model(con, f"select {', '.join(MODEL_COLUMNS)} from rpt_cab_agenda").sort("agenda_item_id")
    got = pack.agenda.select(MODEL_COLUMNS).sort("agenda_item_id")
    assert expected.height > 0
    assert set(expected["agenda_section"]) == set(cab.SECTIONS)
    assert got.equals(expected), "the pack's selection rules must give rpt_cab_agenda's rows for its T"


def test_selection_for_another_meeting_follows_the_documented_rules(warehouse) -> None:
    con, _ = warehouse
    t = datetime(2026, 12, 2, 14, 0)
    other = cab.cab_pack(con, t)
    f, p = t + timedelta(days=14), t - timedelta(days=7)
    ev = model(con, "select * from fct_change_risk_evidence")
    expected = {
        "scheduled": ev.filter(
            ~pl.col("is_awaiting_decision")
            & pl.col("state_category").is_in(["open", "in_progress"])
            & (pl.col("planned_start_at") >= t)
            & (pl.col("planned_start_at") < f)
        ),
        "emergency_retrospective": ev.filter(
            pl.col("is_emergency") & (pl.col("retrospective_at") >= p) & (pl.col("retrospective_at") < t)
        ),
        "post_implementation_review": ev.filter(
            pl.col("is_failed") & (pl.col("review_at") >= p) & (pl.col("review_at") < t)
        ),
    }
    for section, rows in expected.items():
        assert set(other.section(section)["change_id"]) == set(rows["change_id"]), section
    assert other.section("scheduled").height < ev.height
    # the strip for a week rpt_cab_kpi_strip was not built for: rpt_kpi_strip_weekly's rows of that week
    assert other.kpi_source.startswith("rpt_kpi_strip_weekly")
    weekly = model(
        con,
        "select kpi, current_numerator, previous_numerator from rpt_kpi_strip_weekly where week_start = '2026-11-30'",
    ).sort("kpi")
    assert weekly.height == other.kpi_strip.height > 0
    assert other.kpi_strip.select(weekly.columns).sort("kpi").equals(weekly)


def test_kpi_strip_equals_the_model(pack: cab.CabPack, warehouse) -> None:
    con, _ = warehouse
    published = model(con, "select * from rpt_cab_kpi_strip order by kpi_order")
    assert pack.kpi_source == "rpt_cab_kpi_strip"
    cols = [
        "kpi",
        "current_numerator",
        "current_denominator",
        "current_value",
        "previous_numerator",
        "previous_denominator",
        "previous_value",
    ]
    assert pack.kpi_strip.select(cols).equals(published.select(cols))
    html = cab.render_html(pack)
    md = cab.render_markdown(pack)
    for row in published.iter_rows(named=True):
        shown = cab.fmt_kpi_value(row["current_value"], row["unit"])
        fraction = cab.fmt_fraction(row["current_numerator"], row["current_denominator"])
        assert f'data-kpi="{row["kpi"]}"><td>{row["kpi_label"]}</td><td class="num">{shown}</td>' in html
        assert (
            f"| {cab.md_escape(row['kpi_label'])} | {cab.md_escape(shown)} | {cab.md_escape(fraction)} |"
            in md
        )


def test_weekly_strip_model_agrees_with_the_meeting_strip_on_its_week(pack: cab.CabPack, warehouse) -> None:
    """rpt_kpi_strip_weekly (any meeting week) gives rpt_cab_kpi_strip's numbers on the default week."""
    con, _ = warehouse
    tables = {r[0] for r in con.sql("select table_name from information_schema.tables").fetchall()}
    weekly, source = cab._kpi_strip(con, tables - {"rpt_cab_kpi_strip"}, pack.meeting_at)
    assert source.startswith("rpt_kpi_strip_weekly")
    cols = ["kpi", "current_numerator", "current_denominator", "previous_numerator", "previous_denominator"]
    assert weekly.select(cols).equals(pack.kpi_strip.select(cols))
    for a, b in zip(weekly["current_value"], pack.kpi_strip["current_value"], strict=True):
        assert (a is None and b is None) or abs(a - b) < 1e-9


def test_collisions_are_listed_with_their_shared_ci_or_path(pack: cab.CabPack, warehouse) -> None:
    con, _ = warehouse
    ids = set(pack.agenda["change_id"])
    published = model(con, "select * from fct_change_collisions").filter(
        pl.col("change_id_a").is_in(ids) | pl.col("change_id_b").is_in(ids)
    )
    assert published.height == pack.collisions.height > 0
    assert {"same_ci", "related_ci"} <= set(published["collision_kind"])
    html = cab.render_html(pack)
    md = cab.render_markdown(pack)
    for c in published.iter_rows(named=True):
        via = c["relationship_path"] if c["collision_kind"] == "related_ci" else c["shared_ci_name"]
        assert via
        row = f"<td>{c['change_number_a']}</td><td>{c['change_number_b']}</td><td>{cab.COLLISION_KINDS[c['collision_kind']]}</td><td>{via}</td>"
        assert row in html
        assert cab.md_escape(via) in md
    # each colliding change names the other change and the shared CI / path in its own entry
    related = published.filter(pl.col("collision_kind") == "related_ci").row(0, named=True)
    lines = cab.collision_lines(pack.collisions, related["change_id_a"])
    assert any(related["change_number_b"] in line and related["relationship_path"] in line for line in lines)


def test_a_change_with_hundreds_of_collisions_still_prints(pack: cab.CabPack) -> None:
    """A change on a hot CI collides with hundreds of others: its PDF cell lists the first lines and
    says how many more (a table row taller than a page would stop the PDF); the HTML lists them all."""
    first = pack.section("scheduled").row(0, named=True)
    template = pack.collisions.row(0, named=True)
    many = pl.DataFrame(
        [
            {
                **template,
                "change_id_a": first["change_id"],
                "change_number_a": first["number"],
                "change_id_b": f"x:{n}",
                "change_number_b": f"CHGX{n:05d}",
            }
            for n in range(300)
        ],
        schema=pack.collisions.schema,
    )
    crowded = dataclasses.replace(pack, collisions=pl.concat([pack.collisions, many]))
    pages = PdfReader(io.BytesIO(cab.render_pdf(crowded, detail="full"))).pages
    text = " ".join(" ".join(p.extract_text().split()) for p in pages)
    assert (
        f"and {300 + len(cab.collision_lines(pack.collisions, first['change_id'])) - 8} more (see Collisions)"
        in text
    )
    assert "CHGX00299" in cab.render_html(crowded)


def test_a_long_section_lists_its_highest_risk_changes_and_counts_the_rest(pack: cab.CabPack) -> None:
    """At enterprise scale a section holds thousands of changes: the printed pack lists the highest-risk
    ones in every format, says how many more there are, and the collisions and timeline follow."""
    name = "scheduled"
    rows = pack.section(name)
    assert rows.height > 5
    ctx = cab.context(pack, limit=5)
    sec = next(s for s in ctx["sections"] if s["name"] == name)
    assert (len(sec["items"]), sec["total"], sec["hidden"]) == (5, rows.height, rows.height - 5)
    shown = {i["change_id"] for i in sec["items"]}
    lowest_shown = min(i["risk_score"] for i in sec["items"])
    assert rows.filter(~pl.col("change_id").is_in(list(shown)))["risk_score"].max() <= lowest_shown
    listed = {i["change_id"] for s in ctx["sections"] for i in s["items"]}
    assert all(c["change_id_a"] in listed or c["change_id_b"] in listed for c in ctx["collisions"])
    assert set(ctx["timeline_pack"].forward_schedule["change_id"]) <= listed
    html = cab.render_html(pack, limit=5)
    assert html.count(f'data-section="{name}"') == 5
    assert f'data-hidden="{rows.height - 5}"' in html
    assert "highest-risk" in cab.render_markdown(pack, limit=5)
    text = " ".join(
        " ".join(p.extract_text().split())
        for p in PdfReader(io.BytesIO(cab.render_pdf(pack, limit=5, detail="full"))).pages
    )
    assert f"The 5 highest-risk of {rows.height} changes (and {rows.height - 5} more)" in text
    # without a limit every change is listed
    assert cab.render_html(pack, limit=None).count(f'data-section="{name}"') == rows.height


def test_blackout_flags_and_windows(pack: cab.CabPack) -> None:
    flagged = pack.agenda.filter(pl.col("in_blackout"))
    assert flagged.height > 0
    assert pack.blackouts.height > 0
    html = cab.render_html(pack)
    for name in flagged["blackout_window_name"].unique():
        assert f"BLACKOUT: {name}" in html


# --- every format ---------------------------------------------------------------------------------------


def test_every_format_from_the_sample(pack: cab.CabPack, cab_out: Path) -> None:
    timings = {}
    for fmt in cab.FORMATS:
        started = time.perf_counter()
        payload = cab.render(pack, fmt, detail="full")
        timings[fmt] = round(time.perf_counter() - started, 3)
        assert payload
        (cab_out / f"cab.{fmt}").write_bytes(payload)
    (cab_out / "timings.json").write_text(json.dumps(timings, indent=2))
    html = (cab_out / "cab.html").read_text()
    assert (
        "<script" not in html.lower()
    )  # self-contained, no script needed (the chart is an inline SVG image)
    assert "data:image/svg+xml;base64," in html
    assert "http://" not in html
    assert "https://" not in html
    for row in pack.agenda.iter_rows(named=True):
        assert f'data-change="{row["number"]}" data-section="{row["agenda_section"]}"' in html
    md = (cab_out / "cab.md").read_text()
    for name in pack.agenda["number"]:
        assert cab.md_escape(name) in md


def test_failed_changes_list_their_caused_incidents(pack: cab.CabPack, warehouse) -> None:
    con, _ = warehouse
    failed = pack.section("post_implementation_review")
    caused = model(
        con, "select number, primary_cause_change_id from fct_incidents where is_change_caused"
    ).filter(pl.col("primary_cause_change_id").is_in(failed["change_id"].to_list()))
    assert set(pack.caused_incidents["number"]) == set(caused["number"])
    html = cab.render_html(pack)
    for number in caused["number"]:
        assert number in html


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler's pdftoppm is not installed")
@pytest.mark.parametrize("paper", ["a4", "letter"])
def test_pdf_renders_with_visible_charts(
    pack: cab.CabPack, cab_out: Path, tmp_path: Path, paper: str
) -> None:
    pdf = cab.render_pdf(pack, paper=paper)
    (cab_out / f"cab-{paper}.pdf").write_bytes(pdf)
    reader = PdfReader(io.BytesIO(pdf))
    width, height = float(reader.pages[0].mediabox.width), float(reader.pages[0].mediabox.height)
    assert width > height  # landscape: the agenda tables are wide
    assert round(width) == {"a4": 842, "letter": 792}[paper]
    texts = [page.extract_text() for page in reader.pages]
    assert len(texts) > 3
    for i, text in enumerate(texts, start=1):
        assert f"Page {i} of {len(texts)}" in text
        assert pack.warehouse_version in text
        assert "generated" in text
    assert any("Forward schedule, week" in t for t in texts)
    (tmp_path / "pack.pdf").write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", "60", "-png", str(tmp_path / "pack.pdf"), str(tmp_path / "p")], check=True
    )
    pages = sorted(tmp_path.glob("p-*.png"))
    assert len(pages) == len(texts)
    chart_pages = [i for i, t in enumerate(texts) if "Forward schedule, week" in t or "KPI strip" in t]
    for i in chart_pages:
        with Image.open(pages[i]) as img:
            stat = ImageStat.Stat(img.convert("L"))
            assert stat.var[0] > 200, f"page {i + 1} looks blank"
    keep = sorted({0, 1, 2, *chart_pages})
    for i in keep:
        shutil.copy(pages[i], cab_out / f"{paper}-page-{i + 1:02d}.png")


def test_ics_parses_with_one_event_per_forward_change(pack: cab.CabPack) -> None:
    cal = Calendar.from_ical(cab.render_ics(pack, limit=None, detail="full"))
    assert "X-WR-CALDESC" not in cal  # nothing left out, nothing to say
    events = list(cal.walk("VEVENT"))
    assert len(events) == pack.forward_schedule.height > 0
    uids = [str(e["UID"]) for e in events]
    assert len(set(uids)) == len(uids)
    scheduled = set(pack.section("scheduled")["change_id"])
    assert {cab.event_uid(c) for c in scheduled} <= set(uids)  # every scheduled change is an event
    again = Calendar.from_ical(cab.render_ics(pack, limit=None, detail="full"))
    assert uids == [str(e["UID"]) for e in again.walk("VEVENT")]  # stable per change
    by_uid = {str(e["UID"]): e for e in events}
    colliding = pack.forward_schedule.filter(pl.col("collision_count") > 0).row(0, named=True)
    ev = by_uid[cab.event_uid(colliding["change_id"])]
    assert ev.decoded("DTSTART").replace(tzinfo=None) == colliding["planned_start_at"]
    assert colliding["collision_note"].split(" · ")[0] in str(ev["DESCRIPTION"])
    blackout = pack.forward_schedule.filter(pl.col("in_blackout")).row(0, named=True)
    assert "BLACKOUT" in str(by_uid[cab.event_uid(blackout["change_id"])]["DESCRIPTION"])


def test_ics_holds_the_forward_changes_the_pack_lists(pack: cab.CabPack) -> None:
    """D17: with a limit the calendar holds the forward schedule's changes the pack lists (those the
    timeline draws), says how many it left out, and keeps each change's UID; --limit 0 holds all."""
    limit = 5
    total = pack.forward_schedule.height
    ctx = cab.context(pack, limit=limit)
    listed = ctx["timeline_pack"].forward_schedule
    assert 0 < listed.height < total
    assert cab.listed_forward_schedule(pack, limit=limit).equals(listed)
    cal = Calendar.from_ical(cab.render(pack, "ics", limit=limit))
    uids = [str(e["UID"]) for e in cal.walk("VEVENT")]
    assert uids == [cab.event_uid(c) for c in listed["change_id"]]  # the same events, in schedule order
    listed_ids = {i["change_id"] for s in ctx["sections"] for i in s["items"]}
    assert set(listed["change_id"]) <= listed_ids
    scheduled = pack.section("scheduled")
    top = cab.listed_rows(scheduled, limit)
    assert {cab.event_uid(c) for c in top["change_id"]} <= set(uids)  # the highest-risk are all there
    note = str(cal["X-WR-CALDESC"])
    assert f"The {listed.height} changes of the {total} in the forward schedule" in note
    assert "--limit 0" in note
    # the default limit gives the default timeline's changes; no limit gives every change
    default = Calendar.from_ical(cab.render(pack, "ics"))
    assert len(list(default.walk("VEVENT"))) == cab.context(pack)["timeline_pack"].forward_schedule.height
    everything = Calendar.from_ical(cab.render(pack, "ics", limit=None))
    assert len(list(everything.walk("VEVENT"))) == total


def _collision_index_by_loop(collisions: pl.DataFrame) -> dict[str, list[str]]:
    """The per-row loop collision_index replaced (kept here as the reference it must equal)."""
    index: dict[str, list[str]] = {}
    for c in collisions.iter_rows(named=True):
        kind = cab.COLLISION_KINDS.get(c["collision_kind"], c["collision_kind"])
        via = c["relationship_path"] if c["collision_kind"] == "related_ci" else c["shared_ci_name"]
        tail = f" · {kind} {via} · {c['overlap_minutes']:.0f} min from {cab.fmt_ts(c['overlap_start_at'])}"
        index.setdefault(c["change_id_a"], []).append(f"{c['change_number_b']}{tail}")
        index.setdefault(c["change_id_b"], []).append(f"{c['change_number_a']}{tail}")
    return index


def test_collision_lines_equal_the_per_row_texts(pack: cab.CabPack) -> None:
    """The vectorised collision lines give the old loop's texts and order: every change, every pair,
    half minutes rounded to even as f"{x:.0f}" does, a missing CI or path shown as Python shows it."""
    assert cab.collision_index(pack.collisions) == _collision_index_by_loop(pack.collisions)
    template = pack.collisions.row(0, named=True)
    odd = pl.DataFrame(
        [
            {
                **template,
                "change_id_a": "x:1",
                "change_number_a": "CHGX1",
                "change_id_b": "x:2",
                "change_number_b": "CHGX2",
                "overlap_minutes": 2.5,
                "collision_kind": "related_ci",
                "relationship_path": None,
            },
            {
                **template,
                "change_id_a": "x:2",
                "change_number_a": "CHGX2",
                "change_id_b": "x:1",
                "change_number_b": "CHGX1",
                "overlap_minutes": 3.5,
                "collision_kind": "new_kind",
                "shared_ci_name": "db <1>",
            },
            {
                **template,
                "change_id_a": "x:1",
                "change_number_a": "CHGX1",
                "change_id_b": "x:3",
                "change_number_b": None,
                "overlap_minutes": 59.49,
                "overlap_start_at": None,
            },
        ],
        schema=pack.collisions.schema,
    )
    both = pl.concat([pack.collisions, odd])
    assert cab.collision_index(both) == _collision_index_by_loop(both)
    assert cab.collision_index(odd)["x:1"][0] == "CHGX2 · related CIs None · 2 min from " + cab.fmt_ts(
        template["overlap_start_at"]
    )
    assert cab.collision_index(pack.collisions.clear()) == {}
    # the forward schedule's notes are the same lines
    index = cab.collision_index(pack.collisions)
    for row in pack.forward_schedule.iter_rows(named=True):
        assert row["collision_note"] == "; ".join(index.get(row["change_id"], []))


def test_a_section_of_thousands_prints_its_listed_changes(pack: cab.CabPack) -> None:
    """Enterprise scale (D12, D15): an agenda of tens of thousands of changes and their collision pairs;
    the text formats list each section's highest-risk changes and the calendar the listed forward
    changes (the whole forward schedule as events was 36 MB and 15 s at 1M changes)."""
    copies = 400
    agenda = pl.concat(
        [
            pack.agenda.with_columns(
                (pl.col("change_id") + f"#{k}").alias("change_id"),
                (pl.col("number") + f"-{k}").alias("number"),
            )
            for k in range(copies)
        ]
    )
    collisions = pl.concat(
        [
            pack.collisions.with_columns(
                (pl.col("change_id_a") + f"#{k}").alias("change_id_a"),
                (pl.col("change_id_b") + f"#{k}").alias("change_id_b"),
            )
            for k in range(copies)
        ]
    )
    forward = pl.concat(
        [
            pack.forward_schedule.with_columns((pl.col("change_id") + f"#{k}").alias("change_id"))
            for k in range(copies)
        ]
    )
    big = dataclasses.replace(pack, agenda=agenda, collisions=collisions, forward_schedule=forward)
    assert agenda.height > 20_000
    assert collisions.height > 10_000
    ctx = cab.context(big)
    md = cab.render_markdown(big)
    events = list(Calendar.from_ical(cab.render_ics(big)).walk("VEVENT"))
    listed = sum(len(s["items"]) for s in ctx["sections"])
    assert listed <= len(cab.SECTIONS) * cab.DEFAULT_SECTION_LIMIT
    assert len(ctx["collisions"]) <= cab.COLLISION_LIMIT_FACTOR * cab.DEFAULT_SECTION_LIMIT
    assert len(events) == ctx["timeline_pack"].forward_schedule.height <= listed
    assert f"({agenda.filter(pl.col('agenda_section') == 'scheduled').height})" in md


# --- the PDF's shortcuts draw what they replaced --------------------------------------------------------


CELL_MARKUPS = (
    "plain text",
    "",
    "<b>CHG0001</b><br/>scheduled<br/><font color='#2f5d8a'>form request</font>",
    "<font color='#b0231b'><b>high (7)</b></font><br/>emergency<br/><i>… and 3 more</i>",
    "<i>CI db-1:</i> 90.9 % (10 / 11 completed)<br/><i>Open incidents on its CIs:</i> 2",
    f"<b>{cab_pdf.esc(HOSTILE)}</b><br/>CIs: a &amp; b, &lt;c&gt;",
    "  spaces   and\n new\nlines <b> around </b>  tags  ",
    "<b></b><br/><br/>x&amp;&amp;y",
)


def _frag_fields(paragraph: Paragraph) -> list[dict[str, object]]:
    return [dict(vars(frag)) for frag in paragraph.frags]


@pytest.mark.parametrize("markup", CELL_MARKUPS)
def test_cell_markup_gives_the_fragments_reportlab_parses(markup: str) -> None:
    """The cells' tuple-tree parse (no html.parser) gives the fragments Paragraph's own parse gives."""
    style = cab_pdf._styles()["cell"]
    assert cab_pdf._markup_tree(cab_pdf.cleanBlockQuotedText(markup)) is not None
    assert _frag_fields(cab_pdf._Cell(markup, style)) == _frag_fields(Paragraph(markup, style))


@pytest.mark.parametrize("markup", ["a <unknown x=1>b</unknown>", "x &nbsp y"])
def test_markup_the_cells_do_not_write_is_parsed_as_usual(markup: str) -> None:
    style = cab_pdf._styles()["cell"]
    assert cab_pdf._markup_tree(cab_pdf.cleanBlockQuotedText(markup)) is None
    assert _frag_fields(cab_pdf._Cell(markup, style)) == _frag_fields(Paragraph(markup, style))


@pytest.mark.parametrize("markup", ["<b>open", "<i>a</b>"])
def test_broken_markup_fails_as_reportlab_fails(markup: str) -> None:
    style = cab_pdf._styles()["cell"]
    assert cab_pdf._markup_tree(cab_pdf.cleanBlockQuotedText(markup)) is None
    for make in (Paragraph, cab_pdf._Cell):
        with pytest.raises(ValueError, match=r"unclosed|Parse error"):
            make(markup, style)


def test_pdf_bytes_do_not_depend_on_the_cell_parse(
    pack: cab.CabPack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rl_config, "invariant", 1)
    fast = cab.render_pdf(pack)
    monkeypatch.setattr(cab_pdf, "_markup_tree", lambda _markup: None)
    assert cab.render_pdf(pack) == fast


def test_pdf_charts_are_the_png_pixels(pack: cab.CabPack) -> None:
    """The PDF draws the charts' pixels without a PNG round trip: the same pixels as the PNG."""
    shown = cab.context(pack)["timeline_pack"]
    for png, rgb in (
        (cab_charts.timeline_png(shown), cab_charts.timeline_rgb(shown)),
        (cab_charts.kpi_png(pack), cab_charts.kpi_rgb(pack)),
    ):
        with Image.open(io.BytesIO(png)) as decoded:
            assert decoded.getextrema()[3] == (255, 255)  # opaque: nothing lost without the alpha channel
            assert decoded.convert("RGB").tobytes() == rgb.tobytes()


@pytest.mark.parametrize("enabled", [True, False])
def test_rendering_leaves_the_garbage_collector_as_it_found_it(pack: cab.CabPack, enabled: bool) -> None:
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        cab.render(pack, "md")
        assert gc.isenabled() is enabled
        with pytest.raises(ValueError, match="unknown paper"):
            cab.render(pack, "pdf", paper="a3")
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


# --- hostile text and an empty meeting ----------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile(
    built_data: DataDir, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A small warehouse copied from the sample, with a script tag and markdown in one change's title."""
    path = tmp_path_factory.mktemp("cabhostile") / "w.duckdb"
    con = duckdb.connect(str(path))
    con.execute(f"attach '{built_data.warehouse_link}' as src (read_only)")
    tables = (
        "fct_change_risk_evidence",
        "fct_change_collisions",
        "fct_incidents",
        "dim_change_windows",
        "rpt_change_kpis",
        "rpt_cab_kpi_strip",
        "rpt_cab_agenda",
        "warehouse_version",
    )
    for t in tables:
        con.execute(f"create table {t} as select * from src.{t}")
    con.execute("detach src")
    target = con.sql(
        "select change_id from rpt_cab_agenda where agenda_section = 'scheduled' and collision_count > 0 "
        "order by planned_start_at limit 1"
    ).fetchall()[0][0]
    con.execute(
        "update fct_change_risk_evidence set title = ?, is_from_form = true where change_id = ?",
        [HOSTILE, target],
    )
    con.close()
    ro = duckdb.connect(str(path), read_only=True)
    try:
        yield ro
    finally:
        ro.close()


def test_hostile_title_is_text_in_every_format(hostile: duckdb.DuckDBPyConnection, cab_out: Path) -> None:
    p = cab.cab_pack(hostile, None)
    row = p.agenda.filter(pl.col("title") == HOSTILE).row(0, named=True)
    html = cab.render_html(p)
    assert "<script" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "raised through the form" in html  # form requests are marked as such
    (cab_out / "hostile.html").write_text(html)
    md = cab.render_markdown(p, detail="full")
    assert "<script" not in md
    # the last table row of the change: the appendix's detail (9 columns)
    line = [x for x in md.splitlines() if x.startswith(f"| {row['number']}")][-1]
    assert line.count(" | ") == 8  # the pipe in the title did not add a column
    assert "\\|" in line
    assert "\\*\\*bold\\*\\*" in line
    assert "\\[link\\]" in line
    pdf = cab.render_pdf(p, detail="full")
    assert any(
        '<script>alert("x")</script>' in page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages
    )
    events = list(Calendar.from_ical(cab.render_ics(p)).walk("VEVENT"))
    assert any(HOSTILE in str(e["SUMMARY"]) for e in events)


def test_nothing_to_review_in_every_format(warehouse, cab_out: Path) -> None:
    """A meeting before any change was raised: every section is empty, and every format says so."""
    con, _ = warehouse
    empty = cab.cab_pack(con, FAR_PAST)
    assert empty.is_empty
    assert empty.forward_schedule.height == 0
    assert empty.collisions.height == 0
    assert empty.kpi_strip.height == 0
    assert empty.kpi_source.startswith("no KPI strip published for the week of")
    html = cab.render_html(empty)
    assert 'id="nothing-to-review"' in html
    assert "Nothing to review" in html
    md = cab.render_markdown(empty)
    assert "## Nothing to review" in md
    pdf = cab.render_pdf(empty)
    assert "Nothing to review" in PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert list(Calendar.from_ical(cab.render_ics(empty)).walk("VEVENT")) == []
    (cab_out / "empty.html").write_text(html)
    (cab_out / "empty.pdf").write_bytes(pdf)


def test_far_future_meeting_keeps_only_the_open_decisions(warehouse) -> None:
    """Two years after the evidence: nothing scheduled or to review; the changes still awaiting a decision
    (as of the warehouse) stay on the agenda, with a note that the evidence is older than the meeting."""
    con, _ = warehouse
    later = cab.cab_pack(con, datetime(2028, 11, 27, 10, 0))
    assert set(later.agenda["agenda_section"]) <= {"awaiting_decision"}
    assert later.forward_schedule.height == 0
    assert later.notes
    assert "evidence time" in later.notes[0]
    assert "evidence time" in cab.render_html(later)


def test_cli_writes_every_format(built_data: DataDir, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from changeboard.cli import app

    runner = CliRunner()
    for fmt in cab.FORMATS:
        out = tmp_path / f"pack.{fmt}"
        result = runner.invoke(
            app, ["report", "cab", "--format", fmt, "--out", str(out), "--data-dir", str(built_data.root)]
        )
        assert result.exit_code == 0, result.output
        assert out.stat().st_size > 0
    result = runner.invoke(
        app,
        [
            "report",
            "cab",
            "--at",
            "2020-01-06",
            "--format",
            "md",
            "--out",
            str(tmp_path / "e.md"),
            "--data-dir",
            str(built_data.root),
        ],
    )
    assert result.exit_code == 0
    assert "nothing to review" in result.output
    bad = runner.invoke(app, ["report", "cab", "--format", "docx", "--data-dir", str(built_data.root)])
    assert bad.exit_code != 0
