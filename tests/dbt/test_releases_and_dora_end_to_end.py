"""Small exports ingested and built end to end (issue #17, points 5-7): release identity, DORA from
delivery records, lead times without close codes, dangling and earlier-event references.

One build of hand-written files (a few rows each), every expectation computed from those files in
the test: two Jira projects that both release 4.0.0 and have a bug each against it; GitHub releases
and a deployments CSV (the committed delivery fixtures); a ServiceNow change export without close
codes; a ServiceNow incident audit log whose rfc is on an earlier event only, and an incident whose
caused_by names a change outside the extract.
"""

from __future__ import annotations

import csv
import json
import statistics
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from changeboard.paths import ENV_DATA_DIR, DataDir
from changeboard.pipeline import build_run, ingest_run
from changeboard.warehouse.versions import read_pointer

REPO = Path(__file__).resolve().parents[2]
DELIVERY = REPO / "tests" / "fixtures" / "delivery"

JIRA_ISSUES = """Summary,Issue key,Issue id,Issue Type,Status,Resolution,Created,Updated,Resolved,Fix versions,Affects versions
Ship storage 4.0.0,STOR-1,1,Change,Completed,Done,02/Jan/24 9:00 AM,05/Jan/24 9:00 AM,05/Jan/24 9:00 AM,4.0.0,
Ship web 4.0.0,WEB-1,2,Change,Completed,Done,03/Jan/24 9:00 AM,06/Jan/24 9:00 AM,06/Jan/24 9:00 AM,4.0.0,
Web down after 4.0.0,WEB-2,3,Bug,Done,Done,07/Jan/24 9:00 AM,08/Jan/24 9:00 AM,08/Jan/24 9:00 AM,,4.0.0
Storage slow after 4.0.0,STOR-2,4,Bug,Done,Done,07/Jan/24 10:00 AM,08/Jan/24 9:00 AM,08/Jan/24 9:00 AM,,4.0.0
"""
VERSION_LISTS = {
    "STOR_releaseList.csv": "Index,Version ID,Version Name,Date\n1,11,4.0.0,2024-01-05T00:00\n",
    "WEB_releaseList.csv": "Index,Version ID,Version Name,Date\n1,21,4.0.0,2024-01-06T00:00\n",
}
# Closed changes without a close code column: the outcome of every change is unknown.
SN_CHANGES = """number,short_description,type,state,opened_at,work_start,work_end,closed_at,sys_updated_on
CHG0000001,Patch A,Normal,Closed,2025-03-03 08:00:00,2025-03-04 20:00:00,2025-03-04 21:00:00,2025-03-05 09:00:00,2025-03-05 09:00:00
CHG0000002,Patch B,Normal,Closed,2025-03-03 10:00:00,2025-03-06 20:00:00,2025-03-06 23:30:00,2025-03-07 08:00:00,2025-03-07 08:00:00
CHG0000003,Patch C,Normal,Closed,2025-03-04 09:00:00,2025-03-05 01:00:00,2025-03-05 02:00:00,2025-03-05 12:00:00,2025-03-05 12:00:00
"""
# An audit log: INC0000010's rfc is on its first event only; INC0000011 names a change not exported.
SN_INCIDENT_LOG = """number,incident_state,sys_mod_count,opened_at,sys_updated_at,priority,caused_by,rfc,resolved_at,closed_at
INC0000010,New,0,2025-03-05 10:00:00,2025-03-05 10:00:00,3 - Moderate,,CHG0000001,2025-03-05 12:00:00,2025-03-06 12:00:00
INC0000010,Closed,1,2025-03-05 10:00:00,2025-03-06 12:00:00,3 - Moderate,,,2025-03-05 12:00:00,2025-03-06 12:00:00
INC0000011,New,0,2025-03-06 10:00:00,2025-03-06 10:00:00,2 - High,CHG0009999,,2025-03-06 11:00:00,2025-03-07 11:00:00
INC0000011,Closed,1,2025-03-06 10:00:00,2025-03-07 11:00:00,2 - High,CHG0009999,,2025-03-06 11:00:00,2025-03-07 11:00:00
"""
SN_MANIFEST = 'system = "servicenow"\ntimezone = "UTC"\n'
# not on a period boundary: rpt_backlog rejects an as_of at exactly 00:00 of a month start (its last
# period would end where it starts), a pre-existing edge reported separately
AS_OF = "2025-06-02 12:00:00"


def _write(folder: Path, files: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def built_dir(tmp_path_factory: pytest.TempPathFactory) -> DataDir:
    root = tmp_path_factory.mktemp("exports")
    _write(root / "jira", {"issues.csv": JIRA_ISSUES, **VERSION_LISTS})
    # the deployments fixture holds one bad row on purpose (1 of 4): this test accepts that loss
    _write(root / "delivery", {"_export.toml": "max_quarantine = 50\n"})
    for name in ("github_releases.json", "deployments.csv"):
        (root / "delivery" / name).write_bytes((DELIVERY / name).read_bytes())
    _write(root / "servicenow", {"_export.toml": SN_MANIFEST, "change_request.csv": SN_CHANGES})
    _write(root / "audit", {"_export.toml": SN_MANIFEST, "incident.csv": SN_INCIDENT_LOG})
    data = DataDir(tmp_path_factory.mktemp("cbdata")).ensure()
    run_id = ingest_run.new_run_id()
    report = ingest_run.ingest_paths(data, [root], run_id=run_id)
    assert not report.failed, [(r.path, r.error) for r in report.failed]
    build_run.build(data, run_id=run_id, as_of=AS_OF)
    return data


@pytest.fixture(scope="module")
def built(built_dir: DataDir) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(str(read_pointer(built_dir).path), read_only=True)
    yield con
    con.close()


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[object, ...]]:
    return con.execute(sql).fetchall()


# -- 5. a release's identity includes its project ------------------------------------------------


def test_two_projects_versions_of_one_name_are_two_releases_with_their_own_incidents(
    built: duckdb.DuckDBPyConnection,
) -> None:
    projects = sorted(name.split("_")[0] for name in VERSION_LISTS)
    assert _rows(
        built,
        "select project, repository, version, member_change_count, caused_incident_count "
        "from fct_releases where source_system = 'jira' order by project",
    ) == [(p, None, "4.0.0", 1, 1) for p in projects]
    # each project's bug is caused by its own project's 4.0.0, not moved to the other one
    causes = dict(
        _rows(
            built, "select number, primary_cause_release_id from fct_incidents where source_system = 'jira'"
        )
    )
    assert causes == {f"{p}-2": f"jira:{p}@4.0.0" for p in projects}


# -- 6. DORA from deployment records alone ----------------------------------------------------------


def _expected_delivery_deployments() -> dict[str, list[float | None]]:
    """Counted deployments per ISO week (its lead times), computed from the fixture files: published
    GitHub releases (lead time from created_at) and successful production rows of the deployments
    CSV with a date, one per (commit, environment, day), the earliest record first."""

    def ts(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)

    records: list[tuple[datetime, str, str, float | None]] = []  # (deployed, key, id, lead time)
    for item in json.loads((DELIVERY / "github_releases.json").read_text(encoding="utf-8")):
        if item["draft"] or not item.get("published_at"):
            continue
        deployed = ts(item["published_at"])
        sha = item["target_commitish"] if len(item["target_commitish"]) == 40 else None
        lead = (deployed - ts(item["created_at"])).total_seconds() / 3600
        key = f"{sha}|production|{deployed.date()}" if sha else f"github:{item['id']}"
        records.append((deployed, key, f"github:{item['id']}", lead))
    with (DELIVERY / "deployments.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            try:
                deployed = ts(row["finished_at"] or row["started_at"])
                ts(row["started_at"])
            except ValueError:
                continue  # quarantined at ingest
            if row["status"] != "success" or row["environment"] != "production":
                continue
            key = f"{row['commit_sha']}|production|{deployed.date()}"
            # no lead time: the change it names is not in this extract
            records.append((deployed, key, f"delivery:{row['deploy_id']}", None))
    counted: dict[str, tuple[datetime, str, float | None]] = {}
    for deployed, key, ident, lead in sorted(records, key=lambda r: (r[0], r[2])):
        counted.setdefault(key, (deployed, ident, lead))
    weeks: dict[str, list[float | None]] = {}
    for deployed, _, lead in counted.values():
        monday = deployed.date().fromordinal(deployed.date().toordinal() - deployed.weekday())
        weeks.setdefault(monday.isoformat(), []).append(lead)
    return weeks


def test_delivery_records_are_the_deployments_of_their_weeks(built: duckdb.DuckDBPyConnection) -> None:
    expected = _expected_delivery_deployments()
    assert expected
    got = {
        str(week): (source, count, median)
        for week, source, count, median in _rows(
            built,
            "select period_start, deployment_source, deployment_count, lead_time_for_changes_median_hours "
            "from rpt_dora where period_grain = 'week' and deployment_record_count > 0",
        )
    }
    assert set(got) == set(expected)
    for week, leads in expected.items():
        known = [x for x in leads if x is not None]
        source, count, median = got[week]
        assert (source, count) == ("deployment_records", len(leads)), week
        assert median == (pytest.approx(statistics.median(known)) if known else None), week


def test_a_dora_tile_lists_the_deployment_records_of_its_week(
    built: duckdb.DuckDBPyConnection, built_dir: DataDir, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue #18, point 5: where a week has deployment records, a click on its deployment frequency or
    lead time for changes lists those records (rpt_metric_definitions' `when`, DECISIONLOG D48), as many
    as the published base; a week without lists its change requests."""
    from changeboard.app import data as app_data
    from changeboard.app.filters import next_period

    monkeypatch.setenv(ENV_DATA_DIR, str(built_dir.root))
    cur = built.execute("select * from rpt_dora where period_grain = 'week'")
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    sources = {r["deployment_source"] for r in rows}  # None: no deployment, lead times of change requests
    assert "deployment_records" in sources
    assert len(sources) > 1
    for row in rows:
        start = row["period_start"]
        for metric, base in (
            ("deployment_frequency", "deployment_count"),
            ("lead_time_for_changes", "lead_time_for_changes_count"),
        ):
            found = app_data.metric_records(
                metric=metric, start=start, end=next_period(start, "week"), published=row
            )
            assert found is not None
            assert found.role == "base"
            assert found.numerator.count() == row[base], (metric, start)
            model = found.numerator.sql.split(" from ")[1].split()[0]
            want = (
                "fct_deployments"
                if row["deployment_source"] == "deployment_records"
                else "fct_production_changes"
            )
            assert model == want, (metric, start)


# -- 7. lead times need dates, not outcomes; references are never dropped silently --------------------


def test_changes_without_close_codes_still_have_lead_times(built: duckdb.DuckDBPyConnection) -> None:
    rows = list(csv.DictReader(SN_CHANGES.splitlines()))
    hours = [
        (datetime.fromisoformat(r["closed_at"]) - datetime.fromisoformat(r["opened_at"])).total_seconds()
        / 3600
        for r in rows
    ]
    to_production = [
        (datetime.fromisoformat(r["work_end"]) - datetime.fromisoformat(r["opened_at"])).total_seconds()
        / 3600
        for r in rows
    ]
    kpis = _rows(
        built,
        "select completed_count, request_lead_time_median_hours, request_lead_time_count, "
        "lead_time_to_production_median_hours, lead_time_to_production_count from rpt_change_kpis "
        "where period_grain = 'month' and period_start = '2025-03-01' and dimension = 'source_system' "
        "and dimension_value = 'servicenow'",
    )
    assert kpis == [
        (
            0,  # no outcome: no success rate
            pytest.approx(statistics.median(hours)),
            len(rows),
            pytest.approx(statistics.median(to_production)),
            len(rows),
        )
    ]
    dora = _rows(
        built,
        "select deployment_count, lead_time_for_changes_median_hours, lead_time_for_changes_count from rpt_dora "
        "where period_grain = 'month' and period_start = '2025-03-01'",
    )
    assert dora == [(0, pytest.approx(statistics.median(to_production)), len(rows))]


def test_dangling_and_earlier_event_references_are_reported_or_kept(built: duckdb.DuckDBPyConnection) -> None:
    # the rfc carried only on INC0000010's first event is kept: the change it names is its fix
    assert _rows(built, "select fixed_by_change_id from fct_incidents where number = 'INC0000010'") == [
        ("servicenow:CHG0000001",)
    ]
    checks = {
        (source, metric): (numerator, denominator, examples)
        for source, metric, numerator, denominator, examples in _rows(
            built,
            "select source_system, metric, numerator, denominator, examples from rpt_data_quality "
            "where check_type = 'reference'",
        )
    }
    assert checks[("servicenow", "incident_cause_reference")] == (0, 1, "INC0000011 -> CHG0009999")
    assert checks[("servicenow", "incident_fix_reference")] == (1, 1, None)
    # the deployments CSV names changes and a release version outside this extract
    assert checks[("delivery", "deployment_change_reference")][:2] == (0, 2)
    assert checks[("delivery", "deployment_release_reference")] == (0, 1, "d-1001 -> v2.1.0")
    # every Jira version an issue names resolves in its own project
    assert checks[("jira", "change_release_reference")] == (2, 2, None)
    assert checks[("jira", "incident_release_reference")] == (2, 2, None)
