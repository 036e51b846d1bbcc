"""Jira Service Management: the CSV export (time zone, locale months, repeated headers, routing by
issue type, links) and the REST JSON (changelog, issue links, versions)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import polars as pl
from changeboard.ingest.registry import ExportSettings, read_file
from changeboard.ingest.sources.common import LOCALE_MONTHS, english_months, has_locale_months
from hypothesis import given, settings
from hypothesis import strategies as st

from .conftest import FIXTURES, Ingest, Query, copy_fixture

JIRA = FIXTURES / "jira"


def _csv_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "jira"
    copy_fixture(JIRA / "changes.csv", folder)
    copy_fixture(JIRA / "_export.toml", folder)
    return folder


def test_csv_changes_in_the_declared_time_zone_and_locale(
    tmp_path: Path, ingest: Ingest, query: Query
) -> None:
    r = ingest([_csv_folder(tmp_path)]).results[0]
    assert r.status == "succeeded", r.error
    c = r.counts
    assert c.rows_read == c.inserted + c.quarantined
    rows = query(
        "select number, source_id, change_type_raw, state_raw, close_code_raw, risk_raw, impact_raw, release_ref, "
        "opened_at, planned_start_at, actual_end_at from raw.change order by number"
    )
    assert rows[0] == (
        "ITSM-101", "10101", "Normal", "Completed", "Done", "High", "Significant / Large", "ITSM@Payments 2025.09",
        datetime(2025, 9, 22, 13, 26),  # 22/Sep/25 9:26 AM New York (EDT) = 13:26 UTC
        datetime(2025, 9, 25, 2, 0),
        datetime(2025, 9, 25, 3, 10),
    )  # fmt: skip
    # German month name (Okt) read as October.
    assert rows[1][0] == "ITSM-102"
    assert rows[1][8] == datetime(2025, 10, 1, 12, 0)


def test_csv_routes_issue_types_and_quarantines_the_rest(
    tmp_path: Path, ingest: Ingest, query: Query
) -> None:
    ingest([_csv_folder(tmp_path)])
    assert query("select number, state_raw from raw.incident") == [("ITSM-205", "Resolved")]
    q = dict(query("select source_row, reason from meta.quarantine"))
    assert "issue type 'Task'" in q[5]
    assert "Issue Type" in q[5]
    assert "31/Sep/25" in q[6]
    assert "Created" in q[6]


def test_csv_multi_valued_fields_become_links(tmp_path: Path, ingest: Ingest, query: Query) -> None:
    ingest([_csv_folder(tmp_path)])
    assert query("select release_ref, change_ref from raw.release_change order by 1") == [
        ("ITSM@Payments 2025.09", "ITSM-101"),
        ("ITSM@Payments 2025.10", "ITSM-101"),
    ]
    assert query("select change_ref, ci_ref, role from raw.change_ci order by 1, 2") == [
        ("ITSM-101", "Checkout", "impacted"),
        ("ITSM-101", "Payments API", "impacted"),
        ("ITSM-102", "Edge", "impacted"),
    ]
    # The same link seen from the incident (inward) and the change (outward) is one row.
    assert query("select incident_ref, target_type, target_ref, kind from raw.incident_link") == [
        ("ITSM-205", "change", "ITSM-101", "caused_by")
    ]
    assert query("select caused_by_change_ref from raw.incident") == [("ITSM-101",)]


def test_csv_issue_type_lists_are_configurable(tmp_path: Path) -> None:
    folder = _csv_folder(tmp_path)
    settings = ExportSettings(extra={"change_issue_types": ["Change", "Task"]})
    reading = read_file(folder / "changes.csv", settings)
    change = next(f for f in reading.frames if f.entity == "change")
    assert "ITSM-300" in change.frame["number"].to_list()


def test_rest_search_json_gives_history_milestones_and_links(ingest: Ingest, query: Query) -> None:
    r = ingest([JIRA / "search.json"]).results[0]
    assert r.status == "succeeded", r.error
    assert "Jira REST" in r.warnings[0]
    change = query(
        "select number, change_type_raw, risk_raw, planned_start_at, approved_at, actual_start_at, actual_end_at, opened_at from raw.change"
    )
    assert change == [
        (
            "CHG-25", "Normal", "Medium",
            datetime(2017, 3, 2, 4, 0),  # customfield via expand=names, -0600 offset to UTC
            datetime(2017, 3, 1, 15, 0),  # left "Awaiting approval"
            datetime(2017, 3, 2, 4, 5),  # into Implementing
            datetime(2017, 3, 2, 7, 0),  # out of Implementing
            datetime(2017, 2, 28, 15, 24, 59),
        )
    ]  # fmt: skip
    history = query(
        "select record_type, record_ref, from_state, to_state, changed_by from raw.state_history order by changed_at"
    )
    assert history[0] == ("change", "CHG-25", "Planning", "Awaiting approval", "Ben Ode")
    assert ("incident", "INC-7", "Open", "Resolved", "Cy Dee") in history
    assert len(history) == 5
    assert query("select incident_ref, target_ref, kind from raw.incident_link") == [
        ("INC-7", "CHG-25", "caused_by")
    ]
    # a fix version is qualified with the issue's project (no project field: its issue key's prefix)
    assert query("select release_ref, change_ref from raw.release_change") == [("CHG@Platform 1.0", "CHG-25")]


def test_rest_versions_json_gives_releases(ingest: Ingest, query: Query) -> None:
    r = ingest([JIRA / "versions.json"], ExportSettings(extra={"project": "CHG"})).results[0]
    assert r.status == "succeeded", r.error
    assert query(
        "select source_id, number, version, product, is_released_raw, released_at, planned_end_at "
        "from raw.release order by 1"
    ) == [
        ("10000", "CHG@Platform 1.0", "Platform 1.0", "CHG", "true", datetime(2017, 3, 2), None),
        ("10001", "CHG@Platform 1.1", "Platform 1.1", "CHG", "false", None, datetime(2017, 4, 1)),
    ]


def test_rest_versions_json_without_a_project_key_says_so(ingest: Ingest, query: Query) -> None:
    r = ingest([JIRA / "versions.json"]).results[0]
    assert r.status == "succeeded", r.error
    assert any("projectId" in w and "project = " in w for w in r.warnings)
    assert query("select number, product from raw.release order by 1") == [
        ("10000@Platform 1.0", "10000"),
        ("10000@Platform 1.1", "10000"),
    ]


TWO_PROJECTS_ISSUES = """Summary,Issue key,Issue id,Issue Type,Status,Resolution,Created,Updated,Resolved,Fix versions,Affects versions
Ship storage 4.0.0,STOR-1,1,Change,Completed,Done,02/Jan/24 9:00 AM,05/Jan/24 9:00 AM,05/Jan/24 9:00 AM,4.0.0,
Ship web 4.0.0,WEB-1,2,Change,Completed,Done,03/Jan/24 9:00 AM,06/Jan/24 9:00 AM,06/Jan/24 9:00 AM,4.0.0,
Web down after 4.0.0,WEB-2,3,Bug,Done,Done,07/Jan/24 9:00 AM,08/Jan/24 9:00 AM,08/Jan/24 9:00 AM,,4.0.0
"""


def test_two_projects_versions_of_the_same_name_stay_two_releases(
    tmp_path: Path, ingest: Ingest, query: Query
) -> None:
    """STOR and WEB both release 4.0.0: two releases, each issue's versions resolve in its own project."""
    folder = tmp_path / "two"
    folder.mkdir()
    (folder / "STOR_releaseList.csv").write_text(
        "Index,Version ID,Version Name,Date\n1,11,4.0.0,2024-01-05T00:00\n"
    )
    (folder / "WEB_releaseList.csv").write_text(
        "Index,Version ID,Version Name,Date\n1,21,4.0.0,2024-01-06T00:00\n"
    )
    (folder / "issues.csv").write_text(TWO_PROJECTS_ISSUES)
    report = ingest([folder])
    assert all(r.status == "succeeded" for r in report.results), [r.error for r in report.results]
    assert query("select number, product, version from raw.release order by 1") == [
        ("STOR@4.0.0", "STOR", "4.0.0"),
        ("WEB@4.0.0", "WEB", "4.0.0"),
    ]
    assert query("select change_ref, release_ref from raw.release_change order by 1") == [
        ("STOR-1", "STOR@4.0.0"),
        ("WEB-1", "WEB@4.0.0"),
    ]
    assert query("select incident_ref, target_type, target_ref, kind from raw.incident_link") == [
        ("WEB-2", "release", "WEB@4.0.0", "caused_by")
    ]


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(
        st.one_of(
            st.none(),
            st.builds(
                lambda day, sep1, month, dot, sep2: f"{day}{sep1}{month}{dot}{sep2}25 9:26 AM",
                st.sampled_from(["22", "1", ""]),
                st.sampled_from(["/", " ", ".", "-", "", "x"]),
                st.sampled_from([*LOCALE_MONTHS, "Sep", "Oct", "May", "OKT", "Mai", "Märzen", "xx"]),
                st.sampled_from(["", "."]),
                st.sampled_from(["/", " ", ".", "-", "", "y"]),
            ),
        ),
        max_size=8,
    )
)
def test_locale_month_check_tells_every_value_english_months_changes(values: list[str | None]) -> None:
    """Jira date columns skip the per-month replacements when no value holds a locale month: the
    one-scan check says yes exactly when english_months would change a value."""
    series = pl.Series("d", values, dtype=pl.String)
    changed = not series.equals(pl.select(english_months(pl.lit(series))).to_series().alias("d"))
    assert has_locale_months(series) == changed
