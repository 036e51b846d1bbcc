"""The connectors over the shared real public exports (tests/datasets.py: CHANGEBOARD_SHARED_DATASETS, default
../shared/datasets; read-only, gunzipped into tmp)."""

from __future__ import annotations

from pathlib import Path

from changeboard.ingest.registry import ExportSettings

from tests.datasets import DATASETS, requires_datasets

from .conftest import FIXTURES, Ingest, Query, copy_fixture

pytestmark = requires_datasets


def _raw_rows(path: Path) -> list[dict[str, str]]:
    """A shared data set's rows, read here with the standard library (the counts the tests expect)."""
    import csv
    import gzip

    with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _balanced(report) -> None:  # type: ignore[no-untyped-def]
    for r in report.results:
        assert r.status == "succeeded", r.error
        c = r.counts
        assert c.rows_read == c.inserted + c.updated + c.unchanged + c.superseded + c.quarantined


def test_uci_incident_event_log(tmp_path: Path, ingest: Ingest, query: Query) -> None:
    rows = _raw_rows(DATASETS / "uci_incident_event_log" / "incident_event_log.csv.gz")
    incidents = len({r["number"] for r in rows})
    folder = tmp_path / "uci"
    copy_fixture(DATASETS / "uci_incident_event_log" / "incident_event_log.csv.gz", folder)
    copy_fixture(FIXTURES / "servicenow" / "_export.toml", folder)  # '?' = null, d/m/yyyy dates
    report = ingest([folder])
    _balanced(report)
    assert query("select count(*), count(distinct number) from raw.incident") == [(incidents, incidents)]
    assert query("select count(*) from raw.incident where state_raw <> 'Closed'") == [(0,)]
    # 141,712 events: every incident's latest row kept, the 116,794 earlier ones superseded.
    c = report.results[0].counts
    assert c.superseded == len(rows) - incidents
    assert c.quarantined == 0
    n_hist, n_records, firsts = query(
        "select count(*), count(distinct record_ref), count(*) filter (where from_state is null) from raw.state_history"
    )[0]
    assert n_records == incidents
    assert firsts == incidents
    assert n_hist > incidents * 2
    caused = len({r["number"] for r in rows if r["caused_by"] != "?"})
    assert (
        0
        < query("select count(distinct number) from raw.incident where caused_by_change_ref is not null")[0][
            0
        ]
        <= caused
    )


def test_servicenow_demo_cmdb(tmp_path: Path, ingest: Ingest, query: Query) -> None:
    f = copy_fixture(DATASETS / "servicenow_demo_cmdb_ci" / "cmdb_ci.csv.gz", tmp_path / "cmdb")
    report = ingest([f])
    _balanced(report)
    r = report.results[0]
    assert (r.source_system, r.source_table) == ("servicenow", "cmdb_ci")
    assert r.counts.rows_read == 2_784
    # No sys_id in this export: records are keyed by name (1,794 distinct); the warning says so.
    assert any("no sys_id column" in w for w in r.warnings)
    loaded = query("select count(*) from raw.configuration_item")[0][0]
    assert loaded + r.counts.superseded + r.counts.quarantined == 2_784
    assert 1_700 < loaded <= 1_794
    classes = dict(query("select ci_class_raw, count(*) from raw.configuration_item group by 1"))
    assert {"Computer", "Software", "Service"} <= set(classes)
    assert query("select count(*) from raw.configuration_item where updated_at is null") == [(0,)]


def test_github_release_mining(tmp_path: Path, ingest: Ingest, query: Query) -> None:
    rows = _raw_rows(DATASETS / "github_release_mining" / "releases.csv.gz")
    f = copy_fixture(DATASETS / "github_release_mining" / "releases.csv.gz", tmp_path / "gh")
    report = ingest([f])
    _balanced(report)
    # counted from the raw file: (project, name) is a release; many tags repeat across projects
    releases = {(r["project"], r["name"]) for r in rows}
    assert len(releases) == len(rows) > len({r["name"] for r in rows})
    projects = len({r["project"] for r in rows})
    assert query("select count(*), count(distinct product) from raw.release") == [(len(releases), projects)]
    assert query("select count(*) from raw.deployment where status_raw = 'success'") == [(len(rows),)]
    days = sorted(r["time"][:10] for r in rows)
    assert query(
        "select min(released_at)::date::varchar, max(released_at)::date::varchar from raw.release"
    ) == [(days[0], days[-1])]


def test_apache_jira_releases_and_bugs(tmp_path: Path, ingest: Ingest, query: Query) -> None:
    folder = tmp_path / "apache"
    for name in (
        "BOOKKEEPERVersionInfo",
        "BOOKKEEPER_releaseList",
        "OPENJPAVersionInfo",
        "BOOKKEEPER_ticketList",
        "OPENJPA_ticketList",
    ):
        copy_fixture(DATASETS / "apache_jira_releases_isw2" / f"{name}.csv.gz", folder)
    report = ingest([folder])
    _balanced(report)
    # The version list and the release list of BOOKKEEPER are the same releases: loaded once.
    raw = DATASETS / "apache_jira_releases_isw2"
    versions = {p: len(_raw_rows(raw / f"{p}VersionInfo.csv.gz")) for p in ("BOOKKEEPER", "OPENJPA")}
    tickets = sum(len(_raw_rows(raw / f"{p}_ticketList.csv.gz")) for p in ("BOOKKEEPER", "OPENJPA"))
    assert query("select product, count(*) from raw.release group by 1 order by 1") == sorted(
        versions.items()
    )
    assert query("select count(*) from raw.incident") == [(tickets,)]
    kinds = dict(query("select kind, count(*) from raw.incident_link group by 1"))
    assert kinds["fixed_by"] == tickets
    assert 0 < kinds["caused_by"] <= tickets
    # Every linked version is a known release of the project (bugs that escaped into release X).
    unknown = query(
        "select count(*) from raw.incident_link l where kind = 'fixed_by' "
        "and not exists (select 1 from raw.release r where r.number = l.target_ref)"
    )[0][0]
    assert unknown < 0.05 * tickets


def test_uci_log_loads_every_incident_with_the_one_option_the_refusal_names(
    tmp_path: Path, ingest: Ingest, query: Query
) -> None:
    """Issue 17 point 1 on the real log, as a new user meets it: the compressed file as published,
    no manifest. A plain ingest refuses it and names the fix; that one option loads every incident
    (counted from the raw file here), and '?' is no CI and no change reference."""
    import csv
    import gzip
    import re

    src = DATASETS / "uci_incident_event_log" / "incident_event_log.csv.gz"
    with gzip.open(src, "rt", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    incidents = len({r["number"] for r in rows})
    refused = ingest([src], strict=True).results[0]
    assert refused.status == "rejected"
    assert refused.file_rows == len(rows)
    assert query("select count(*) from raw.incident") == [(0,)]
    suggested = re.search(r"ingest again with (--null-values '(.+?)')", refused.error or "")
    assert suggested, refused.error
    token = suggested.group(2)
    report = ingest([src], ExportSettings(extra={"null_values": [token]}), strict=True)
    _balanced(report)
    r = report.results[0]
    assert (r.file_rows, r.file_rows_quarantined) == (len(rows), 0)
    assert query("select count(distinct number) from raw.incident") == [(incidents,)]
    assert query(
        "select count(*) from raw.incident where '?' in (ci_ref, caused_by_change_ref, fixed_by_change_ref, problem_ref)"
    ) == [(0,)]
    with_ci = len({r["number"] for r in rows if r["cmdb_ci"] != "?"})
    assert 0 < query("select count(*) from raw.incident where ci_ref is not null")[0][0] <= with_ci
