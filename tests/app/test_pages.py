"""AppTest per page: titles, KPI values equal to the dbt models' (queried directly with duckdb), chart
counts, drill-downs, empty states, the version footer."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest
from streamlit.proto.Metric_pb2 import Metric as MetricProto
from streamlit.testing.v1 import AppTest

from changeboard.paths import DataDir
from changeboard.reports import palette

APP = Path(__file__).resolve().parents[2] / "app"
ENTRY = APP / "streamlit_app.py"
TIMEOUT = 60

# The month a page opens on: the newest complete one (the build's "now" falls in the newest month).
DEFAULT_MONTH = (
    "select max(period_start) as p from rpt_change_kpis where period_grain = 'month' and dimension = 'all' "
    "and period_start + interval 1 month <= (select max(effective_as_of) from rpt_attribution_settings)"
)

# The headers the tables show: the label map (dbt seed display_labels) the app applies.
with (Path(__file__).resolve().parents[2] / "dbt" / "seeds" / "display_labels.csv").open(
    encoding="utf-8"
) as f:
    HEADERS = {r["name"]: r["label"] for r in csv.DictReader(f) if r["kind"] == "column"}


def header(column: str) -> str:
    """The header a table shows for a published column."""
    return HEADERS.get(column, column)


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


def colour(m: object) -> str:
    """The colour st.metric gave the tile's delta (GREEN, RED or GRAY)."""
    return MetricProto.MetricColor.Name(m.proto.color)  # type: ignore[attr-defined]


def better_worse(diff: float, *, higher_is_better: bool) -> str:
    if diff == 0:
        return "GRAY"
    return "GREEN" if (diff > 0) == higher_is_better else "RED"


def captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption]


def pct(v: float) -> str:
    return f"{v * 100:.1f} %"


def charts_on(at: AppTest) -> int:
    return len(at.get("plotly_chart"))


def expanders(at: AppTest) -> list[str]:
    return [e.label for e in at.expander]


# The metric_confidence names the Overview tiles read (the rpt_change_kpis columns they show).
OVERVIEW_CONFIDENCE = (
    "change_success_rate",
    "failed_rate",
    "unsuccessful_rate",
    "incident_fail_rate",
    "backout_rate",
    "unauthorized_ratio",
    "lead_time_to_production",
    "change_caused_incidents",
    "incident_based_fail_rate",
)


def badges(at: AppTest) -> int:
    """Low-confidence badges on the page (st.badge renders as markdown)."""
    return sum(
        1 for m in at.markdown if m.value.startswith(":violet-badge[:material/warning: low confidence")
    )


def confidence_rows(con: duckdb.DuckDBPyConnection) -> dict[str, bool]:
    """rpt_data_quality's metric-confidence flags (all sources), by metric."""
    return dict(
        con.execute(
            "select metric, is_low_confidence from rpt_data_quality "
            "where check_type = 'metric_confidence' and source_system = 'all'"
        ).fetchall()
    )


def latest_month(con: duckdb.DuckDBPyConnection) -> date:
    return one(
        con,
        DEFAULT_MONTH,
    )["p"]


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
        DEFAULT_MONTH,
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
    # the delta is the change in percentage points, green when better (higher is better here)
    diff = round((kpi["change_success_rate"] - prev["change_success_rate"]) * 100, 1)
    if diff != 0:
        assert m.delta == f"{diff:+.1f} pp"
    assert m.proto.delta_description == f"vs {pct(prev['change_success_rate'])}"
    assert colour(m) == better_worse(diff, higher_is_better=True)
    # lower is better: a rise is red, a fall green; a volume has no better side (grey)
    fdiff = round((kpi["failed_rate"] - prev["failed_rate"]) * 100, 1)
    assert colour(metric(at, "Failed-change rate")) == better_worse(fdiff, higher_is_better=False)
    assert colour(metric(at, "Changes opened")) == "GRAY"
    # the target status beside the tile (change success: default target 95 %, amber 90 %)
    rate = kpi["change_success_rate"]
    status = "on target" if rate >= 0.95 else "near target" if rate >= 0.90 else "off target"
    assert any(
        b.value.startswith(f":{c}-badge[{status}]") for b in at.markdown for c in ("green", "orange", "red")
    )
    # a sparkline from the trend periods' published values
    assert len(m.proto.chart_data) >= 2
    caps = captions(at)
    assert f"{kpi['change_success_numerator']:,} / {kpi['completed_count']:,} completed changes" in caps
    assert metric(at, "Failed-change rate").value == pct(kpi["failed_rate"])
    assert f"{kpi['failed_count']:,} / {kpi['completed_count']:,} completed changes" in caps
    assert metric(at, "Unsuccessful (ITIL)").value == pct(kpi["unsuccessful_rate"])
    assert metric(at, "Incident fail rate").value == pct(kpi["incident_fail_rate"])
    assert f"{kpi['incident_failed_count']:,} / {kpi['deployed_completed_count']:,} deployed changes" in caps
    assert metric(at, "Emergency ratio").value == pct(kpi["emergency_ratio"])
    assert f"{kpi['emergency_count']:,} / {kpi['changes_opened']:,} changes opened" in caps
    assert metric(at, "Unauthorized ratio").value == pct(kpi["unauthorized_ratio"])
    assert metric(at, "Changes opened").value == f"{kpi['changes_opened']:,}"
    assert metric(at, "Caused incidents").value == f"{kpi['change_caused_incident_count']:,}"
    dora = one(
        warehouse, "select * from rpt_dora where period_grain = 'month' and period_start = ?", [latest]
    )
    assert metric(at, "Change fail rate").value == pct(dora["change_fail_rate"])
    assert (
        f"{dora['change_fail_numerator']:,} / {dora['change_fail_denominator']:,} production changes" in caps
    )
    assert metric(at, "Deploy frequency").value == f"{dora['deployments_per_day']:.2f} / day"
    # volume, success, lead time, policy trends
    assert charts_on(at) == 4
    # low-confidence badges: the tiles look their metric up by the name rpt_data_quality publishes
    dq = confidence_rows(warehouse)
    assert set(OVERVIEW_CONFIDENCE) <= set(dq), set(OVERVIEW_CONFIDENCE) - set(dq)
    assert badges(at) == sum(dq[m] for m in OVERVIEW_CONFIDENCE)
    # each badge says what to fix in the export (rpt_data_quality.how_to_fix of the weakest input)
    for help_text in (
        m.proto.help
        for m in at.markdown
        if m.value.startswith(":violet-badge[:material/warning: low confidence")
    ):
        assert ". To fix: " in help_text
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
    assert any("change type: Normal" in c for c in captions(at))


def test_two_filters_apply_together_or_the_section_says_why_not(
    app_env: DataDir, warehouse: duckdb.DuckDBPyConnection
) -> None:
    latest = one(warehouse, DEFAULT_MONTH)["p"]
    at = run_page("overview", {"flt_change_type": "normal", "flt_risk": "high", "flt_period": latest})
    # the outcome rates of both filters at once, summed from the published outcome cells
    both = one(
        warehouse,
        "select count(*) as completed, count(*) filter (where is_successful) as successful from fct_changes "
        "where is_completed and change_type = 'normal' and risk = 'high' "
        "and closed_at >= ? and closed_at < ? + interval 1 month",
        [latest, latest],
    )
    assert metric(at, "Change success rate").value == pct(both["successful"] / both["completed"])
    headers = [h.value for h in at.subheader]
    for section in ("Intake, policy and speed", "DORA keys"):
        assert f"{section} · not shown for these filters" in headers
    assert any("change type and risk are set together" in w.value for w in at.warning)
    assert any("rpt_dora has no breakdown" in w.value for w in at.warning)


def test_period_with_no_data_shows_an_empty_state(
    app_env: DataDir, warehouse: duckdb.DuckDBPyConnection
) -> None:
    # a week that has changes overall but none of one filter value (the sample decides which one)
    gap = one(
        warehouse,
        "with weeks as (select distinct period_start from rpt_change_kpis where period_grain = 'week' "
        "and dimension = 'all'), vals as (select distinct dimension, dimension_value from rpt_change_kpis "
        "where dimension <> 'all' and dimension_value <> '(none)') "
        "select w.period_start, v.dimension, v.dimension_value from weeks w cross join vals v "
        "where not exists (select 1 from rpt_change_kpis k where k.period_grain = 'week' "
        "and k.period_start = w.period_start and k.dimension = v.dimension "
        "and k.dimension_value = v.dimension_value) "
        "order by v.dimension = 'source_system' desc, w.period_start, v.dimension, v.dimension_value limit 1",
    )
    at = run_page(
        "overview",
        {
            "flt_grain": "week",
            "flt_period": gap["period_start"],
            f"flt_{gap['dimension']}": gap["dimension_value"],
        },
    )
    assert any(i.value.startswith("No changes in this period") for i in at.info), [i.value for i in at.info]
    assert not [m for m in at.metric if m.label == "Change success rate"]
    assert not at.exception


def test_changes_page(app_env: DataDir, warehouse: duckdb.DuckDBPyConnection) -> None:
    at = run_page("changes")
    latest = one(
        warehouse,
        DEFAULT_MONTH,
    )["p"]
    kpi = one(
        warehouse,
        "select * from rpt_change_kpis where period_grain = 'month' and dimension = 'all' and period_start = ?",
        [latest],
    )
    assert metric(at, "Outside planned window").value == pct(kpi["outside_window_ratio"])
    assert (
        f"{kpi['outside_window_count']:,} / {kpi['window_checked_count']:,} changes with both windows"
        in captions(at)
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
    # the breakdowns sum the published outcome cells: by type they add up to the period's completed changes
    import json

    by_type = next(
        json.loads(c.proto.spec)["data"][0]
        for c in at.get("plotly_chart")
        if json.loads(c.proto.spec)["layout"]["title"]["text"].startswith("By change type")
    )
    total = sum(int(t.split("/")[1].rstrip(")")) for t in by_type["text"])
    assert total == kpi["completed_count"]
    assert len(at.get("download_button")) >= 2  # the expanded lists carry their CSV download


def test_lead_times_page(app_env: DataDir, warehouse: duckdb.DuckDBPyConnection) -> None:
    at = run_page("lead_times")
    latest = one(
        warehouse,
        DEFAULT_MONTH,
    )["p"]
    kpi = one(
        warehouse,
        "select * from rpt_change_kpis where period_grain = 'month' and dimension = 'all' and period_start = ?",
        [latest],
    )
    from changeboard.app.components import fmt

    assert metric(at, "Request lead time (median)").value == fmt(
        kpi["request_lead_time_median_hours"], "hours"
    )
    assert metric(at, "Lead time to production (median)").value == fmt(
        kpi["lead_time_to_production_median_hours"], "hours"
    )
    states = one(warehouse, "select count(*) as n from rpt_state_durations where record_type = 'change'")["n"]
    if states:  # time in each state: one more chart and the published rows
        assert charts_on(at) == 6
        assert f"Time in each state by change type (published) — {states:,} records" in expanders(at)
    else:  # all measures, by type, by group, two trends; the state section says why it is empty
        assert charts_on(at) == 5
        assert any(i.value.startswith("No state history in the exports") for i in at.info)
    dq = confidence_rows(warehouse)
    assert badges(at) == sum(bool(dq.get(m)) for m in ("request_lead_time", "lead_time_to_production"))


def test_incidents_page_and_exploratory_controls(
    app_env: DataDir, warehouse: duckdb.DuckDBPyConnection
) -> None:
    at = run_page("incidents")
    latest = one(
        warehouse,
        DEFAULT_MONTH,
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
    titles = expanders(at)
    assert (
        f"Services, all time (dim_services; the sidebar filters do not apply) — {n_services:,} records"
        in titles
    )
    # the score comes from rpt_change_success_score (all time), one row per group like dim_assignment_groups
    n_scores = one(
        warehouse, "select count(*) as n from rpt_change_success_score where period_grain = 'all'"
    )["n"]
    assert f"Change success score with its components — {n_scores:,} records" in titles
    scores = [d.value for d in at.dataframe if header("change_success_score") in d.value.columns]
    assert scores, "no change success score table"
    best = one(
        warehouse,
        "select assignment_group, change_success_score, completed_count from rpt_change_success_score "
        "where period_grain = 'all' order by change_success_score desc, assignment_group limit 1",
    )
    assert scores[0].iloc[0][header("assignment_group")] == best["assignment_group"]
    assert scores[0].iloc[0][header("change_success_score")] == best["change_success_score"]
    assert scores[0].iloc[0][header("score_per_change")] == pytest.approx(
        best["change_success_score"] / best["completed_count"]
    )
    import json

    latest = latest_month(warehouse)
    ranked = warehouse.execute(
        "select dimension_value, failed_rate from rpt_change_kpis where period_grain = 'month' "
        "and dimension = 'service' and period_start = ? and completed_count >= 10 "
        "order by failed_rate desc, completed_count desc, dimension_value",
        [latest],
    ).fetchall()
    assert charts_on(at) == 1 + bool(ranked)  # rates (when any is ranked), score
    # the score is compared per completed change, groups under the minimum volume left out
    score_chart = json.loads(at.get("plotly_chart")[-1].proto.spec)["data"][0]
    per_change = dict(
        warehouse.execute(
            "select assignment_group, change_success_score / completed_count from rpt_change_success_score "
            "where period_grain = 'all' and completed_count >= 10"
        ).fetchall()
    )
    assert set(score_chart["y"]) <= set(per_change)
    for group, value in zip(score_chart["y"], score_chart["x"], strict=True):
        assert value == pytest.approx(per_change[group]), group
    assert max(score_chart["x"]) <= 3
    # services compared by failed-change rate in the sidebar's period, with the minimum-volume rule
    if ranked:
        rates = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]
        assert list(rates["y"]) == [r[0] for r in ranked[:8]]
        assert list(rates["x"]) == pytest.approx([r[1] for r in ranked[:8]])
        if len(ranked) > 8:
            at.toggle(key="svc_compare_all").set_value(True).run()
            rates = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]
            assert len(rates["y"]) == len(ranked)
    else:
        assert any("so none is ranked by rate" in i.value for i in at.info)
    ci = at.selectbox(key="svc_ci")
    ci_id = ci.value
    n_changes = one(warehouse, "select count(*) as n from fct_changes where primary_ci_id = ?", [ci_id])["n"]
    assert f"Changes on this CI — {n_changes:,} records" in titles
    n_incidents = one(warehouse, "select count(*) as n from fct_incidents where ci_id = ?", [ci_id])["n"]
    assert f"Incidents on this CI — {n_incidents:,} records" in titles
    n_neighbours = one(warehouse, "select count(*) as n from dim_ci_relationships where ci_id = ?", [ci_id])[
        "n"
    ]
    if n_neighbours:
        assert f"CMDB neighbours — {n_neighbours:,} records" in titles
        table = [
            d.value
            for d in at.dataframe
            if header("relationship_path") in d.value.columns and header("distance") in d.value.columns
        ]
        paths = {
            r[0]
            for r in warehouse.execute(
                "select relationship_path from dim_ci_relationships where ci_id = ?", [ci_id]
            ).fetchall()
        }
        assert set(table[0][header("relationship_path")]) == paths
    else:
        assert any(i.value.startswith("This CI has no relationship") for i in at.info)


def test_a_lazy_list_reads_its_rows_only_when_opened(
    app_env: DataDir, warehouse: duckdb.DuckDBPyConnection
) -> None:
    """The neighbours' candidate changes on the Services page are counted in the label but read only
    while the expander is open: closed, no table; opened, the records of the list."""
    ci_id = one(
        warehouse,
        "select incident_ci_id as ci_id, count(*) as n from fct_incident_change_candidates "
        "where incident_ci_id is not null and coalesce(change_primary_ci_id, '') <> incident_ci_id "
        "group by 1 order by 2 desc, 1 limit 1",
    )["ci_id"]
    title = "Changes on its CMDB neighbours that are cause candidates of its incidents"

    def neighbour_tables(at: AppTest) -> list[object]:
        return [
            d.value
            for d in at.dataframe
            if header("relationship_path") in d.value.columns and header("change") in d.value.columns
        ]

    at = run_page("services", {"svc_ci_search": ""})
    search = next(t for t in at.text_input if t.key == "svc_ci_search")
    name = one(warehouse, "select name from dim_configuration_items where ci_id = ?", [ci_id])["name"]
    search.input(name).run()
    at.selectbox(key="svc_ci").set_value(ci_id).run()
    expected = one(
        warehouse,
        "select count(*) as n from fct_incident_change_candidates "
        "where incident_ci_id = ? and coalesce(change_primary_ci_id, '') <> ?",
        [ci_id, ci_id],
    )["n"]
    assert expected > 0
    assert f"{title} — {expected:,} records" in expanders(at)
    assert neighbour_tables(at) == []
    at.session_state["svc_ci_neighbours_open"] = True
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    tables = neighbour_tables(at)
    assert len(tables) == 1
    assert len(tables[0]) == min(expected, 500)


def test_a_cis_history_by_its_integer_key_is_its_history_by_id(
    app_env: DataDir, warehouse: duckdb.DuckDBPyConnection
) -> None:
    """The Services page filters the facts on the CI's integer key (ci_key): for every CI with history
    its lists hold exactly the records that its text id selects, in the same order."""
    from changeboard.app import data

    cis = [
        r[0]
        for r in warehouse.execute(
            "select ci_id from dim_configuration_items where change_count > 0 or incident_count > 0 order by ci_id"
        ).fetchall()
    ]
    assert len(cis) > 20
    related_seen = 0
    for ci_id in cis:
        changes, incidents = data.ci_history(ci_id=ci_id)
        assert changes.frame()["number"].to_list() == [
            r[0]
            for r in warehouse.execute(
                "select number from fct_changes where primary_ci_id = ? "
                "order by coalesce(actual_end_at, opened_at) desc, number",
                [ci_id],
            ).fetchall()
        ]
        assert incidents.frame()["number"].to_list() == [
            r[0]
            for r in warehouse.execute(
                "select number from fct_incidents where ci_id = ? order by opened_at desc, number", [ci_id]
            ).fetchall()
        ]
        related = data.ci_related_changes(ci_id=ci_id).frame()
        expected = warehouse.execute(
            "select change_number, incident_number from fct_incident_change_candidates "
            "where incident_ci_id = ? and coalesce(change_primary_ci_id, '') <> ? "
            "order by incident_opened_at desc, incident_number, change_number",
            [ci_id, ci_id],
        ).fetchall()
        assert list(zip(related["change"], related["incident"], strict=True)) == expected
        related_seen += len(expected)
    assert related_seen > 0, "no CI of the sample has a neighbour's change among its incidents' candidates"


def test_tiles_read_label_unit_and_help_from_the_metric_definitions(
    app_env: DataDir, warehouse: duckdb.DuckDBPyConnection
) -> None:
    """Every Overview tile is a declared metric: its label and help are rpt_metric_definitions' (the
    help is the dbt doc block of the value column), and no tile is left undeclared."""
    at = run_page("overview")
    declared = {  # five tiles to a row: the short labels
        r[0]: r[1]
        for r in warehouse.execute("select short_label, description from rpt_metric_definitions").fetchall()
    }
    shown = {m.label: m.help for m in at.metric}
    assert len(shown) == 15
    assert set(shown) <= set(declared), set(shown) - set(declared)
    for label, help_text in shown.items():
        assert help_text.startswith(declared[label].strip()), label
    assert "Lower is better." in shown["Failed-change rate"]
    assert "Higher is better." in shown["Change success rate"]


@pytest.mark.parametrize(
    ("page", "clickable"),
    [
        ("incidents", ("change_caused_incidents", "change_caused_outage_hours", "incident_fail_rate")),
        (
            "changes",
            (
                "change_success_rate",
                "clean_success_rate",
                "failed_rate",
                "unsuccessful_rate",
                "incident_fail_rate",
                "outside_window_ratio",
            ),
        ),
        ("releases", ("release_failure_rate", "releases_deployed", "release_caused_incidents")),
    ],
)
def test_tiles_with_declared_records_open_them(
    app_env: DataDir, page: str, clickable: tuple[str, ...]
) -> None:
    """Issue 18: the clean success rate, the outage hours, the outside-window ratio and the release-caused
    incidents open their records as the other declared tiles do (a Records button per tile of the
    period); the all-time release tile is qualified and has none."""
    at = run_page(page)
    buttons = {b.key for b in at.button if str(b.key).startswith("rec_")}
    assert buttons == {f"rec__{m}" for m in clickable}, buttons


def publish_contract(data: DataDir, contract: int | None) -> None:
    """Publish a warehouse whose rpt_warehouse_contract holds ``contract`` (None: no such table)."""
    from changeboard.warehouse.versions import new_version_id, publish

    data.ensure()
    building = data.root / "building.duckdb"
    con = duckdb.connect(str(building))
    try:
        con.execute("create table warehouse_version as select 'v0' as version, now() as built_at")
        if contract is not None:
            con.execute(
                f"create table rpt_warehouse_contract as select cast({contract} as integer) as contract_version"
            )
    finally:
        con.close()
    publish(data, building, new_version_id(data.versions), {})


@pytest.mark.parametrize(
    ("contract", "says"), [(0, "was built for warehouse contract 0"), (None, "older changeboard")]
)
def test_a_warehouse_of_another_contract_is_refused_with_a_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, contract: int | None, says: str
) -> None:
    from changeboard.app import db

    from changeboard.paths import ENV_DATA_DIR

    data = DataDir(tmp_path / "old")
    publish_contract(data, contract)
    monkeypatch.setenv(ENV_DATA_DIR, str(data.root))
    at = AppTest.from_file(str(ENTRY), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    assert len(errors) == 1, errors
    assert says in errors[0]
    assert f"this app reads contract {db.CONTRACT_VERSION}" in errors[0]
    assert "changeboard build" in errors[0]
    assert not at.metric  # no page ran against it


def test_the_sample_build_publishes_the_apps_contract(warehouse: duckdb.DuckDBPyConnection) -> None:
    from changeboard.app import db

    assert warehouse.execute("select contract_version from rpt_warehouse_contract").fetchall() == [
        (db.CONTRACT_VERSION,)
    ]


def test_filters_persist_across_pages(app_env: DataDir) -> None:
    at = run_page("overview", {"flt_risk": "high"})
    at.switch_page(PAGES["lead_times"][0]).run()
    assert at.title[0].value == "Lead times"
    assert at.selectbox(key="flt_risk").value == "high"
    assert at.session_state["flt_period"] == date.fromisoformat(str(at.session_state["flt_period"]))


def test_releases_page(app_env: DataDir, warehouse: duckdb.DuckDBPyConnection) -> None:
    at = run_page("releases")
    latest = latest_month(warehouse)
    # the failure rate is not a published column: numerator and denominator are counted rows
    total = one(
        warehouse,
        "select count(*) as n, count(*) filter (where is_failed) as failed, "
        "count(*) filter (where is_deployed) as deployed from fct_releases",
    )
    assert metric(at, "Failed releases, all time").value == f"{total['failed']:,} of {total['deployed']:,}"
    period = one(
        warehouse,
        "select count(*) filter (where is_failed) as failed, count(*) filter (where is_deployed) as deployed, "
        "count(*) as n, coalesce(sum(caused_incident_count), 0) as caused, "
        "coalesce(sum(member_change_count), 0) as members "
        "from fct_releases where deployed_at >= ? and deployed_at < ? + interval 1 month",
        [latest, latest],
    )
    assert f"in {latest:%b %Y} · {int(period['members']):,} member changes" in captions(at)
    tile = metric(at, "Failed releases").value
    assert tile == (
        f"{period['failed']:,} of {period['deployed']:,}" if period["deployed"] else "no releases"
    )
    assert metric(at, "Releases deployed").value == f"{period['n']:,}"
    assert metric(at, "Incidents caused by releases").value == f"{int(period['caused']):,}"
    titles = expanders(at)
    assert f"Releases — {total['n']:,} records" in titles
    assert f"Failed releases — {total['failed']:,} records" in titles
    caused = one(
        warehouse,
        "select count(*) as n from fct_incidents where is_release_caused and opened_at >= ? "
        "and opened_at < ? + interval 1 month",
        [latest, latest],
    )["n"]
    if caused:
        assert f"Release-caused incidents — {caused:,} records" in titles
    # calendar, lead-time distribution, release-caused incidents by release
    assert charts_on(at) == 3
    dq = confidence_rows(warehouse)
    assert badges(at) == 2 * bool(dq.get("release_failure_rate"))
    assert len(at.get("download_button")) >= 1


def test_backlog_page_honours_the_filters(app_env: DataDir, warehouse: duckdb.DuckDBPyConnection) -> None:
    """Issue 18, point 3: with an assignment-group filter the backlog's tiles count that group's changes
    (the rpt_backlog_cells it selects, DECISIONLOG D51), and the section is not disabled."""
    team = one(
        warehouse,
        "select assignment_group as g from fct_backlog_snapshots group by 1 order by count(*) desc limit 1",
    )["g"]
    latest = one(warehouse, "select max(period_start) as p from rpt_backlog where period_grain = 'month'")[
        "p"
    ]
    at = run_page("backlog", {"flt_period": latest, "flt_assignment_group": team})
    expected = one(
        warehouse,
        "select count(*) as n, count(*) filter (where is_overdue) as overdue from fct_backlog_snapshots "
        "where period_grain = 'month' and period_start = ? and assignment_group = ?",
        [latest, team],
    )
    total = one(
        warehouse,
        "select open_count from rpt_backlog where period_grain = 'month' and period_start = ?",
        [latest],
    )
    assert 0 < expected["n"] < total["open_count"]
    assert metric(at, "Open changes").value == f"{expected['n']:,}"
    assert metric(at, "Overdue").value == f"{expected['overdue']:,}"
    assert not [s for s in at.subheader if "not shown for these filters" in s.value and "Backlog" in s.value]


def test_backlog_page(app_env: DataDir, warehouse: duckdb.DuckDBPyConnection) -> None:
    import json
    from datetime import timedelta

    # the current period (the build's "now" falls in it), chosen explicitly: pages open on the newest
    # complete one, and only the current period lists the changes overdue now
    latest = one(warehouse, "select max(period_start) as p from rpt_backlog where period_grain = 'month'")[
        "p"
    ]
    at = run_page("backlog", {"flt_period": latest})
    row = one(
        warehouse, "select * from rpt_backlog where period_grain = 'month' and period_start = ?", [latest]
    )
    assert metric(at, "Open changes").value == f"{row['open_count']:,}"
    assert metric(at, "Overdue").value == f"{row['overdue_count']:,}"
    assert metric(at, "Open more than 90 days").value == f"{row['open_over_90_days_count']:,}"
    assert f"{row['overdue_count']:,} / {row['open_count']:,} open changes" in captions(at)
    titles = expanders(at)
    # the list behind the published overdue count of the current period
    assert row["is_current_period"]
    assert f"Overdue changes (planned start passed, not started) — {row['overdue_count']:,} records" in titles
    n_collisions = one(warehouse, "select count(*) as n from fct_change_collisions")["n"]
    assert f"Colliding pairs of open changes — {n_collisions:,} records" in titles
    # the timeline covers the forward window only: the build's now + forward_schedule_days
    settings = dict(
        warehouse.execute(
            "select setting, numeric_value from rpt_attribution_settings where numeric_value is not null"
        ).fetchall()
    )
    now = one(warehouse, "select max(effective_as_of) as t from rpt_attribution_settings")["t"]
    end = now + timedelta(days=settings["forward_schedule_days"])
    in_window = one(
        warehouse,
        "select count(*) as n from fct_changes where state_category in ('open', 'in_progress') "
        "and planned_start_at < ? and planned_end_at > ?",
        [end, now],
    )["n"]
    assert f"Changes in the forward window — {in_window:,} records" in titles
    assert charts_on(at) == 2  # backlog by age, forward schedule
    timeline = json.loads(at.get("plotly_chart")[1].proto.spec)
    x_range = timeline["layout"]["xaxis"]["range"]
    assert x_range[0].startswith(f"{now:%Y-%m-%dT%H:%M}") or x_range[0].startswith(f"{now:%Y-%m-%d %H:%M}")
    assert x_range[1][:10] == f"{end:%Y-%m-%d}"
    blackouts = one(
        warehouse,
        "select count(distinct (start_at, end_at, name)) as n from dim_change_windows "
        "where kind = 'blackout' and start_at < ? and end_at > ?",
        [end, now],
    )["n"]
    assert len(timeline["layout"].get("shapes", [])) == blackouts  # one span per blackout, scopes merged
    # the interactive schedule: zoom (range slider), the time axis above and below, time-ordered rows
    # grouped by service, the 40 earliest planned starts by default
    assert timeline["layout"]["xaxis"]["rangeslider"]["visible"] is True
    assert timeline["layout"]["xaxis2"]["side"] == "top"
    bars = timeline["data"][0]
    earliest = warehouse.execute(
        "select c.number, coalesce(c.service_name, '(no service)'), c.primary_ci_name, e.risk_level, c.planned_start_at, "
        "c.change_id in (select change_id_a from fct_change_collisions union all "
        "select change_id_b from fct_change_collisions) "
        "from fct_changes c left join fct_change_risk_evidence e using (change_id) "
        "where c.state_category in ('open', 'in_progress') and c.planned_start_at < ? and c.planned_end_at > ? "
        "order by c.planned_start_at, c.number limit 40",
        [end, now],
    ).fetchall()
    by_number = {r[0]: r for r in earliest}
    groups, numbers = bars["y"]
    assert sorted(numbers) == sorted(by_number)
    for group, number, colour, outline in zip(
        groups, numbers, bars["marker"]["color"], bars["marker"]["line"]["color"], strict=True
    ):
        _, service, _, risk, _, collides = by_number[number]
        assert group == service, number
        assert colour == palette.RISK_COLOURS.get(risk, palette.RISK_UNKNOWN), number
        assert (outline == palette.COLLISION) == collides, number
    for group in set(groups):  # within a group, by planned start
        starts = [by_number[n][4] for g, n in zip(groups, numbers, strict=True) if g == group]
        assert starts == sorted(starts), group
    if in_window > 40:
        assert [t.label for t in at.toggle if t.key == "bl_show_all"]
        at.toggle(key="bl_show_all").set_value(True).run()
        shown = json.loads(at.get("plotly_chart")[1].proto.spec)["data"][0]["y"][1]
        assert len(shown) == min(in_window, 500)
    # grouped by configuration item instead
    at.radio(key="bl_group_by").set_value("Configuration item").run()
    regrouped = json.loads(at.get("plotly_chart")[1].proto.spec)["data"][0]["y"]
    ci_of = dict(
        warehouse.execute(
            "select number, coalesce(primary_ci_name, '(no CI)') from fct_changes where number in "
            f"({', '.join('?' * len(regrouped[1]))})",
            list(regrouped[1]),
        ).fetchall()
    )
    assert list(regrouped[0]) == [ci_of[n] for n in regrouped[1]]
    # each listed change names its collision partners (both sides of fct_change_collisions, by overlap)
    listed = [
        d.value for d in at.dataframe if {header("flag"), header("collides_with")} <= set(d.value.columns)
    ]
    assert listed
    partners: dict[str, list[str]] = {}
    for a_num, b_num, kind in warehouse.execute(
        "select change_number_a, change_number_b, collision_kind from fct_change_collisions "
        "order by overlap_start_at, collision_id"
    ).fetchall():
        partners.setdefault(a_num, []).append(f"{b_num} ({kind})")
        partners.setdefault(b_num, []).append(f"{a_num} ({kind})")
    rows = listed[0][[header("number"), header("flag"), header("collides_with")]].itertuples(index=False)
    for number, flag, collides in rows:
        assert collides == (", ".join(partners[number]) if number in partners else "—"), number
        assert (flag == "collides with another change") == (number in partners), number


def test_long_record_lists_page_and_download_whole(
    app_env: DataDir, warehouse: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A drill-down longer than a page is counted, shown a page at a time in its order, and its CSV
    holds every record (written when asked for, from the version the page showed)."""
    import io
    import math

    import polars as pl
    from changeboard.app import data as app_data
    from changeboard.app.components import safe_csv

    monkeypatch.setattr(app_data, "PAGE_ROWS", 25)
    expected = [
        r[0]
        for r in warehouse.execute(
            "select number from fct_changes where state_category in ('open', 'in_progress') "
            "order by planned_start_at nulls last, number"
        ).fetchall()
    ]
    assert len(expected) > 50, "the sample needs more than two pages of open changes"
    at = run_page("backlog")
    assert f"Open and in-progress changes — {len(expected):,} records" in expanders(at)
    picker = [n for n in at.number_input if n.key == "bl_open_page"]
    assert picker
    assert picker[0].label == f"Page (of {math.ceil(len(expected) / 25):,})"

    def shown() -> list[str]:
        tables = [
            d.value
            for d in at.dataframe
            if {header("number"), header("is_failed_itil")} <= set(d.value.columns)
        ]
        assert len(tables) == 1
        return list(tables[0][header("number")])

    assert shown() == expected[:25]
    assert f"Rows 1–25 of {len(expected):,}; the CSV holds all {len(expected):,}." in captions(at)
    picker[0].set_value(2).run()
    assert not at.exception
    assert shown() == expected[25:50]
    assert f"Rows 26–50 of {len(expected):,}; the CSV holds all {len(expected):,}." in captions(at)
    csv = app_data.open_changes().download(safe_csv)()
    assert pl.read_csv(io.BytesIO(csv))["number"].to_list() == expected


def test_data_quality_page(app_env: DataDir, warehouse: duckdb.DuckDBPyConnection) -> None:
    at = run_page("data_quality")
    coverage = one(
        warehouse,
        "select count(*) as n, count(*) filter (where is_low_confidence) as low from rpt_data_quality "
        "where check_type = 'coverage'",
    )
    conf = confidence_rows(warehouse)
    assert metric(at, "Fields below threshold").value == f"{coverage['low']:,}"
    assert metric(at, "Low-confidence metrics").value == f"{sum(conf.values()):,}"
    assert f"Coverage checks — {coverage['n']:,} records" in expanders(at)
    assert f"Every metric with its weakest input — {len(conf):,} records" in expanders(at)
    assert charts_on(at) == 1  # the coverage heat table
    low = [
        d.value
        for d in at.dataframe
        if list(d.value.columns[:2]) == [header("metric"), header("weakest_input")]
    ]
    if any(conf.values()):
        expected = dict(
            warehouse.execute(
                # the metric in words, as the label map has it
                "select coalesce(l.label, q.metric), q.reason from rpt_data_quality q "
                "left join rpt_display_labels l on l.kind = 'value' and l.name = q.metric "
                "where q.check_type = 'metric_confidence' and q.source_system = 'all' and q.is_low_confidence"
            ).fetchall()
        )
        assert dict(zip(low[0][header("metric")], low[0][header("reason")], strict=True)) == expected
    quarantined = one(warehouse, "select count(*) as n from rpt_quarantine")["n"]
    assert metric(at, "Quarantined rows").value == f"{quarantined:,}"
    if quarantined:
        assert f"Quarantined rows (file, row, reason) — {min(quarantined, 500):,} records" in expanders(at)
    else:
        assert any(i.value.startswith("No quarantined rows") for i in at.info)
    runs = one(warehouse, "select count(*) as n, max(started_at) as last from rpt_ingest_runs")
    assert f"Last ingest runs, every column — {min(runs['n'], 50):,} records" in expanders(at)
    assert metric(at, "Last ingest").value == f"{runs['last']:%d %b %H:%M}"
    table = [
        d.value
        for d in at.dataframe
        if header("rows_read") in d.value.columns and header("status") in d.value.columns
    ]
    assert len(table[0]) == min(runs["n"], 50)


def test_incidents_page_states_the_published_attribution_settings(
    app_env: DataDir, warehouse: duckdb.DuckDBPyConnection
) -> None:
    at = run_page("incidents")
    settings = dict(
        warehouse.execute("select setting, numeric_value from rpt_attribution_settings").fetchall()
    )
    window = settings["attribution_window_hours"]
    threshold = settings["attribution_confidence_threshold"]
    assert f"Attribution settings of this build: {window:g} h window, confidence threshold {threshold:g}" in (
        expanders(at)
    )
    stated = [c for c in captions(at) if c.startswith("Published attribution:")]
    assert stated, captions(at)
    assert f"window {window:g} h" in stated[0]
    assert f"threshold {threshold:g}" in stated[0]
    assert f"same CI {settings['attribution_base_confidence.inferred_same_ci']:g}" in stated[0]
    assert at.slider(key="inc_x_threshold").value == threshold
    assert at.slider(key="inc_x_window").max == int(window)
    dq = confidence_rows(warehouse)
    assert badges(at) == sum(
        bool(dq.get(m))
        for m in ("change_caused_incidents", "change_caused_outage_hours", "incident_fail_rate")
    )
