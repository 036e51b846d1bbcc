"""A whole CAB meeting in a real browser (Debian's chromium driven by Playwright) against `streamlit run`:
open the agenda, decide three ITSM changes and three form requests (approved with conditions, rejected
with a reason, deferred to a date, approved), record an attendee, export the decisions for the system of
record and print the minutes. The store must hold exactly what was decided, the export and the minutes
must list it.

The module works on a copy of the suite's built sample, so it never writes to the shared fixture.
Screenshots: test-output/screenshots/cab_*.png.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader

from changeboard.paths import DataDir
from changeboard.reports import cab, cab_meeting
from changeboard.store import cab_decisions as cd
from changeboard.store.requests import connect_ops, submit
from changeboard.warehouse.versions import connect_published
from tests.app.streamlit_server import streamlit_server
from tests.app.test_form_browser import CHROMIUM, CHROMIUM_ARGS, _screenshot, _settle

pytestmark = pytest.mark.browser

PLAN = (
    ("approved_with_conditions", "Approved with conditions", "Only after 22:00, with the DBA on call"),
    ("rejected", "Rejected", "No tested backout plan"),
    ("deferred", "Deferred", ""),
)


@pytest.fixture(scope="module")
def meeting_data(copy_built: Callable[[Path], DataDir], tmp_path_factory: pytest.TempPathFactory) -> DataDir:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium (/usr/bin/chromium) is not installed: `apt-get install chromium`")
    pytest.importorskip("playwright.sync_api", reason="playwright (python) is not installed")
    data = copy_built(tmp_path_factory.mktemp("cabmeeting"))
    con = connect_ops(data.ops_db)
    try:
        for i in range(3):
            base = {"created_by": "dana", "change_type": "normal", "cis": ["app-payments-01"]}
            submit(con, {**base, "title": f"Meeting form request {i}"}, f"cab-browser-{i}")
    finally:
        con.close()
    return data


@pytest.fixture(scope="module")
def server(meeting_data: DataDir, output_dir: Path) -> Iterator[str]:
    with streamlit_server(
        meeting_data.root, output_dir / "streamlit-cab-browser-test.log", drop_env=("CHANGEBOARD_POLICY",)
    ) as base:
        yield base


@pytest.fixture(scope="module")
def browser(server: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def _items(data: DataDir) -> tuple[cab.CabPack, list[str], list[str]]:
    """The meeting's pack, three ITSM changes to decide (outside blackouts, first in the running order)
    and the three form requests."""
    con, pub = connect_published(data)
    try:
        pack = cab.cab_pack(con, None, warehouse_version=pub.version)
    finally:
        con.close()
    sc = connect_ops(data.ops_db)
    try:
        from changeboard.store import requests as ops

        pending = ops.list_requests(sc, statuses=["submitted"])
    finally:
        sc.close()
    rows = cab_meeting.items_to_decide(pack, {}, pending)
    itsm = rows.filter((rows["source_system"] != "form") & ~rows["in_blackout"].fill_null(False))
    forms = rows.filter(~rows["in_warehouse"])
    return pack, itsm["number"].head(3).to_list(), forms["number"].to_list()


def _decide(page, number: str, label: str, note: str) -> None:  # type: ignore[no-untyped-def]
    card = page.locator(f".st-key-cab_page_item_{number}")
    card.scroll_into_view_if_needed()
    card.get_by_text(label, exact=True).click()
    if note:
        card.get_by_label(re.compile("Reason .to reject or defer. or conditions")).fill(note)
    card.get_by_role("button", name=re.compile("Record decision")).click()
    _settle(page)
    ok = page.locator('[data-testid="stAlertContentSuccess"]', has_text=number)
    ok.first.wait_for(timeout=30_000)


def _download(page, name: str) -> bytes:  # type: ignore[no-untyped-def]
    with page.expect_download(timeout=60_000) as info:
        page.get_by_role("button", name=re.compile(re.escape(name))).first.click()
    return Path(info.value.path()).read_bytes()


def test_a_whole_cab_meeting_in_a_real_browser(
    browser, server: str, meeting_data: DataDir, output_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    shots = output_dir / "screenshots"
    shots.mkdir(exist_ok=True)
    pack, itsm, forms = _items(meeting_data)
    assert len(itsm) == 3
    assert len(forms) == 3
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(f"{server}/cab")
    main = page.locator('[data-testid="stMain"]')
    # the page draws the pack first and the decisions last: wait for them, then for the run to end
    main.get_by_text("Items to decide").first.wait_for(timeout=180_000)
    _settle(page)
    # the first card is the highest-risk item, its risk and reasons first
    first = cab_meeting.items_to_decide(pack).row(0, named=True)
    first_card = page.locator(f".st-key-cab_page_item_{first['number']}")
    assert f"Risk {first['risk_level']} ({first['risk_score']})" in first_card.inner_text()
    name = main.get_by_label("Your name (recorded with the decision)")
    name.fill("Casey Chair")
    name.press("Enter")
    _settle(page)
    main.get_by_label("Attendee", exact=True).fill("Casey Chair")
    main.get_by_label("Role", exact=True).fill("chair")
    main.get_by_role("button", name="Add", exact=True).click()
    _settle(page)
    assert "Casey Chair (chair)" in main.inner_text()

    for numbers in (itsm, forms):
        for number, (_kind, label, note) in zip(numbers, PLAN, strict=True):
            _decide(page, number, label, note)
    _screenshot(page, shots / "cab_meeting_decided.png")
    assert page.locator('[data-testid="stException"]').count() == 0

    con = connect_ops(meeting_data.ops_db)
    try:
        got = {r["number"]: r for r in cd.list_decisions(con, meeting_at=pack.meeting_at)}
    finally:
        con.close()
    expected = {n: kind for numbers in (itsm, forms) for n, (kind, _l, _n) in zip(numbers, PLAN, strict=True)}
    assert {n: r["decision"] for n, r in got.items()} == expected
    assert {r["decided_by"] for r in got.values()} == {"Casey Chair"}
    assert got[itsm[0]]["conditions"] == PLAN[0][2]
    assert got[forms[1]]["reason"] == PLAN[1][2]
    assert got[itsm[2]]["deferred_to"]

    # export the decisions for the system of record
    sn = _download(page, "Decisions: ServiceNow CSV").decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(sn)))
    keys = {r["u_number"] or r["u_correlation_id"]: r for r in rows}
    assert set(expected) <= set(keys)
    assert keys[itsm[1]]["u_approval"] == "rejected"
    assert keys[forms[0]]["u_cab_conditions"] == PLAN[0][2]

    # print the minutes
    pdf = _download(page, "Minutes (PDF)")
    text = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "Casey Chair (chair)" in text
    for number in expected:
        assert number in text
    ics = _download(page, "Deferred (ICS)").decode()
    assert ics.count("BEGIN:VEVENT") == 2
    _screenshot(page, shots / "cab_meeting_minutes.png")
    page.close()


def _cell(box, row: int, col: int) -> str:  # type: ignore[no-untyped-def]
    """A data editor cell's text, read from the grid's accessible table (the canvas draws the same)."""
    return str(box.locator(f'[data-testid="glide-cell-{col}-{row}"]').first.inner_text()).strip()


def _edit_cell(page, box, row: int, col: int, text: str) -> None:  # type: ignore[no-untyped-def]
    """Type ``text`` into a data editor cell: click the first cell, walk there with the arrow keys, type
    (the cell's editor opens on the first key: a moment before Enter commits it). A keystroke the grid
    took before it had focus is retried (at most 3 times), checked on the grid's accessible table."""
    grid = box.locator('[data-testid="stDataFrameResizable"]')
    for _attempt in range(3):
        grid.click(position={"x": 30, "y": 35 + 17})
        page.wait_for_timeout(300)
        for key in ["ArrowDown"] * row + ["ArrowRight"] * col:
            page.keyboard.press(key)
        page.keyboard.type(text)
        page.wait_for_timeout(400)
        page.keyboard.press("Enter")
        _settle(page)
        if _cell(box, row, col) == text:
            return
    raise AssertionError(f"the cell ({row}, {col}) did not take {text!r}: {_cell(box, row, col)!r}")


def test_the_chair_reorders_and_time_boxes_the_agenda(
    browser, server: str, meeting_data: DataDir, output_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    """The chair moves the third item to the top with a 15-minute time box: stored with the meeting, the
    cards follow it, and the printed pack (HTML) and the minutes list the items in that order."""
    pack, _itsm, _forms = _items(meeting_data)
    con = connect_ops(meeting_data.ops_db)
    try:
        from changeboard.store import requests as ops

        before = cd.running_order(con, pack.meeting_at)
        rows = cab_meeting.items_to_decide(pack, before, ops.list_requests(con, statuses=["submitted"]))
    finally:
        con.close()
    moved, was_first = rows["number"][2], rows["number"][0]
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(f"{server}/cab")
    main = page.locator('[data-testid="stMain"]')
    main.get_by_text("Items to decide").first.wait_for(timeout=180_000)
    _settle(page)
    name = main.get_by_label("Your name (recorded with the decision)")
    name.fill("Casey Chair")
    name.press("Enter")
    _settle(page)
    main.get_by_text("Running order and time boxes (chair)").click()
    box = page.locator(".st-key-cab_page_order_box")
    box.locator('[data-testid="stDataFrameResizable"]').wait_for(timeout=30_000)
    assert _cell(box, 2, 1) == moved
    # the grid is a canvas: select the first cell, walk with the keyboard and type (see _edit_cell)
    _edit_cell(page, box, 2, 0, "1")
    _edit_cell(page, box, 2, 4, "15")  # position, change, title, risk, time box
    main.get_by_role("button", name=re.compile("Save running order")).click()
    _settle(page)
    page.locator('[data-testid="stAlertContentSuccess"]', has_text="Running order of").first.wait_for()

    con = connect_ops(meeting_data.ops_db)
    try:
        order = cd.running_order(con, pack.meeting_at)
    finally:
        con.close()
    assert order[rows["change_id"][2]] == (1, 15)
    assert order[rows["change_id"][0]][0] == 2  # the item that held position 1 moved down one
    first_card = page.locator(f".st-key-cab_page_item_{moved}")
    assert f"1. {moved}" in first_card.inner_text()
    assert "15 min" in first_card.inner_text()
    _screenshot(page, output_dir / "screenshots" / "cab_running_order.png")

    # the printed pack lists the decisions needed in the chair's order with the time box and its slot
    html = _download(page, "Download HTML pack").decode()
    needed = html[html.index('data-list="decisions-needed"') :]
    listed = re.findall(r'<tr data-change="([^"]+)">', needed[: needed.index("</table>")])
    assert listed[:2] == [moved, was_first]
    start = pack.meeting_at.strftime("%H:%M")
    end = (pack.meeting_at + timedelta(minutes=15)).strftime("%H:%M")
    assert f"15 min ({start}–{end})" in needed[: needed.index("</table>")]
    assert "in the chair&#39;s running order" in html or "in the chair's running order" in html
    # and the minutes, in the same order with the time box
    minutes = _download(page, "Minutes (Markdown)").decode()
    assert f"15 min \\({start}–{end}\\)" in minutes
    assert page.locator('[data-testid="stException"]').count() == 0
    page.close()
