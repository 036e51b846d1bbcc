"""The real public release exports, ingested and built (issue #17, points 5, 6 and 9): 13,419 GitHub
releases of 100 repositories (gems-uff/release-mining) and the Apache Jira releases and bug tickets
of BOOKKEEPER and OPENJPA (Andrea041/ISW2-Project), read from the shared data sets (never copied into
the repository). Every expected figure is computed here from the raw files, with plain Python.

The data sets folder is ``$CHANGEBOARD_SHARED_DATASETS``, by default ``../shared/datasets`` next to the
repository; the tests skip, saying so, when it is absent.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from changeboard.paths import DataDir
from changeboard.pipeline import build_run, ingest_run
from changeboard.warehouse.versions import read_pointer
from tests.datasets import DATASETS, ENV_SHARED_DATASETS

REPO = Path(__file__).resolve().parents[2]
GITHUB = DATASETS / "github_release_mining" / "releases.csv.gz"
APACHE = DATASETS / "apache_jira_releases_isw2"
APACHE_FILES = (
    "BOOKKEEPERVersionInfo",
    "BOOKKEEPER_releaseList",
    "OPENJPAVersionInfo",
    "OPENJPA_releaseList",
    "BOOKKEEPER_ticketList",
    "OPENJPA_ticketList",
)
SHA = re.compile(r"^[0-9a-f]{40}$")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (GITHUB.exists() and APACHE.exists()),
        reason=f"the shared data sets are not at {DATASETS} (set {ENV_SHARED_DATASETS} to their folder)",
    ),
]


def _read_csv(path: Path) -> list[dict[str, str]]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
        return [
            {k.strip(): (v or "").strip() for k, v in row.items()}
            for row in csv.DictReader(io.StringIO(fh.read()))
        ]


def _gunzip(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(src, "rb") as f:
        dest.write_bytes(f.read())


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    root = tmp_path_factory.mktemp("real")
    _gunzip(GITHUB, root / "github" / "releases.csv")
    for name in APACHE_FILES:
        _gunzip(APACHE / f"{name}.csv.gz", root / "apache" / f"{name}.csv")
    data = DataDir(tmp_path_factory.mktemp("cbdata")).ensure()
    run_id = ingest_run.new_run_id()
    report = ingest_run.ingest_paths(data, [root], run_id=run_id)
    assert not report.failed, [(r.path, r.error) for r in report.failed]
    build_run.build(data, run_id=run_id, as_of="2021-01-04 12:00:00")
    con = duckdb.connect(str(read_pointer(data).path), read_only=True)
    yield con
    con.close()


def test_every_github_release_is_a_release_of_its_repository(built: duckdb.DuckDBPyConnection) -> None:
    rows = _read_csv(GITHUB)
    releases = {(r["project"], r["name"]) for r in rows}
    per_repository = Counter(project for project, _ in releases)
    got = dict(
        built.execute(
            "select repository, count(*) from fct_releases where source_system = 'github' group by 1"
        ).fetchall()
    )
    assert got == dict(per_repository)
    # tags repeat across repositories (v1.0.0 of many projects) and stay apart
    names = Counter(name for _, name in releases)
    assert any(n > 1 for n in names.values())
    assert built.execute(
        "select count(*) from fct_releases where source_system = 'github' and project is null and is_deployed"
    ).fetchall() == [(len(releases),)]


def test_dora_from_github_releases_alone(built: duckdb.DuckDBPyConnection) -> None:
    """No change request in this estate: every release deployment is a DORA deployment, one per commit
    and day (two tags of one commit on one day are one deployment), by ISO week."""
    deployments: set[tuple[str, str]] = set()
    for r in _read_csv(GITHUB):
        day = datetime.fromisoformat(r["time"]).date()
        deployments.add(
            (r["head"], day.isoformat()) if SHA.match(r["head"]) else (f"{r['project']}@{r['name']}", "")
        )
    by_week = Counter(
        datetime.fromisoformat(day).date().isocalendar()[:2] if day else None for _, day in deployments
    )
    assert None not in by_week
    got = {
        start.isocalendar()[:2]: (source, count)
        for start, source, count in built.execute(
            "select period_start, deployment_source, deployment_count from rpt_dora "
            "where period_grain = 'week' and deployment_count > 0"
        ).fetchall()
    }
    assert got == {week: ("deployment_records", n) for week, n in by_week.items()}
    assert built.execute(
        "select count(*) filter (where is_counted_deployment) from fct_deployments where source_system = 'github'"
    ).fetchall() == [(len(deployments),)]


def _apache() -> tuple[set[tuple[str, str]], list[tuple[str, str, str, list[str]]]]:
    """(project, version) of every released version; (project, ticket, fixed, affected) per bug."""
    versions: set[tuple[str, str]] = set()
    tickets = []
    for name in APACHE_FILES:
        project = re.split(r"_|VersionInfo", name)[0]
        for row in _read_csv(APACHE / f"{name}.csv.gz"):
            if "Version Name" in row:
                versions.add((project, row["Version Name"]))
            else:
                tickets.append(
                    (project, row["Key"], row["Fixed Version"], row["Affected Version List"].split())
                )
    return versions, tickets


def test_apache_jira_versions_are_releases_of_their_project(built: duckdb.DuckDBPyConnection) -> None:
    versions, tickets = _apache()
    got = set(
        built.execute("select project, version from fct_releases where source_system = 'jira'").fetchall()
    )
    assert got == versions
    # a bug is caused by the first version it affects, in its own project
    caused = Counter(
        (p, affected[0]) for p, _, _, affected in tickets if affected and (p, affected[0]) in versions
    )
    got_caused = {
        (p, v): n
        for p, v, n in built.execute(
            "select project, version, caused_incident_count from fct_releases "
            "where source_system = 'jira' and caused_incident_count > 0"
        ).fetchall()
    }
    assert got_caused == dict(caused)


def test_apache_jira_dangling_version_references_are_counted(built: duckdb.DuckDBPyConnection) -> None:
    versions, tickets = _apache()
    references = set()
    for project, key, fixed, affected in tickets:
        for version in ([fixed] if fixed else []) + affected[:1]:
            references.add((key, project, version))
    resolved = sum((project, version) in versions for _, project, version in references)
    row = built.execute(
        "select numerator, denominator, examples from rpt_data_quality "
        "where check_type = 'reference' and source_system = 'jira' and metric = 'incident_release_reference'"
    ).fetchall()
    assert [r[:2] for r in row] == [(resolved, len(references))]
    assert (row[0][2] is None) == (resolved == len(references))
