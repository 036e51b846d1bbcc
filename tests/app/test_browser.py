"""Real browser (Debian's chromium driven by Playwright) against `streamlit run`: every page opens,
the Overview chart is drawn, a filter persists across pages, a drill-down opens and its CSV downloads.
A full-page screenshot of each page goes to test-output/screenshots/<page>.png (the README's pictures
in docs/screenshots/ are made by `./run screenshots` from the demo data)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from changeboard.app.data import ENV_PAGE_ROWS

from changeboard.paths import DataDir
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
PAGE_ROWS = 20
PAGES = [  # (url path, title, screenshot name)
    ("", "Overview", "overview"),
    ("changes", "Changes", "changes"),
    ("lead_times", "Lead times", "lead_times"),
    ("incidents", "Incidents & attribution", "incidents"),
    ("releases", "Releases", "releases"),
    ("services", "Services & CIs", "services"),
    ("backlog", "Backlog & schedule", "backlog"),
    ("data_quality", "Data quality", "data_quality"),
]


@pytest.fixture(scope="module")
def server(built_data: DataDir, output_dir: Path) -> Iterator[str]:
    if not CHROMIUM.exists():
        pytest.skip(
            "Debian's chromium (/usr/bin/chromium) is not installed: `apt-get install chromium` to run the browser tests"
        )
    pytest.importorskip("playwright.sync_api", reason="playwright (python) is not installed")
    # Small pages, so that a drill-down of the sample is paged and its CSV is the deferred download
    # that long lists use (written when clicked, not with the page).
    with streamlit_server(
        built_data.root,
        output_dir / "streamlit-browser-test.log",
        extra_env={ENV_PAGE_ROWS: str(PAGE_ROWS)},
    ) as base:
        yield base


def _settle(page) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_selector('[data-testid="stMainBlockContainer"] h1', timeout=30_000)
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=30_000
    )
    page.wait_for_timeout(700)


def _no_errors(page, callouts: re.Pattern[str] | None = None) -> None:  # type: ignore[no-untyped-def]
    """No exception and no error box on the page, except the red callouts ``callouts`` matches: findings a
    page states as errors on purpose (a CAB item inside a blackout window)."""
    assert page.locator('[data-testid="stException"]').count() == 0
    errors = page.locator('[data-testid="stAlertContentError"]').all_inner_texts()
    errors = [e for e in errors if callouts is None or not callouts.search(e)]
    assert errors == [], f"{page.url} shows errors: {errors}"


def _screenshot(page, path: Path) -> None:  # type: ignore[no-untyped-def]
    height = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll('[data-testid=stMain], [data-testid=stMainBlockContainer]')]"
        ".map(e => e.scrollHeight))"
    )
    page.set_viewport_size({"width": 1440, "height": min(int(height) + 60, 14_000)})
    page.wait_for_timeout(1200)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": 1440, "height": 900})


def _go(page, title: str) -> None:  # type: ignore[no-untyped-def]
    """Navigate inside the session (sidebar link), which keeps session state."""
    page.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()
    page.wait_for_function(
        "t => [...document.querySelectorAll('h1')].some(h => h.innerText.trim() === t)",
        arg=title,
        timeout=30_000,
    )
    _settle(page)


def _select(page, label: str, option: str) -> None:  # type: ignore[no-untyped-def]
    box = page.locator('[data-testid="stSidebar"]').get_by_role("combobox", name=label)
    box.click()
    box.press_sequentially(option, delay=30)  # the react-aria combobox opens its list on typing
    page.get_by_role("option", name=option, exact=True).first.wait_for(timeout=10_000)
    box.press("Enter")
    _settle(page)
    assert box.input_value() == option


def test_browser_every_page_filter_drilldown_csv(server: str, output_dir: Path, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    shots = output_dir / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True)
            page = context.new_page()

            # a deep link opened first on a fresh server still runs through the entrypoint (filters, footer)
            page.goto(f"{server}/changes")
            _settle(page)
            assert page.locator("h1", has_text="Changes").count() == 1
            assert page.locator('[data-testid="stSidebar"]', has_text="Filters").count() == 1
            _no_errors(page)

            # every page, with a screenshot; the Overview chart is a plotly svg
            page.goto(server)
            _settle(page)
            page.wait_for_selector(".js-plotly-plot .main-svg", timeout=30_000)
            assert page.locator(".js-plotly-plot").count() >= 4
            page.get_by_text("Change success rate").first.wait_for(timeout=30_000)
            page.get_by_text("Serving warehouse version").first.wait_for(timeout=30_000)
            for _path, title, name in PAGES:
                _go(page, title)
                # every page draws at least one chart (data quality: the coverage heat table)
                page.wait_for_selector(".js-plotly-plot .main-svg", timeout=30_000)
                _no_errors(page)
                _screenshot(page, shots / f"{name}.png")

            # a filter set on Overview persists on another page
            _go(page, "Overview")
            _select(page, "Change type", "Normal")
            page.get_by_text("change type: Normal").first.wait_for(timeout=30_000)
            _go(page, "Lead times")
            box = page.locator('[data-testid="stSidebar"]').get_by_role("combobox", name="Change type")
            assert box.input_value() == "Normal"
            page.get_by_text("change type: Normal").first.wait_for(timeout=30_000)

            # drill down on the Overview and download the records behind the KPIs
            _go(page, "Overview")
            expander = page.locator(
                '[data-testid="stExpander"]', has_text="Completed changes closed in the period"
            )
            label = expander.locator("summary").inner_text()
            records = int(label.rsplit("—", 1)[1].split()[0].replace(",", ""))
            expander.locator("summary").click()
            expander.locator('[data-testid="stDataFrame"]').wait_for(timeout=15_000)
            # longer than a page: the page picker, the rows shown, and a CSV of every record
            assert records > PAGE_ROWS
            pages = -(-records // PAGE_ROWS)
            expander.get_by_text(f"Rows 1–{PAGE_ROWS} of {records:,}").wait_for(timeout=15_000)
            picker = expander.get_by_label(f"Page (of {pages:,})")
            picker.fill("2")
            picker.press("Enter")
            expander.get_by_text(
                f"Rows {PAGE_ROWS + 1}–{min(2 * PAGE_ROWS, records)} of {records:,}"
            ).wait_for(timeout=15_000)
            _settle(page)
            with page.expect_download(timeout=30_000) as info:
                expander.get_by_role("button", name="Download CSV").click()
            target = tmp_path / info.value.suggested_filename
            info.value.save_as(target)
            rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8-sig"), newline="")))
            assert len(rows) == records > 0
            assert len({r["number"] for r in rows}) == records
            assert {r["change_type"] for r in rows} == {"normal"}
            assert "number" in rows[0]
            assert "is_failed" in rows[0]
            for r in rows:
                assert not r["title"].startswith(("=", "+", "-", "@", "\t", "\r"))

            # the releases behind the release failure rate download with their numerator / denominator flags
            _go(page, "Releases")
            page.get_by_text("Failed releases, all time").first.wait_for(timeout=30_000)
            expander = page.locator('[data-testid="stExpander"]', has_text="Releases —").first
            label = expander.locator("summary").inner_text()
            records = int(label.rsplit("—", 1)[1].split()[0].replace(",", ""))
            expander.locator("summary").click()
            expander.locator('[data-testid="stDataFrame"]').wait_for(timeout=15_000)
            # the app idle first, as on the Overview: a click while it reruns was lost once in CI
            _settle(page)
            with page.expect_download(timeout=30_000) as info:
                expander.get_by_role("button", name="Download CSV").click()
            target = tmp_path / info.value.suggested_filename
            info.value.save_as(target)
            rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8-sig"), newline="")))
            assert len(rows) == records > 0
            assert {"is_failed", "is_deployed", "release_lead_time_hours"} <= set(rows[0])
            context.close()
        finally:
            browser.close()


def test_browser_a_lazy_list_reads_its_rows_when_clicked(server: str, built_data: DataDir) -> None:
    """The Services page's neighbours' candidate changes are read only when their expander is opened:
    a person finds a CI, opens the list and sees its records."""
    import duckdb
    from playwright.sync_api import sync_playwright

    con = duckdb.connect(str(built_data.warehouse_link), read_only=True)
    try:
        # the CI with most such candidates whose name finds no other CI in the picker's search
        name, records = con.execute(
            "select d.name, count(*) from fct_incident_change_candidates c "
            "join dim_configuration_items d on d.ci_id = c.incident_ci_id "
            "where coalesce(c.change_primary_ci_id, '') <> c.incident_ci_id and not exists ("
            "  select 1 from dim_configuration_items o where o.ci_id <> d.ci_id "
            "  and contains(lower(o.name), lower(d.name)) and (o.change_count > 0 or o.incident_count > 0)) "
            "group by all order by 2 desc, 1 limit 1"
        ).fetchall()[0]
    finally:
        con.close()
    title = "Changes on its CMDB neighbours that are cause candidates of its incidents"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
            page.goto(f"{server}/services")
            _settle(page)
            search = page.get_by_role("textbox", name="Find a CI by name")
            search.fill(name)
            search.press("Enter")
            _settle(page)
            picker = page.locator('[data-testid="stMain"]').get_by_role("combobox", name="Configuration item")
            assert picker.input_value().startswith(f"{name} (")
            expander = page.locator('[data-testid="stExpander"]', has_text=title)
            expander.get_by_text(f"{title} — {records:,} records").wait_for(timeout=15_000)
            assert expander.locator('[data-testid="stDataFrame"]').count() == 0
            expander.locator("summary").click()
            expander.locator('[data-testid="stDataFrame"]').wait_for(timeout=15_000)
            expander.get_by_role("button", name="Download CSV").wait_for(timeout=15_000)
            _no_errors(page)
        finally:
            browser.close()


def test_browser_a_shared_link_opens_the_same_view(server: str) -> None:
    """A person sets filters, copies the address, and a colleague's browser opens the same view; the
    request pages draw no filters."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            first = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
            first.goto(f"{server}/changes")
            _settle(first)
            _select(first, "Change type", "Normal")
            first.wait_for_function("() => location.search.includes('change_type=normal')", timeout=15_000)
            shared = first.url
            period = (
                first.locator('[data-testid="stSidebar"]')
                .get_by_role("combobox", name="Period")
                .input_value()
            )
            # another browser (no session) opens the shared address
            second = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
            second.goto(shared)
            _settle(second)
            sidebar = second.locator('[data-testid="stSidebar"]')
            assert sidebar.get_by_role("combobox", name="Change type").input_value() == "Normal"
            assert sidebar.get_by_role("combobox", name="Period").input_value() == period
            # the value in words on screen, as stored in the link (change_type=normal)
            assert "change type: Normal" in second.locator('[data-testid="stMain"]').inner_text()
            _no_errors(second)
            second.locator('[data-testid="stSidebarNav"] a', has_text="Raise a change").first.click()
            second.get_by_role("heading", name="Raise a change request").wait_for(timeout=30_000)
            _settle(second)
            expect(sidebar.get_by_role("combobox", name="Period")).to_have_count(0, timeout=15_000)
        finally:
            browser.close()


SCHEDULE_JS = "() => [...document.querySelectorAll('.js-plotly-plot')].find(g => g.layout && g.layout.xaxis2)"


def test_browser_the_forward_schedule_zooms_hovers_and_keeps_its_time_axis(server: str) -> None:
    """Backlog & schedule: the schedule answers the mouse (hover names the change, a drag zooms the
    time axis), draws its time axis above and below the bars, and regroups by CI."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1440, "height": 1600}).new_page()
            page.goto(f"{server}/backlog")
            _settle(page)
            page.wait_for_function(f"() => !!({SCHEDULE_JS})()", timeout=30_000)
            plot = page.locator(".js-plotly-plot", has=page.locator(".rangeslider-container")).first
            plot.scroll_into_view_if_needed()
            page.wait_for_timeout(800)  # the figure settles after the scroll
            # the time axis above and below the bars (tick labels above and below the plot area),
            # and the range slider under them
            top_ticks = page.evaluate(
                f"() => [...({SCHEDULE_JS})().querySelectorAll('.x2tick text')]"
                ".filter(t => t.textContent).map(t => t.getBoundingClientRect().bottom)"
            )
            bottom_ticks = page.evaluate(
                f"() => [...({SCHEDULE_JS})().querySelectorAll('.xtick text')]"
                ".filter(t => t.textContent).map(t => t.getBoundingClientRect().top)"
            )
            plot_area = page.evaluate(
                f"() => {{ const r = ({SCHEDULE_JS})().querySelector('.nsewdrag').getBoundingClientRect(); "
                "return [r.top, r.bottom]; }"
            )
            assert top_ticks, "no tick labels on the top time axis"
            assert bottom_ticks, "no tick labels on the bottom time axis"
            assert max(top_ticks) <= plot_area[0] + 1
            assert min(bottom_ticks) >= plot_area[1] - 1
            assert plot.locator(".rangeslider-container").count() == 1
            # hover a bar: the tooltip names the change and its planned window
            # the widest bar inside the plot area and the viewport (a window that began before "now"
            # is clipped at the axis' left edge)
            box = page.evaluate(
                f"""() => {{
                    const g = ({SCHEDULE_JS})();
                    const area = g.querySelector('.nsewdrag').getBoundingClientRect();
                    const inside = r => r.width > 0 && r.left >= area.left && r.right <= area.right
                        && r.top >= Math.max(area.top, 0) && r.bottom <= Math.min(area.bottom, window.innerHeight);
                    const rects = [...g.querySelectorAll('.barlayer .point path')]
                        .filter(p => !p.closest('.rangeslider-container'))
                        .map(p => p.getBoundingClientRect()).filter(inside);
                    rects.sort((a, b) => b.width - a.width);
                    return rects.length ? {{x: rects[0].left, y: rects[0].top, width: rects[0].width,
                                             height: rects[0].height}} : null;
                }}"""
            )
            assert box is not None, "no bar inside the plot area"
            page.mouse.move(box["x"] + box["width"] / 2 - 1, box["y"] + box["height"] / 2)
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, steps=2)
            tip = plot.locator(".hoverlayer .hovertext")
            tip.first.wait_for(timeout=10_000)
            text = tip.first.text_content() or ""
            assert "Change: " in text
            assert "Planned start: " in text
            assert "Risk indicator: " in text
            # drag across the plot: the time axis zooms in (a narrower range than the forward window)
            before = page.evaluate(f"() => ({SCHEDULE_JS})()._fullLayout.xaxis.range.map(d => Date.parse(d))")
            area = plot.locator(".nsewdrag").first.bounding_box()
            assert area is not None
            y = area["y"] + area["height"] / 2
            page.mouse.move(area["x"] + area["width"] * 0.3, y)
            page.mouse.down()
            page.mouse.move(area["x"] + area["width"] * 0.5, y, steps=8)
            page.mouse.up()
            page.wait_for_timeout(800)
            after = page.evaluate(f"() => ({SCHEDULE_JS})()._fullLayout.xaxis.range.map(d => Date.parse(d))")
            assert after[1] - after[0] < 0.5 * (before[1] - before[0])
            # the top axis follows the bottom one
            top = page.evaluate(f"() => ({SCHEDULE_JS})()._fullLayout.xaxis2.range.map(d => Date.parse(d))")
            assert top == after
            # regroup by configuration item
            page.locator('[data-testid="stMain"]').get_by_text("Configuration item", exact=True).click()
            _settle(page)
            page.wait_for_function(
                f"() => ({SCHEDULE_JS})().layout.title.text.includes('by configuration item')", timeout=30_000
            )
            _no_errors(page)
        finally:
            browser.close()


def _count(text: str) -> int:
    """The record count at the end of a drill-down label ('… — 1,234 records')."""
    return int(text.rsplit("—", 1)[1].split()[0].replace(",", ""))


def _dialog_counts(page) -> tuple[int, int | None]:  # type: ignore[no-untyped-def]
    """(numerator, denominator) records the open records dialog lists."""
    dialog = page.get_by_role("dialog")
    dialog.locator('[data-testid="stExpander"]').first.wait_for(timeout=30_000)
    _settle(page)
    labels = [s.inner_text() for s in dialog.locator('[data-testid="stExpander"] summary').all()]
    numerator = [_count(t) for t in labels if "Numerator:" in t]
    denominator = [_count(t) for t in labels if "Denominator:" in t]
    return numerator[0], (denominator[0] if denominator else None)


def _close_dialog(page) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("dialog").get_by_role("button", name="Close").click()
    page.get_by_role("dialog").wait_for(state="detached", timeout=15_000)
    _settle(page)


def _click_plotly(page, chart_key: str, selector: str, index: int) -> None:  # type: ignore[no-untyped-def]
    """Click the centre of a drawn point or bar (plotly answers the mouse, not the element)."""
    target = page.locator(f".st-key-{chart_key} {selector}").nth(index)
    target.scroll_into_view_if_needed()
    box = target.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_timeout(300)
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def test_browser_a_tile_a_point_and_a_bar_open_exactly_their_records(server: str, tmp_path: Path) -> None:
    """Click-through: a tile's Records button, a point of a trend and a bar of a breakdown each open a
    dialog listing the numerator's and the denominator's records, as many as the number shown."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(
                viewport={"width": 1440, "height": 1000}, accept_downloads=True
            ).new_page()
            page.goto(server)
            _settle(page)

            # a tile: its evidence line reads "failed / completed completed changes"
            column = page.locator('[data-testid="stColumn"]').filter(
                has=page.locator(".st-key-rec__failed_rate")
            )
            evidence = re.search(r"([\d,]+) / ([\d,]+) completed changes", column.inner_text())
            assert evidence is not None, column.inner_text()
            numerator, denominator = (int(x.replace(",", "")) for x in evidence.groups())
            assert numerator > 0
            column.get_by_role("button", name="Records").click()
            assert _dialog_counts(page) == (numerator, denominator)
            dialog = page.get_by_role("dialog")
            dialog.get_by_text("Records behind: Failed-change rate").wait_for(timeout=15_000)
            # the numerator's CSV holds exactly its records, all failed
            with page.expect_download(timeout=30_000) as info:
                dialog.locator('[data-testid="stExpander"]').first.get_by_role(
                    "button", name="Download CSV"
                ).click()
            target = tmp_path / info.value.suggested_filename
            info.value.save_as(target)
            rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8-sig"), newline="")))
            assert len(rows) == numerator
            assert {r["is_failed"] for r in rows} == {"true"}
            _no_errors(page)
            _close_dialog(page)

            # a point: the failed-change rate's last point is the selected period, the tile's value
            _click_plotly(page, "ov_success", ".scatterlayer .trace:nth-of-type(2) .points path", -1)
            page.get_by_role("dialog").get_by_text("Records behind: Failed-change rate").wait_for(
                timeout=30_000
            )
            assert _dialog_counts(page) == (numerator, denominator)
            _close_dialog(page)

            # a bar: a change type's bar on the Changes page, labelled "rate (successful/completed)"
            _go(page, "Changes")
            text = page.evaluate(
                "() => document.querySelector('.st-key-ch_by_change_type .js-plotly-plot').data[0].text[0]"
            )
            successful, completed = (
                int(x.replace(",", "")) for x in text.split("(")[1].rstrip(")").split("/")
            )
            _click_plotly(page, "ch_by_change_type", ".barlayer .point path", 0)
            page.get_by_role("dialog").get_by_text("Records behind: Change success rate").wait_for(
                timeout=30_000
            )
            assert _dialog_counts(page) == (successful, completed)
            _no_errors(page)
        finally:
            browser.close()


def _dialog_base(page) -> int:  # type: ignore[no-untyped-def]
    """The records the open dialog lists as a median's or a frequency's base."""
    dialog = page.get_by_role("dialog")
    dialog.locator('[data-testid="stExpander"]').first.wait_for(timeout=30_000)
    _settle(page)
    labels = [s.inner_text() for s in dialog.locator('[data-testid="stExpander"] summary').all()]
    base = [_count(t) for t in labels if "Base:" in t]
    assert len(base) == 1, labels
    return base[0]


def test_browser_a_median_tile_and_a_dora_tile_open_the_records_they_rest_on(
    server: str, tmp_path: Path
) -> None:
    """Click-through of a median (lead time to production) and a DORA key (lead time for changes): the
    Records button opens the records the value is the median of, as many as the tile's base, with the
    CSV (issue #18, point 5; DECISIONLOG D48)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(
                viewport={"width": 1440, "height": 1000}, accept_downloads=True
            ).new_page()
            page.goto(server)
            _settle(page)
            for key, pattern, title, measure in (
                (
                    "rec__lead_time_to_production",
                    r"([\d,]+) changes",
                    "Records behind: Lead time to production (median)",
                    "lead_time_to_production_hours",
                ),
                (
                    "rec_dora_lead_time_for_changes",
                    r"median of ([\d,]+) deployed changes",
                    "Records behind: Lead time for changes",
                    "lead_time_to_production_hours",
                ),
            ):
                column = page.locator('[data-testid="stColumn"]').filter(has=page.locator(f".st-key-{key}"))
                column.scroll_into_view_if_needed()
                found = re.search(pattern, column.inner_text())
                assert found is not None, column.inner_text()
                base = int(found.group(1).replace(",", ""))
                assert base > 0
                column.get_by_role("button", name="Records").click()
                dialog = page.get_by_role("dialog")
                dialog.get_by_text(title).wait_for(timeout=30_000)
                assert _dialog_base(page) == base, key
                # the CSV holds exactly the base's records, each with the duration the median is of
                with page.expect_download(timeout=30_000) as info:
                    dialog.locator('[data-testid="stExpander"]').first.get_by_role(
                        "button", name="Download CSV"
                    ).click()
                target = tmp_path / info.value.suggested_filename
                info.value.save_as(target)
                rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8-sig"), newline="")))
                assert len(rows) == base
                assert all(r[measure] != "" for r in rows)
                _no_errors(page)
                _close_dialog(page)
        finally:
            browser.close()


def _dialog_csv(page, tmp_path: Path) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    """The rows of the open dialog's first list, as its CSV download holds them."""
    dialog = page.get_by_role("dialog")
    with page.expect_download(timeout=30_000) as info:
        dialog.locator('[data-testid="stExpander"]').first.get_by_role("button", name="Download CSV").click()
    target = tmp_path / info.value.suggested_filename
    info.value.save_as(target)
    return list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8-sig"), newline="")))


def test_browser_a_sum_tile_and_a_release_tile_open_their_records(server: str, tmp_path: Path) -> None:
    """Issue 18: the outage hours caused by changes open the incidents whose outage hours they sum (the
    CSV's sum is the tile's value), and the incidents caused by releases open the incidents they count,
    as many as the tile shows (DECISIONLOG D50)."""
    from playwright.sync_api import sync_playwright

    def tile(page, key: str):  # type: ignore[no-untyped-def]
        column = page.locator('[data-testid="stColumn"]').filter(has=page.locator(f".st-key-{key}"))
        column.scroll_into_view_if_needed()
        value = column.locator('[data-testid="stMetricValue"]').first.inner_text()
        return column, float(value.replace(",", ""))

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(
                viewport={"width": 1440, "height": 1000}, accept_downloads=True
            ).new_page()
            page.goto(server)
            _settle(page)

            _go(page, "Incidents & attribution")
            column, hours = tile(page, "rec__change_caused_outage_hours")
            column.get_by_role("button", name="Records").click()
            dialog = page.get_by_role("dialog")
            dialog.get_by_text("Records behind: Outage hours caused by changes").wait_for(timeout=30_000)
            dialog.get_by_text("The value is the sum of", exact=False).wait_for(timeout=15_000)
            rows = _dialog_csv(page, tmp_path)
            assert {r["is_outage"] for r in rows} <= {"true"}
            assert {r["is_change_caused"] for r in rows} <= {"true"}
            assert round(sum(float(r["outage_hours"]) for r in rows), 1) == hours
            _no_errors(page)
            _close_dialog(page)

            _go(page, "Releases")
            column, count = tile(page, "rec__release_caused_incidents")
            column.get_by_role("button", name="Records").click()
            dialog = page.get_by_role("dialog")
            dialog.get_by_text("Records behind: Incidents caused by releases").wait_for(timeout=30_000)
            dialog.locator('[data-testid="stExpander"]').first.wait_for(timeout=30_000)
            _settle(page)
            rows = _dialog_csv(page, tmp_path)
            assert len(rows) == int(count)
            assert {r["is_release_caused"] for r in rows} <= {"true"}
            _no_errors(page)
        finally:
            browser.close()


def test_browser_the_backlog_tiles_and_bars_open_the_changes_open_at_the_period_end(
    server: str, tmp_path: Path
) -> None:
    """Issue 18: the overdue tile opens the overdue changes (numerator) and the open ones (denominator) of
    the period's end, as many as its evidence line says; the growth tile what entered and what left the
    backlog in the period (fct_backlog_movements); a bar of the age chart opens the changes of its
    bucket open at its period's end, as many as the bar is high (fct_backlog_snapshots, DECISIONLOG D51)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(
                viewport={"width": 1440, "height": 1000}, accept_downloads=True
            ).new_page()
            page.goto(server)
            _settle(page)
            _go(page, "Backlog & schedule")

            column = page.locator('[data-testid="stColumn"]').filter(
                has=page.locator(".st-key-rec__overdue_changes")
            )
            evidence = re.search(r"([\d,]+) / ([\d,]+) open changes", column.inner_text())
            assert evidence is not None, column.inner_text()
            overdue, open_count = (int(x.replace(",", "")) for x in evidence.groups())
            assert overdue > 0
            column.get_by_role("button", name="Records").click()
            page.get_by_role("dialog").get_by_text("Records behind: Overdue").wait_for(timeout=30_000)
            page.get_by_role("dialog").get_by_text("Denominator: open changes", exact=False).wait_for(
                timeout=30_000
            )
            assert _dialog_counts(page) == (overdue, open_count)
            rows = _dialog_csv(page, tmp_path)
            assert len(rows) == overdue
            assert {r["is_overdue"] for r in rows} == {"true"}
            _no_errors(page)
            _close_dialog(page)

            # the growth: what entered the backlog less what left it, as its evidence line says
            column = page.locator('[data-testid="stColumn"]').filter(
                has=page.locator(".st-key-rec__backlog_growth")
            )
            moved = re.search(r"([\d,]+) opened − ([\d,]+) closed", column.inner_text())
            assert moved is not None, column.inner_text()
            opened, closed = (int(x.replace(",", "")) for x in moved.groups())
            column.get_by_role("button", name="Records").click()
            dialog = page.get_by_role("dialog")
            dialog.get_by_text("Records behind: Backlog growth").wait_for(timeout=30_000)
            dialog.get_by_text("Taken away:", exact=False).wait_for(timeout=30_000)
            _settle(page)
            summaries = [t.inner_text() for t in dialog.locator('[data-testid="stExpander"] summary').all()]
            assert [_count(t) for t in summaries if "Added:" in t] == [opened]
            assert [_count(t) for t in summaries if "Taken away:" in t] == [closed]
            _no_errors(page)
            _close_dialog(page)

            # the "> 90 days" bar (the fifth series) of the selected period, the chart's last
            high = page.evaluate(
                "() => document.querySelector('.st-key-bl_age .js-plotly-plot').data[4].y.slice(-1)[0]"
            )
            assert high > 0
            _click_plotly(page, "bl_age", ".barlayer .trace:nth-of-type(5) .point path", -1)
            dialog = page.get_by_role("dialog")
            dialog.get_by_text("Records behind: Open changes").wait_for(timeout=30_000)
            dialog.locator('[data-testid="stExpander"]').first.wait_for(timeout=30_000)
            _settle(page)
            rows = _dialog_csv(page, tmp_path)
            assert len(rows) == high
            assert {r["age_bucket"] for r in rows} == {"over_90_days"}
            assert min(int(r["age_days"]) for r in rows) > 90
            _no_errors(page)
        finally:
            browser.close()
