"""Real browser (Debian's chromium driven by Playwright) against `streamlit run`, issue #18 points 1-4,
6 and 8: a period to date is compared like for like and says so on the tile; a tile on too small a base
says why it shows no band; the failed-change tile shows how it reconciles with the other outcome
tiles (the numbers read from the warehouse); the sidebar filters reach the breakdowns (their bars add
up to the filtered changes) or the section says in its header why it cannot; a tile shows its target
status, a sparkline and a delta coloured better / worse, the trend its target line; every page reads
in words at 1440 px (no raw column or enum name, no None, no ISO timestamp, nothing cut); the Services &
CIs page compares CIs by rate and fits in two screens.

The expected numbers are read from the published warehouse, never written here."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest

from changeboard.paths import DataDir
from changeboard.warehouse.versions import read_pointer
from tests.app.streamlit_server import streamlit_server
from tests.app.test_browser import CHROMIUM, CHROMIUM_ARGS, PAGES, _no_errors, _select, _settle

pytestmark = pytest.mark.browser

OCT = date(2026, 10, 1)  # the newest complete month of the sample (built as of 26 Nov 2026)
SEP = date(2026, 9, 1)
# a raw name as a person would see it on screen: snake_case
SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
# what a page may name in snake_case on purpose: a public model an analyst can query, the settings
# a reader sets in changeboard.toml, and the export fields and tables a reader is told to export
BLACKOUT = re.compile(r"^(block\s+)?Inside blackout window .+: approving needs an explicit confirmation\.$")
REFERENCE = re.compile(r"^(fct|dim|rpt)_|^(min_base|forward_schedule_days|sys_mod_count|rm_release)$")


@pytest.fixture(scope="module")
def server(built_data: DataDir, output_dir: Path) -> Iterator[str]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium (/usr/bin/chromium) is not installed: `apt-get install chromium`")
    pytest.importorskip("playwright.sync_api", reason="playwright (python) is not installed")
    with streamlit_server(built_data.root, output_dir / "streamlit-trust-browser-test.log") as base:
        yield base


@pytest.fixture(scope="module")
def warehouse(built_data: DataDir) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect()  # a private instance: the server's readers hold the file (brief's gotcha)
    con.execute(f"attach '{read_pointer(built_data).path}' as w (read_only)")
    con.execute("use w")
    yield con
    con.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _page(browser, url: str, callouts: re.Pattern[str] | None = None):  # type: ignore[no-untyped-def]
    page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()  # type: ignore[attr-defined]
    page.goto(url)
    _settle(page)
    _no_errors(page, callouts)
    return page


def _tile(page, label: str):  # type: ignore[no-untyped-def]
    """The bordered tile whose metric label is ``label``: the nearest block around the metric that also
    holds the tile's captions (its bordered layout wrapper)."""
    metric = (
        page.locator('[data-testid="stMetric"]')
        .filter(has=page.locator('[data-testid="stMetricLabel"]', has_text=label))
        .first
    )
    return metric.locator("xpath=ancestor::*[@data-testid='stLayoutWrapper'][1]")


def test_a_month_to_date_is_compared_like_for_like(server: str, browser, warehouse) -> None:  # type: ignore[no-untyped-def]
    window = warehouse.execute(
        "select compared_days, compare_end, completed_count from rpt_change_kpis_to_date "
        "where period_grain = 'month' and dimension = 'all'"
    ).fetchone()
    assert window is not None
    days, compare_end, completed_before = window
    assert days == 25  # as of 26 Nov 00:00: 25 days of November begun
    assert compare_end == date(2026, 10, 26)
    page = _page(browser, f"{server}/?period=2026-11-01")
    main = page.locator('[data-testid="stMain"]').inner_text()
    assert "month to date (25 of 30 days)" in main
    tile = _tile(page, "Change success rate").inner_text()
    assert "on 1–25 Oct 2026 (like for like)" in tile
    # the tile compares with the published like-for-like rate, not October's whole month
    before = warehouse.execute(
        "select change_success_rate from rpt_change_kpis_to_date where period_grain = 'month' and dimension = 'all'"
    ).fetchone()[0]
    assert f"vs {before * 100:.1f} %" in tile
    assert completed_before > 0


def test_a_tile_on_a_small_base_says_why_it_has_no_band(server: str, browser, warehouse) -> None:  # type: ignore[no-untyped-def]
    small = warehouse.execute(
        "select dimension_value, completed_count from rpt_change_kpis where period_grain = 'month' "
        "and period_start = ? and dimension = 'risk' and completed_count between 1 and 19 "
        "order by completed_count, dimension_value limit 1",
        (OCT,),
    ).fetchone()
    if small is None:
        pytest.skip("the sample has no risk with fewer than 20 completed changes in October")
    risk, completed = small
    page = _page(browser, f"{server}/?period={OCT}&risk={risk}")
    tile = _tile(page, "Change success rate")
    text = tile.inner_text()
    assert f"Too few completed changes ({completed}) for a band or a comparison" in text
    # neither a target status nor a change from the period before on that base
    for badge in ("on target", "near target", "off target"):
        assert badge not in text
    assert tile.locator('[data-testid="stMetricDelta"]').count() == 0


def test_the_failed_tile_reconciles_with_the_other_outcomes(server: str, browser, warehouse) -> None:  # type: ignore[no-untyped-def]
    failed, unsuccessful, caused, completed, success = warehouse.execute(
        "select failed_count, unsuccessful_count, successful_incident_caused_count, completed_count, "
        "change_success_numerator from rpt_change_kpis where period_grain = 'month' and dimension = 'all' "
        "and period_start = ?",
        (OCT,),
    ).fetchone()
    assert failed == unsuccessful + caused
    page = _page(browser, f"{server}/?period={OCT}")
    failed_tile = _tile(page, "Failed-change rate").inner_text()
    assert (
        f"{failed} failed = {unsuccessful} unsuccessful + {caused} successful but incident-caused"
        in failed_tile
    )
    success_tile = _tile(page, "Change success rate").inner_text()
    assert f"{success} successful + {unsuccessful} unsuccessful = {completed} completed" in success_tile
    assert "by deployment date" in _tile(page, "Incident fail rate").inner_text()


def _bar_denominators(page, title: str) -> list[int]:  # type: ignore[no-untyped-def]
    """The denominators of a rate-by-category chart's bar labels ('95.0%  (19/20)')."""
    plot = page.locator(".js-plotly-plot").filter(has=page.locator(".gtitle", has_text=title)).first
    plot.wait_for(timeout=15_000)
    texts = plot.locator("text.bartext").all_text_contents()
    return [int(m.group(1)) for t in texts if (m := re.search(r"/([\d,]+)\)", t.replace(",", "")))]


def test_a_type_filter_reaches_every_section_or_its_header_says_why(server: str, browser, warehouse) -> None:  # type: ignore[no-untyped-def]
    page = _page(browser, f"{server}/?period={OCT}")
    _select(page, "Change type", "Normal")
    main = page.locator('[data-testid="stMain"]')
    # the emergency share of normal changes means nothing: said in the tile, not shown as 0 %
    emergency = _tile(page, "Emergency ratio").inner_text()
    assert "Not shown: with the change-type filter (Normal)" in emergency
    assert "DORA keys · not shown for these filters" in main.inner_text()
    assert "rpt_dora has no breakdown" in main.inner_text()

    # two filters at once: the Changes page's breakdowns add up to the changes both select
    _select(page, "Risk", "High")
    page.locator('[data-testid="stSidebarNav"] a', has_text="Changes").first.click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('h1')].some(h => h.innerText.trim() === 'Changes')"
    )
    _settle(page)
    _no_errors(page)
    expected = warehouse.execute(
        "select count(*) from fct_changes where is_completed and change_type = 'normal' and risk = 'high' "
        "and closed_at >= ? and closed_at < ?",
        (OCT, date(2026, 11, 1)),
    ).fetchone()[0]
    assert expected > 0
    assert 0 < sum(_bar_denominators(page, "By service")) <= expected  # the 15 busiest at most
    assert 0 < sum(_bar_denominators(page, "By assignment group")) <= expected
    by_type = _bar_denominators(page, "By change type")
    assert by_type == [expected], (by_type, expected)  # the filtered type alone, with exactly its changes
    assert sum(_bar_denominators(page, "By risk")) == expected
    text = main.inner_text()
    # the published three-rates tiles break down by one filter: the header says so
    assert "The three failure rates · not shown for these filters" in text
    assert "change type and risk are set together" in text


def test_services_compare_cis_by_rate_within_two_screens(server: str, browser, warehouse) -> None:  # type: ignore[no-untyped-def]
    page = _page(browser, f"{server}/services?period={OCT}")
    height = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll('[data-testid=stMain], [data-testid=stMainBlockContainer]')]"
        ".map(e => e.scrollHeight))"
    )
    assert height <= 2 * 900, f"Services & CIs is {height} px tall at 1440 × 900"
    page.locator("[data-testid=stButtonGroup]").get_by_text("Configuration item", exact=True).click()
    page.wait_for_function(
        "() => /Failed-change rate by configuration item|No configuration item has/"
        ".test(document.querySelector('[data-testid=stMain]').innerText)",
        timeout=30_000,
    )
    _settle(page)
    _no_errors(page)
    text = page.locator('[data-testid="stMain"]').inner_text()
    assert "Failed-change rate by configuration item" in text or "No configuration item has" in text
    assert "Scale: the score per completed change is +3" in text


def _status(value: float, target: float, amber: float) -> str:
    """The badge a higher-is-better rate earns against its target and amber threshold."""
    return "on target" if value >= target else "near target" if value >= amber else "off target"


def test_a_tile_shows_its_target_status_sparkline_and_a_coloured_delta(
    server: str, browser, warehouse
) -> None:  # type: ignore[no-untyped-def]
    target, amber, direction = warehouse.execute(
        "select target_value, amber_value, direction from rpt_metric_definitions where metric = 'change_success_rate'"
    ).fetchone()
    assert direction == "higher_is_better"
    rates = dict(
        warehouse.execute(
            "select period_start, change_success_rate from rpt_change_kpis where period_grain = 'month' "
            "and dimension = 'all' and period_start in (?, ?)",
            (SEP, OCT),
        ).fetchall()
    )
    page = _page(browser, f"{server}/?period={OCT}")
    tile = _tile(page, "Change success rate")
    text = tile.inner_text()
    assert _status(rates[OCT], target, amber) in text
    sparkline = tile.locator('[data-testid="stMetricChart"] svg')
    sparkline.first.wait_for(timeout=15_000)  # drawn after the number, later on a busy machine
    assert sparkline.count() == 1
    delta = tile.locator('[data-testid="stMetricDelta"]')
    red, green, _blue = map(int, re.findall(r"\d+", delta.evaluate("e => getComputedStyle(e).color"))[:3])
    assert rates[OCT] != rates[SEP]
    better = rates[OCT] > rates[SEP]
    assert (green > red) == better, (rates, red, green)
    # the trend draws the published target as a line with its label
    assert (
        f"Change success rate target {target:.0%}"
        in page.locator(".js-plotly-plot .annotation-text").all_text_contents()
    )


def _shown_text(page) -> str:  # type: ignore[no-untyped-def]
    """The main area's text as a person reads it: icon ligatures (':material/table_view:' is drawn
    from the text 'table_view') hidden, read and shown again in one script, so that no re-render
    between the hiding and the reading lets an icon's name through."""
    return str(
        page.evaluate(
            """() => {
                const main = document.querySelector('[data-testid=stMain]');
                const icons = [...main.querySelectorAll('[aria-hidden=true][translate=no], [data-testid=stIconMaterial]')];
                icons.forEach(e => e.style.display = 'none');
                const text = main.innerText;
                icons.forEach(e => e.style.display = '');
                return text;
            }"""
        )
    )


def _cut(page) -> list[str]:  # type: ignore[no-untyped-def]
    """Text cut off at the page's width: an element whose own text overflows a box that hides it."""
    return list(
        page.evaluate(
            """() => [...document.querySelectorAll('[data-testid=stMain] *')]
            .filter(e => e.childElementCount === 0 && e.innerText && e.scrollWidth > e.clientWidth + 1
                    && getComputedStyle(e).overflowX !== 'visible')
            .map(e => e.innerText.slice(0, 80))"""
        )
    )


def test_every_page_reads_in_words_at_1440_px(server: str, browser) -> None:  # type: ignore[no-untyped-def]
    found: dict[str, list[str]] = {}
    for path, _title, name in [*PAGES, ("cab", "CAB meeting", "cab")]:
        # the CAB agenda flags in red the changes the form placed in a blackout window (earlier tests)
        page = _page(browser, f"{server}/{path}?period={OCT}", callouts=BLACKOUT)
        if name != "cab":  # every dashboard page draws a chart; the CAB page is its agenda
            page.wait_for_selector(".js-plotly-plot .main-svg", timeout=30_000)
        page.wait_for_timeout(500)
        text = _shown_text(page)
        raw = sorted({t for t in SNAKE.findall(text) if not REFERENCE.search(t)})
        problems = [f"raw name {t!r}" for t in raw]
        problems += [f"None: {m!r}" for m in re.findall(r".{0,40}\bNone\b.{0,20}", text)]
        problems += [f"ISO timestamp {m!r}" for m in re.findall(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", text)]
        problems += [f"cut off: {t!r}" for t in _cut(page)]
        if problems:
            found[name] = problems
        page.context.close()
    assert found == {}
