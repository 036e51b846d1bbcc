"""Every metric that declares its records (rpt_metric_definitions: record_model, flags, base, measure,
when; DECISIONLOG D46, D48) lists, through the app's own query (app.data.metric_records), exactly as
many records as the tile's numerator, denominator or base published in the warehouse, for the same
period and filters; a median's records have the published median (issue #18, point 5).

Runs against the session's sample build: every month and the last weeks of each published model, all
changes and the largest value of each filter dimension."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from datetime import date

import duckdb
import pytest
from changeboard.app import data as app_data
from changeboard.app import filters as app_filters

from changeboard.paths import DataDir
from changeboard.warehouse.versions import read_pointer

WEEKS = 8  # the last weeks checked per metric (every month is)


@pytest.fixture(scope="module")
def warehouse(built_data: DataDir) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(str(read_pointer(built_data).path), read_only=True)
    yield con
    con.close()


def _definitions(con: duckdb.DuckDBPyConnection) -> list[dict[str, object]]:
    cur = con.execute(
        "select * from rpt_metric_definitions where record_model is not null order by display_order"
    )
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _rows(
    con: duckdb.DuckDBPyConnection, sql: str, params: tuple[object, ...] = ()
) -> list[dict[str, object]]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _periods(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """Every month and the last WEEKS weeks of a model's published rows."""
    months = [r for r in rows if r["period_grain"] == "month"]
    weeks = sorted((r for r in rows if r["period_grain"] == "week"), key=lambda r: str(r["period_start"]))
    return months + weeks[-WEEKS:]


def _published(
    con: duckdb.DuckDBPyConnection, model: str
) -> Iterator[tuple[dict[str, object], dict[str, str], date, date]]:
    """(published row, record filters, start, end) of every checked period and slice of ``model``."""
    if model == "rpt_change_kpis":
        slices: list[tuple[str, str]] = [("all", "all")]
        for name, (dimension, _column, _label) in app_filters.DIMENSIONS.items():
            top = con.execute(
                "select dimension_value from rpt_change_kpis where dimension = ? and dimension_value <> '(none)' "
                "group by 1 order by sum(completed_count) desc, 1 limit 1",
                (dimension,),
            ).fetchall()
            slices += [(name, top[0][0])] if top else []
        for name, value in slices:
            dimension = "all" if name == "all" else app_filters.DIMENSIONS[name][0]
            rows = _rows(
                con,
                "select * from rpt_change_kpis where dimension = ? and dimension_value = ?",
                (dimension, value),
            )
            filters = {} if name == "all" else {app_filters.DIMENSIONS[name][1]: value}
            for row in _periods(rows):
                start = row["period_start"]
                assert isinstance(start, date)
                yield row, filters, start, app_filters.next_period(start, str(row["period_grain"]))
    elif model in ("rpt_dora", "rpt_backlog"):
        for row in _periods(_rows(con, f"select * from {model}")):
            start = row["period_start"]
            assert isinstance(start, date)
            yield row, {}, start, app_filters.next_period(start, str(row["period_grain"]))


def _count(found: app_data.MetricRecords | None, role: str) -> int:
    assert found is not None
    if role == "denominator":
        assert found.denominator is not None
        return found.denominator.count()
    return found.numerator.count()


@pytest.mark.usefixtures("app_env")
def test_every_declared_metric_lists_as_many_records_as_its_published_counts(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    definitions = _definitions(warehouse)
    covered = {str(d["metric"]) for d in definitions}
    # the medians and the DORA keys list their records too (issue #18, point 5), and every KPI tile
    # (issue #18: the clean success rate, the outside-window ratio, a sum, release-caused incidents)
    assert {
        "request_lead_time",
        "lead_time_to_production",
        "deployment_frequency",
        "lead_time_for_changes",
        "change_fail_rate",
        "failed_deployment_recovery_time",
        "clean_success_rate",
        "outside_window_ratio",
        "change_caused_outage_hours",
        "release_caused_incidents",
        # the backlog at a period's end: the changes open then (fct_backlog_snapshots, DECISIONLOG D51)
        "open_changes",
        "overdue_changes",
        "open_over_90_days",
        "backlog_growth",
    } <= covered
    checked: dict[str, int] = {}
    mismatches: list[str] = []
    for d in definitions:
        metric, model = str(d["metric"]), str(d["model_name"])
        if model == "fct_releases":
            continue  # checked against the releases page's totals below
        roles: list[tuple[str, str]] = (
            [("sum", str(d["value_column"]))]
            if d["measure_aggregate"] == "sum"
            else [("difference", str(d["value_column"]))]
            if d["subtract_flags"] is not None
            else [("base", str(d["base_column"]))]
            if d["base_flags"] is not None or d["when_base_flags"] is not None
            else [("numerator", str(d["numerator_column"] or d["value_column"]))]
            + ([("denominator", str(d["denominator_column"]))] if d["denominator_flags"] is not None else [])
        )
        for row, filters, start, end in _published(warehouse, model):
            found = app_data.metric_records(
                metric=metric, start=start, end=end, filters=filters, published=row
            )
            for role, column in roles:
                published, listed = row[column], _count(found, role)
                checked[metric] = checked.get(metric, 0) + 1
                if role == "sum":  # the published value is the measure summed over the base records
                    assert found is not None
                    assert found.measure is not None
                    assert found.aggregate == "sum"
                    listed = found.numerator.select(found.measure).frame()[found.measure].sum()
                    if listed != pytest.approx(published, rel=1e-9, abs=1e-9):
                        mismatches.append(
                            f"{metric} sum {row['period_grain']} {start} {filters}: {published} != {listed}"
                        )
                elif role == "difference":  # what it adds less what it takes away
                    assert found is not None
                    assert found.role == "difference"
                    assert found.denominator is not None
                    listed = found.numerator.count() - found.denominator.count()
                    if published != listed:
                        mismatches.append(
                            f"{metric} difference {row['period_grain']} {start}: {published} != {listed}"
                        )
                elif published != listed:
                    mismatches.append(
                        f"{metric} {role} {row['period_grain']} {start} {filters}: {published} != {listed}"
                    )
            if (
                found is not None
                and found.measure is not None
                and found.aggregate == "median"
                and row[str(d["value_column"])] is not None
            ):
                values = found.numerator.select(found.measure).frame()[found.measure]
                median = values.quantile(0.5, interpolation="linear")
                if median != pytest.approx(row[str(d["value_column"])], rel=1e-9, abs=1e-9):
                    mismatches.append(f"{metric} median {row['period_grain']} {start} {filters}: {median}")
    assert not mismatches, mismatches[:20]
    assert {m for m, n in checked.items() if n} == covered - {
        "release_failure_rate",
        "releases_deployed",
        "release_caused_incidents",
    }


@pytest.mark.usefixtures("app_env")
def test_release_records_match_the_release_tiles(warehouse: duckdb.DuckDBPyConnection) -> None:
    months = [
        r[0]
        for r in warehouse.execute(
            "select distinct period_start from rpt_change_kpis where period_grain = 'month'"
        ).fetchall()
    ]
    team = warehouse.execute(
        "select assignment_group from fct_changes where release_id is not null group by 1 order by count(*) desc limit 1"
    ).fetchall()
    slices: list[Mapping[str, str]] = [{}] + ([{"assignment_group": team[0][0]}] if team else [])
    caused_seen: dict[str, int] = {}
    for filters in slices:
        for start in months:
            end = app_filters.next_period(start, "month")
            totals = app_data.release_totals(start=start, end=end, member_filters=filters)
            failed = app_data.metric_records(
                metric="release_failure_rate", start=start, end=end, filters=filters
            )
            deployed = app_data.metric_records(
                metric="releases_deployed", start=start, end=end, filters=filters
            )
            # the incidents caused by the releases deployed in the period (placed by their release's
            # deployment time, filtered by its member changes as the tile is)
            caused = app_data.metric_records(
                metric="release_caused_incidents", start=start, end=end, filters=filters
            )
            assert caused is not None
            assert caused.denominator is None
            assert caused.numerator.count() == totals["caused_incident_count"], (start, filters)
            key = str(sorted(filters.items()))
            caused_seen[key] = caused_seen.get(key, 0) + caused.numerator.count()
            assert failed is not None
            assert failed.denominator is not None
            assert deployed is not None
            assert (failed.numerator.count(), failed.denominator.count()) == (
                totals["is_failed"],
                totals["is_deployed"],
            )
            assert deployed.numerator.count() == totals["is_deployed"], (start, filters)
    # not vacuous: the sample's releases caused incidents, with and without the filter
    assert all(caused_seen.values()), caused_seen


@pytest.mark.usefixtures("app_env")
def test_breakdown_rates_are_the_warehouses(warehouse: duckdb.DuckDBPyConnection) -> None:
    """Gap B of issue #18 (DECISIONLOG D49): unfiltered, a breakdown's rates are rpt_change_kpis' own, and
    the summed cells divided by the declared numerator and denominator give the same doubles."""
    rates = app_data.outcome_rates()
    assert {r for r, _, _ in rates} >= {
        "change_success_rate",
        "failed_rate",
        "unsuccessful_rate",
        "backout_rate",
    }
    months = sorted(
        r[0]
        for r in warehouse.execute(
            "select period_start from rpt_change_kpis where period_grain = 'month' and dimension = 'all' "
            "and completed_count > 0"
        ).fetchall()
    )
    start, end = months[-2], app_filters.next_period(months[-2], "month")
    columns = ", ".join(r for r, _, _ in rates)
    for by, dimension in (
        ("change_type", "change_type"),
        ("service_name", "service"),
        ("period_start", "all"),
    ):
        key = "period_start" if by == "period_start" else "dimension_value"
        published = {
            row[0]: row[1:]
            for row in warehouse.execute(
                f"select {key}, {columns} from rpt_change_kpis where period_grain = 'month' and dimension = ? "
                "and period_start >= ? and period_start < ? and completed_count > 0",
                (dimension, months[0], end) if by == "period_start" else (dimension, start, end),
            ).fetchall()
        }
        lo = months[0] if by == "period_start" else start
        shown = app_data.outcome_counts(grain="month", by=by, start=lo, end=end)
        summed = app_data.summed_outcome_counts(grain="month", by=by, start=lo, end=end)
        assert set(shown["dimension_value"].to_list()) == set(published), by
        for frame in (shown, summed):
            for row in frame.iter_rows(named=True):
                assert tuple(row[r] for r, _, _ in rates) == published[row["dimension_value"]], (by, row)


def _listed(
    metric: str, *, start: date, end: date, filters: Mapping[str, str], grain: str
) -> tuple[int, int | None]:
    """(first, second) list counts of a metric's records: numerator and denominator, or what a difference
    adds and takes away."""
    found = app_data.metric_records(metric=metric, start=start, end=end, filters=filters, grain=grain)
    assert found is not None
    return found.numerator.count(), None if found.denominator is None else found.denominator.count()


@pytest.mark.usefixtures("app_env")
def test_the_backlog_under_filters_counts_exactly_its_records(warehouse: duckdb.DuckDBPyConnection) -> None:
    """Issue 18, point 3 (DECISIONLOG D51): with filters, the backlog's tiles are the rpt_backlog_cells the
    filters select, summed, and each equals the records its Records button lists under the same filters;
    unfiltered, the summed cells are rpt_backlog."""
    team, kind = warehouse.execute(
        "select assignment_group, change_type from fct_backlog_snapshots group by 1, 2 order by count(*) desc limit 1"
    ).fetchone() or (None, None)
    assert team is not None
    for grain in ("week", "month"):
        assert app_data.backlog(grain=grain, filters={}).equals(app_data.backlog(grain=grain))
    checked = 0
    for filters in ({"assignment_group": team}, {"assignment_group": team, "change_type": kind}):
        for grain in ("week", "month"):
            rows = app_data.backlog(grain=grain, filters=filters).to_dicts()
            for row in rows[-6:]:
                start = row["period_start"]
                end = app_filters.next_period(start, grain)

                listed = functools.partial(_listed, start=start, end=end, filters=filters, grain=grain)
                assert listed("open_changes") == (row["open_count"], None), (grain, start, filters)
                assert listed("overdue_changes") == (row["overdue_count"], row["open_count"])
                assert listed("open_over_90_days") == (row["open_over_90_days_count"], None)
                opened, left = listed("backlog_growth")
                assert (opened, left) == (row["opened_count"], row["closed_count"])
                assert opened - (left or 0) == row["backlog_growth"]
                checked += row["open_count"] + row["opened_count"]
    assert checked > 0  # the filters select changes, not an empty backlog
