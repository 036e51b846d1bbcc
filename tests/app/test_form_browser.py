"""The change-request form in a real browser (Debian's chromium driven by Playwright) against
`streamlit run`: fill and submit, see the reference; double-click submit and find one request; submit
invalid input and find errors and nothing stored; then a pipeline run puts the request on the CAB
agenda (rpt_cab_agenda when it is built, else fct_changes with origin 'form').

The module works on its own copy of the suite's built sample, so it never writes to the shared
session fixture. Screenshots: test-output/screenshots/form_*.png.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from changeboard.paths import DataDir
from changeboard.pipeline import build_run, ingest_run
from changeboard.store import requests as ops
from changeboard.warehouse.versions import read_pointer
from tests.app.streamlit_server import streamlit_server

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "app"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
AS_OF = datetime(2026, 11, 26, tzinfo=UTC)
AS_OF_TEXT = "2026-11-26 00:00:00"
REFERENCE = re.compile(r"CR\d{7}")


@pytest.fixture(scope="module")
def form_data(copy_built: Callable[[Path], DataDir], tmp_path_factory: pytest.TempPathFactory) -> DataDir:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium (/usr/bin/chromium) is not installed: `apt-get install chromium`")
    pytest.importorskip("playwright.sync_api", reason="playwright (python) is not installed")
    return copy_built(tmp_path_factory.mktemp("formdata") / "data")


@pytest.fixture(scope="module")
def server(form_data: DataDir, output_dir: Path) -> Iterator[str]:
    with streamlit_server(
        form_data.root, output_dir / "streamlit-form-browser-test.log", drop_env=("CHANGEBOARD_POLICY",)
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


IDLE = (
    "() => !document.querySelector('[data-testid=\"stStatusWidget\"]') "
    "&& !document.querySelector('[data-stale=\"true\"]')"
)


def _settle(page) -> None:  # type: ignore[no-untyped-def]
    """Wait until the script run is over: no running indicator and no element still marked stale."""
    page.wait_for_selector('[data-testid="stMainBlockContainer"] h1', timeout=30_000)
    page.wait_for_timeout(300)
    page.wait_for_function(IDLE, timeout=30_000)
    page.wait_for_timeout(500)
    page.wait_for_function(IDLE, timeout=30_000)


def _screenshot(page, path: Path) -> None:  # type: ignore[no-untyped-def]
    height = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll('[data-testid=stMain], [data-testid=stMainBlockContainer]')]"
        ".map(e => e.scrollHeight))"
    )
    page.set_viewport_size({"width": 1440, "height": min(int(height) + 60, 14_000)})
    page.wait_for_timeout(1000)
    _settle(page)  # a resize can start a rerun: never photograph a page mid-run
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": 1440, "height": 900})


def _pick(page, label: str, text: str, *, close: bool = False) -> None:  # type: ignore[no-untyped-def]
    box = page.locator('[data-testid="stMain"]').get_by_role("combobox", name=label)
    box.click()
    box.press_sequentially(text, delay=20)
    page.get_by_role("option", name=re.compile(re.escape(text))).first.click()
    if close:  # a multiselect stays open after a choice (Escape on a selectbox would clear it)
        page.keyboard.press("Escape")
    _settle(page)


def _segments(page, label: str, unit: str, digits: str) -> None:  # type: ignore[no-untyped-def]
    """Type into a date / time field (react-aria segments: typing digits moves to the next segment)."""
    main = page.locator('[data-testid="stMain"]')
    main.get_by_role("spinbutton", name=f"{unit}, {label}").click()
    page.keyboard.type(digits, delay=30)
    page.keyboard.press("Tab")
    _settle(page)


def _window(data: DataDir) -> tuple[datetime, datetime, str | None]:
    """A window over a scheduled Payments change when the clock allows (a collision to preview)."""
    earliest = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=6)
    con = duckdb.connect(str(data.warehouse_link), read_only=True)
    try:
        row = con.execute(
            "select number, planned_start_at from fct_changes where service_name = 'Payments' "
            "and state_category = 'open' and planned_start_at > ? and planned_end_at > planned_start_at "
            "order by planned_start_at limit 1",
            [earliest],
        ).fetchone()
    finally:
        con.close()
    if row:
        start = row[1].replace(minute=0, second=0, microsecond=0)
        return start, start + timedelta(hours=2), row[0]
    start = (earliest + timedelta(days=4)).replace(hour=9, minute=0, second=0, microsecond=0)
    return start, start + timedelta(hours=2), None


def _fill(page, data: DataDir, title: str) -> str | None:  # type: ignore[no-untyped-def]
    _pick(page, "Service", "Payments")
    _pick(page, "Configuration items", "app-payments-01", close=True)
    start, end, colliding = _window(data)
    _segments(page, "Window start date (UTC)", "year", start.strftime("%Y%m%d"))
    _segments(page, "Window start time (UTC)", "hour", start.strftime("%H%M"))
    _segments(page, "Window end date (UTC)", "year", end.strftime("%Y%m%d"))
    _segments(page, "Window end time (UTC)", "hour", end.strftime("%H%M"))
    main = page.locator('[data-testid="stMain"]')
    main.get_by_label("Requester (your name)").fill("Dana Requester")
    main.get_by_label("Title", exact=True).fill(title)
    for label, text in (
        ("Description", "Rotate the payment gateway's database credentials."),
        ("Justification", "Quarterly credential rotation (audit finding A-12)."),
        ("Implementation plan", "1. create new user\n2. switch the app\n3. drop the old user"),
        ("Test plan", "Run a test payment."),
        ("Backout plan", "Switch back to the old user (kept for 24 h)."),
    ):
        main.get_by_label(label, exact=True).fill(text)
    for label, option in (("Impact", "2 - Medium"), ("Risk", "Moderate")):
        box = main.get_by_role("combobox", name=label)
        box.click()
        page.get_by_role("option", name=option, exact=True).first.click()
    page.wait_for_timeout(300)
    return colliding


def _count(data: DataDir) -> int:
    if not data.ops_db.exists():
        return 0
    con = ops.connect_ops(data.ops_db)
    try:
        return int(con.execute("select count(*) from change_request").fetchone()[0])
    finally:
        con.close()


def _confirmation(page) -> str:  # type: ignore[no-untyped-def]
    ok = page.locator('[data-testid="stAlertContentSuccess"]', has_text="is stored")
    ok.wait_for(timeout=30_000)
    found = REFERENCE.search(ok.inner_text())
    assert found
    return found.group(0)


def test_form_in_a_real_browser(browser, server: str, form_data: DataDir, output_dir: Path) -> None:  # type: ignore[no-untyped-def]
    shots = output_dir / "screenshots"
    shots.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(f"{server}/change_request")
    _settle(page)
    main = page.locator('[data-testid="stMain"]')

    # 1. fill and submit: the reference appears, one request is stored
    colliding = _fill(page, form_data, "Rotate <b>payments</b> DB credentials <script>alert(1)</script>")
    _screenshot(page, shots / "form_filled.png")
    if colliding:
        assert "overlap this window" in main.inner_text()
    main.get_by_role("button", name="Submit request").click()
    first = _confirmation(page)
    _settle(page)
    assert _count(form_data) == 1
    assert page.locator('[data-testid="stException"]').count() == 0
    # typed HTML is shown as text, never rendered: no <b> or <script> element came from it
    assert page.locator('[data-testid="stMain"] script').count() == 0
    assert page.locator('[data-testid="stMain"] b', has_text="payments").count() == 0
    _screenshot(page, shots / "form_confirmation.png")

    # 2. a double click on submit stores one request
    main.get_by_role("button", name="Submit another request").click()
    _settle(page)
    _fill(page, form_data, "Rotate the payments DB credentials again")
    main.get_by_role("button", name="Submit request").dblclick()
    second = _confirmation(page)
    _settle(page)
    page.wait_for_timeout(1500)  # give a second event every chance to arrive
    assert second != first
    assert _count(form_data) == 2

    # 3. invalid input: errors next to the fields, nothing stored
    main.get_by_role("button", name="Submit another request").click()
    _settle(page)
    main.get_by_label("Title", exact=True).fill("oops")
    main.get_by_role("button", name="Submit request").click()
    _settle(page)
    errors = page.locator('[data-testid="stAlertContentError"]')
    errors.first.wait_for(timeout=30_000)
    text = " ".join(errors.all_inner_texts())
    assert "title is too short" in text.lower()
    assert "Say who is requesting the change." in text
    assert "Nothing has been stored yet." in text
    assert _count(form_data) == 2
    _screenshot(page, shots / "form_errors.png")

    # 4. My requests and CAB decisions
    page.locator('[data-testid="stSidebarNav"] a', has_text="My requests").first.click()
    _settle(page)
    box = main.get_by_label("Your name, as you typed it on the form")
    box.fill("Dana Requester")
    box.press("Enter")
    _settle(page)
    assert "Submitted" in main.inner_text()  # the status tile (the table itself is a canvas)
    _screenshot(page, shots / "form_my_requests.png")
    page.locator('[data-testid="stSidebarNav"] a', has_text="CAB decisions").first.click()
    _settle(page)
    name = main.get_by_label("Your name (recorded with the decision)")
    name.fill("Casey CAB")
    name.press("Enter")
    _settle(page)
    _screenshot(page, shots / "form_cab_decisions.png")
    page.close()

    # 5. the next pipeline run puts both requests on the CAB agenda, marked as raised through the form
    run = ingest_run.new_run_id()
    ingest_run.sync_forms(form_data, run_id=run)
    build_run.build(form_data, run_id=run, as_of=AS_OF_TEXT)
    con = duckdb.connect(str(read_pointer(form_data).path), read_only=True)
    try:
        tables = {r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()}
        rows = con.execute(
            "select number, origin, source_system, title from fct_changes where number in (?, ?) order by number",
            [first, second],
        ).fetchall()
        assert [(r[0], r[1], r[2]) for r in rows] == [(first, "form", "form"), (second, "form", "form")]
        assert "<script>alert(1)</script>" in rows[0][3]
        if "rpt_cab_agenda" in tables:
            cols = {r[0] for r in con.execute("describe rpt_cab_agenda").fetchall()}
            number_col = "number" if "number" in cols else "change_number"
            agenda = {r[0] for r in con.execute(f"select {number_col} from rpt_cab_agenda").fetchall()}
            assert {first, second} <= agenda
    finally:
        con.close()
