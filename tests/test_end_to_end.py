"""generate → ingest → build → query: the marts agree with the same figures computed independently
in plain SQL over the raw tables (ServiceNow part of the sample)."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest

from changeboard.paths import DataDir
from changeboard.warehouse.versions import read_pointer


@pytest.fixture(scope="module")
def con(built_data: DataDir) -> Iterator[duckdb.DuckDBPyConnection]:
    # A private instance: DuckDB shares one database instance per path within a process, and the
    # published file may already be open here through a sandboxed reader (no file access, locked
    # configuration), which could not attach the ingest database.
    c = duckdb.connect()
    c.execute(f"attach '{read_pointer(built_data).path}' as warehouse (read_only)")
    c.execute("use warehouse")
    c.execute(f"attach '{built_data.ingest_db}' as ingest (read_only)")
    yield c
    c.close()


def test_every_change_and_incident_reaches_the_marts(con: duckdb.DuckDBPyConnection) -> None:
    raw_changes = con.execute(
        "select count(distinct source_system || ':' || number) from ingest.raw.change"
    ).fetchall()[0][0]
    raw_incidents = con.execute(
        "select count(distinct source_system || ':' || number) from ingest.raw.incident"
    ).fetchall()[0][0]
    assert con.execute("select count(*) from fct_changes").fetchall()[0][0] == raw_changes > 1000
    assert con.execute("select count(*) from fct_incidents").fetchall()[0][0] == raw_incidents > 3000


def test_monthly_success_rate_matches_raw(con: duckdb.DuckDBPyConnection) -> None:
    independent = dict(
        con.execute(
            """
            with closed as (
                select date_trunc('month', closed_at)::date as month,
                    case
                        when close_code_raw = 'Successful' then 'ok'
                        when close_code_raw = 'Successful with issues' then 'ok'
                        when close_code_raw = 'Unsuccessful' or close_code_raw ilike 'rolled back%' then 'failed'
                    end as result
                from ingest.raw.change
                where source_system = 'servicenow' and state_raw = 'Closed' and closed_at is not null
            )
            select month, sum((result = 'ok')::int) / count(result) from closed where result is not null group by 1
            """
        ).fetchall()
    )
    published = dict(
        con.execute(
            "select period_start::date, change_success_rate from rpt_change_kpis "
            "where period_grain = 'month' and dimension = 'source_system' and dimension_value = 'servicenow'"
        ).fetchall()
    )
    assert len(independent) >= 12
    for month, rate in independent.items():
        assert published[month] == pytest.approx(rate), month


def test_emergency_ratio_by_opened_month_matches_raw(con: duckdb.DuckDBPyConnection) -> None:
    independent = dict(
        con.execute(
            """
            select date_trunc('month', opened_at)::date, avg((change_type_raw = 'Emergency')::int)
            from ingest.raw.change where source_system = 'servicenow' and opened_at is not null group by 1
            """
        ).fetchall()
    )
    published = dict(
        con.execute(
            "select period_start::date, emergency_ratio from rpt_change_kpis "
            "where period_grain = 'month' and dimension = 'source_system' and dimension_value = 'servicenow'"
        ).fetchall()
    )
    for month, ratio in independent.items():
        assert published[month] == pytest.approx(ratio), month


def test_explicit_causes_are_all_candidates_and_rfc_is_not_a_cause(con: duckdb.DuckDBPyConnection) -> None:
    explicit = set(
        con.execute(
            """
            select 'servicenow:' || i.number, 'servicenow:' || i.caused_by_change_ref
            from ingest.raw.incident i
            where i.source_system = 'servicenow' and i.caused_by_change_ref is not null
              and exists (select 1 from ingest.raw.change c where c.number = i.caused_by_change_ref)
            """
        ).fetchall()
    )
    candidates = set(
        con.execute(
            "select incident_id, change_id from fct_incident_change_candidates where method = 'explicit_caused_by'"
        ).fetchall()
    )
    assert explicit
    assert explicit == candidates
    # an rfc (fixed-by) link alone never makes a change the cause
    fixed_only = con.execute(
        """
        select count(*) from fct_incident_change_candidates c
        join ingest.raw.incident i on c.incident_id = 'servicenow:' || i.number
        where c.method like 'explicit%' and c.change_id = 'servicenow:' || i.fixed_by_change_ref
          and coalesce(i.caused_by_change_ref, '') <> i.fixed_by_change_ref
        """
    ).fetchall()[0][0]
    assert fixed_only == 0


def test_no_rate_above_one(con: duckdb.DuckDBPyConnection) -> None:
    cols = [
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns where table_name = 'rpt_change_kpis' and column_name like '%rate'"
        ).fetchall()
    ]
    assert cols
    worst = con.execute(
        f"select max(greatest({', '.join(f'coalesce({c}, 0)' for c in cols)})) from rpt_change_kpis"
    ).fetchall()[0][0]
    assert worst <= 1.0
