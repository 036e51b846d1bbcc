"""AppTest per page: titles, KPI values equal to the dbt models' (queried directly with duckdb), chart
counts, drill-downs, empty states, the version footer."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from ingest.paths import DataDir

APP = Path(__file__).resolve().parents[2] / "app"
ENTRY = APP / "streamlit_app.py"
TIMEOUT = 60

PAGES = {
    "overview": ("views/overview.py", "Overview"),
    "changes": ("views/changes.py", "Changes"),
    "lead_times": ("views/lead_times.py", "Lead times"),
    "incidents": ("views/incidents.py", "Incidents & attribution"),
    "releases": ("views/releases.py", "Releases"),
    "services": ("views/services.py", "Services & CIs"),
    "backlog": ("views/backlog.py", "Backlog & schedule"),
    "data_quality": ("views/data_quality.py", "Data quality"),
}


@pytest.fixture(scope="module")
def warehouse(built_data: DataDir) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(str(built_data.warehouse_link), read_only=True)
    try:
        yield con
    finally:
        con.close()


def one(con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> dict[str, object]:
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    row = cur.fetchone()
    assert row is not None, sql
    return dict(zip(names, row, strict=True))


def run_page(page: str, state: dict[str, object] | None = None) -> AppTest:
    at = AppTest.from_file(str(ENTRY), default_timeout=TIMEOUT)
    for key, value in (state or {}).items():
        at.session_state[key] = value
    at.run()
    if page != "overview":
        at.switch_page(PAGES[page][0])
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metric(at: AppTest, label: str) -> object:
    found = [m for m in at.metric if m.label == label]
    assert found, f"no KPI tile {label!r} among {[m.label for m in at.metric]}"
    return found[0]


def captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption]


def pct(v: float) -> str:
    return f"{v * 100:.1f} %"


def charts_on(at: AppTest) -> int:
    return len(at.get("plotly_chart"))


def expanders(at: AppTest) -> list[str]:
    return [e.label for e in at.expander]


def test_entrypoint_does_not_use_a_pages_folder() -> None:
    # Streamlit runs a `pages/` folder next to the entrypoint in legacy MPA mode on a fresh server.
    assert not (APP / "pages").exists()


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_renders_with_title_and_footer(app_env: DataDir, page: str) -> None:
    at = run_page(page)
    assert at.title[0].value == PAGES[page][1]
    version = app_env.current_pointer.read_text(encoding="utf-8")
    footer = [c for c in captions(at) if c.startswith("Serving warehouse version")]
    assert footer, captions(at)
    assert footer[0].split()[3] in version
    assert not at.error


def test_overview_kpis_equal_the_dbt_models(app_env: DataDir, warehouse: duckdb.DuckDBPyConnection) -> None:
    at = run_page("overview")
    latest = one(
        warehouse,
        "select max(period_start) as p from rpt_change_kpis where period_grain = 'month' and dimension = 'all'",
    )["p"]
    kpi = one(
        warehouse,
        "select * from rpt_change_kpis where period_grain = 'month' and dimension = 'all' and period_start = ?",
        [latest],
    )
    prev = one(
        warehouse,
        "select * from rpt_change_kpis where period_grain = 'month' and dimension = 'all' "
        "and period_start = ? - interval 1 month",
        [latest],
    )
    m = metric(at, "Change success rate")
    assert m.value == pct(kpi["change_success_rate"])
    assert m.delta == f"previous: {pct(prev['change_success_rate'])}"
    caps = captions(at)
    assert f"{kpi['change_success_numerator']:,} / {kpi['completed_count']:,} completed changes" in caps
    assert metric(at, "Failed-change rate").value == pct(kpi["failed_rate"])
    assert f"{kpi['failed_count']:,} / {kpi['completed_count']:,} completed changes" in caps
    assert metric(at, "Unsuccessful rate (ITIL)").value == pct(kpi["unsuccessful_rate"])
    assert metric(at, "Incident-based fail rate").value == pct(kpi["incident_fail_rate"])
    assert f"{kpi['incident_failed_count']:,} / {kpi['deployed_completed_count']:,} deployed changes" in caps
    assert metric(at, "Emergency change ratio").value == pct(kpi["emergency_ratio"])
    assert f"{kpi['emergency_count']:,} / {kpi['changes_opened']:,} changes opened" in caps
    assert metric(at, "Unauthorized ratio").value == pct(kpi["unauthorized_ratio"])
    assert metric(at, "Changes opened").value == f"{kpi['changes_opened']:,}"
    assert metric(at, "Change-caused incidents").value == f"{kpi['change_caused_incident_count']:,}"
    dora = one(
        warehouse, "select * from rpt_dora where period_grain = 'month' and period_start = ?", [latest]
    )
    assert metric(at, "Change fail rate (DORA)").value == pct(dora["change_fail_rate"])
    assert (
        f"{dora['change_fail_numerator']:,} / {dora['change_fail_denominator']:,} production changes" in caps
    )
    assert metric(at, "Deployment frequency").value == f"{dora['deployments_per_day']:.2f} / day"
    # volume, success, lead time, policy trends
    assert charts_on(at) == 4
    titles = expanders(at)
    assert f"Completed changes closed in the period — {kpi['completed_count']:,} records" in titles
    assert f"Changes opened in the period — {kpi['changes_opened']:,} records" in titles


def test_overview_filter_uses_the_published_slice(
    app_env: DataDir, warehouse: duckdb.DuckDBPyConnection
) -> None:
    latest = one(
        warehouse,
        "select max(period_start) as p from rpt_change_kpis where period_grain = 'month' and dimension = 'change_type' "
        "and dimension_value = 'normal'",
    )["p"]
    kpi = one(
        warehouse,
        "select * from rpt_change_kpis where period_grain = 'month' and dimension = 'change_type' "
        "and dimension_value = 'normal' and period_start = ?",
        [latest],
    )
    at = run_page("overview", {"flt_change_type": "normal", "flt_period": latest})
    assert metric(at, "Change success rate").value == pct(kpi["change_success_rate"])
    assert any("change type: normal" in c for c in captions(at))


def test_two_filters_say_which_one_the_kpis_use(app_env: DataDir) -> None:
    at = run_page("overview", {"flt_change_type": "normal", "flt_risk": "high"})
    assert any("shown for change type = normal" in w.value for w in at.warning)


def test_period_with_no_data_shows_an_empty_state(
    app_env: DataDir, warehouse: duckdb.DuckDBPyConnection
) -> None:
    # a week that has changes overall but none from Jira
    week = one(
        warehouse,
        "select min(period_start) as p from rpt_change_kpis a where period_grain = 'week' and dimension = 'all' "
        "and not exists (select 1 from rpt_change_kpis j where j.period_grain = 'week' and j.dimension = 'source_system' "
        "and j.dimension_value = 'jira' and j.period_start = a.period_start)",
    )["p"]
    assert week is not None
    at = run_page("overview", {"flt_grain": "week", "flt_period": week, "flt_source_system": "jira"})
    assert any(i.value.startswith("No changes in this period") for i in at.info), [i.value for i in at.info]
    assert not [m for m in at.metric if m.label == "Change success rate"]
    assert not at.exception


def test_changes_page(app_env: DataDir, warehouse: duckdb.DuckDBPyConnection) -> None:
    at = run_page("changes")
    latest = one(
        warehouse,
        "select max(period_start) as p from rpt_change_kpis where period_grain = 'month' and dimension = 'all'",
    )["p"]
    kpi = one(
        warehouse,
        "select * from rpt_change_kpis where period_grain = 'month' and dimension = 'all' and period_start = ?",
        [latest],
    )
    assert metric(at, "Outside planned window").value == pct(kpi["outside_window_ratio"])
    assert f"{kpi['outside_window_count']:,} / {kpi['window_checked_count']:,} with both windows" in captions(
        at
    )
    assert metric(at, "Unsuccessful rate (ITIL)").value == pct(kpi["unsuccessful_rate"])
    disagree = one(
        warehouse,
        "select count(*) as n from fct_changes where is_completed and is_failed_itil <> is_failed_incident "
        "and closed_at >= ? and closed_at < ? + interval 1 month",
        [latest, latest],
    )["n"]
    unauth = one(
        warehouse,
        "select count(*) as n from fct_changes where is_completed and is_unauthorized "
        "and closed_at >= ? and closed_at < ? + interval 1 month",
        [latest, latest],
    )["n"]
    titles = expanders(at)
    assert f"Disagreement list — {disagree:,} records" in titles
    assert f"Unauthorized changes with their reason — {unauth:,} records" in titles
    # outcome mix + 4 breakdowns + schedule variance
    assert charts_on(at) == 6
    assert len(at.get("download_button")) >= 2  # the expanded lists carry their CSV download


def test_lead_times_page(app_env: DataDir, warehouse: duckdb.DuckDBPyConnection) -> None:
    at = run_page("lead_times")
    latest = one(
        warehouse,
        "select max(period_start) as p from rpt_change_kpis where period_grain = 'month' and dimension = 'all'",
    )["p"]
    kpi = one(
        warehouse,
        "select * from rpt_change_kpis where period_grain = 'month' and dimension = 'all' and period_start = ?",
        [latest],
    )
    from app.components import fmt

    assert metric(at, "Request lead time (median)").value == fmt(
        kpi["request_lead_time_median_hours"], "hours"
    )
    assert metric(at, "Lead time to production (median)").value == fmt(
        kpi["lead_time_to_production_median_hours"], "hours"
    )
    assert charts_on(at) == 5  # all measures, by type, by group, two trends
    assert any(i.value.startswith("Time per state is not published yet") for i in at.info)


def test_incidents_page_and_exploratory_controls(
    app_env: DataDir, warehouse: duckdb.DuckDBPyConnection
) -> None:
    at = run_page("incidents")
    latest = one(
        warehouse,
        "select max(period_start) as p from rpt_change_kpis where period_grain = 'month' and dimension = 'all'",
    )["p"]
    kpi = one(
        warehouse,
        "select * from rpt_change_kpis where period_grain = 'month' and dimension = 'all' and period_start = ?",
        [latest],
    )
    assert metric(at, "Incidents caused by changes").value == f"{kpi['change_caused_incident_count']:,}"
    caused = one(
        warehouse,
        "select count(*) as n from fct_incidents where is_change_caused and opened_at >= ? "
        "and opened_at < ? + interval 1 month",
        [latest, latest],
    )["n"]
    assert f"Change-caused incidents with their evidence — {caused:,} records" in expanders(at)
    assert any(w.value.startswith("Exploratory — not the published figure") for w in at.warning)
    assert charts_on(at) == 3
    # with the published settings, the exploration finds the published incidents
    assert metric(at, "Incidents with a cause (exploratory)").value == f"{caused:,}"
    at.slider(key="inc_x_threshold").set_value(1.0).run()
    assert not at.exception
    strict = one(
        warehouse,
        "select count(distinct k.incident_id) as n from fct_incident_change_candidates k join fct_incidents i "
        "using (incident_id) where i.opened_at >= ? and i.opened_at < ? + interval 1 month "
        "and (k.method like 'explicit%' or k.confidence >= 1.0)",
        [latest, latest],
    )["n"]
    if strict:
        assert metric(at, "Incidents with a cause (exploratory)").value == f"{strict:,}"
    else:
        assert any(i.value.startswith("No incident would be attributed") for i in at.info)


def test_services_page(app_env: DataDir, warehouse: duckdb.DuckDBPyConnection) -> None:
    at = run_page("services")
    n_services = one(warehouse, "select count(*) as n from dim_services")["n"]
    n_groups = one(warehouse, "select count(*) as n from dim_assignment_groups")["n"]
    titles = expanders(at)
    assert f"Services — {n_services:,} records" in titles
    assert f"Assignment groups with their counts — {n_groups:,} records" in titles
    assert charts_on(at) == 3
    ci = at.selectbox(key="svc_ci")
    ci_id = ci.value
    n_changes = one(warehouse, "select count(*) as n from fct_changes where primary_ci_id = ?", [ci_id])["n"]
    assert f"Changes on this CI — {n_changes:,} records" in titles


@pytest.mark.parametrize(
    ("page", "model"),
    [("releases", "fct_releases"), ("backlog", "rpt_backlog"), ("data_quality", "rpt_data_quality")],
)
def test_pages_over_optional_reports(
    app_env: DataDir, warehouse: duckdb.DuckDBPyConnection, page: str, model: str
) -> None:
    at = run_page(page)
    present = one(
        warehouse, "select count(*) as n from information_schema.tables where table_name = ?", [model]
    )["n"]
    missing = [i.value for i in at.info if "This report is not built yet" in i.value]
    if present:
        assert not [m for m in missing if model in m]
    else:
        assert any(model in m for m in missing), [i.value for i in at.info]


def test_filters_persist_across_pages(app_env: DataDir) -> None:
    at = run_page("overview", {"flt_risk": "high"})
    at.switch_page(PAGES["lead_times"][0]).run()
    assert at.title[0].value == "Lead times"
    assert at.selectbox(key="flt_risk").value == "high"
    assert at.session_state["flt_period"] == date.fromisoformat(str(at.session_state["flt_period"]))
