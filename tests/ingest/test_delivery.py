"""Releases and deployments from delivery tools: GitHub JSON, release-mining CSV, deployments CSV."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from changeboard.ingest.registry import read_file

from .conftest import FIXTURES, Ingest, Query, copy_fixture

DELIVERY = FIXTURES / "delivery"


def test_github_releases_json(ingest: Ingest, query: Query) -> None:
    r = ingest([DELIVERY / "github_releases.json"]).results[0]
    assert r.status == "succeeded", r.error
    assert "GitHub releases" in r.warnings[0]
    assert query(
        "select number, version, is_released_raw, is_prerelease_raw, released_at from raw.release order by source_id"
    ) == [
        ("acme/shop@v2.2.0", "v2.2.0", "false", "false", None),
        ("acme/shop@v2.1.0-rc.1", "v2.1.0-rc.1", "true", "true", datetime(2024, 4, 25, 9, 5)),
        ("acme/shop@v2.1.0", "v2.1.0", "true", "false", datetime(2024, 5, 1, 12, 30)),
    ]
    # A deployment per published release, none for the draft; a branch name is not a commit sha.
    assert query(
        "select release_ref, environment, status_raw, commit_sha from raw.deployment order by release_ref"
    ) == [
        ("acme/shop@v2.1.0", "production", "success", "5bc3e30b694dc3b6aeeb87c24f88b9cd7a7259d6"),
        ("acme/shop@v2.1.0-rc.1", "production", "success", None),
    ]


def test_two_repositories_releases_of_one_tag_stay_two_releases(
    tmp_path: Path, ingest: Ingest, query: Query
) -> None:
    """A release's identity includes its repository: v1.0.0 of two repositories is two releases, and
    each one's deployment names its own release."""
    for repo in ("acme/web", "acme/api"):
        folder = tmp_path / repo.replace("/", "_")
        folder.mkdir()
        (folder / "releases.json").write_text(
            json.dumps(
                [
                    {
                        "html_url": f"https://github.com/{repo}/releases/tag/v1.0.0",
                        "id": len(repo) * 10 + (repo == "acme/api"),
                        "tag_name": "v1.0.0",
                        "target_commitish": "main",
                        "draft": False,
                        "prerelease": False,
                        "created_at": "2024-05-01T10:00:00Z",
                        "published_at": "2024-05-01T12:00:00Z",
                    }
                ]
            ),
            encoding="utf-8",
        )
    report = ingest([tmp_path / "acme_web", tmp_path / "acme_api"])
    assert all(r.status == "succeeded" for r in report.results), [r.error for r in report.results]
    assert query("select number, product, version from raw.release order by 1") == [
        ("acme/api@v1.0.0", "acme/api", "v1.0.0"),
        ("acme/web@v1.0.0", "acme/web", "v1.0.0"),
    ]
    assert query("select release_ref, service_ref from raw.deployment order by 1") == [
        ("acme/api@v1.0.0", "acme/api"),
        ("acme/web@v1.0.0", "acme/web"),
    ]


def test_github_releases_without_a_repository_url_say_where_the_repository_came_from(tmp_path: Path) -> None:
    f = tmp_path / "shop.json"
    f.write_text(
        json.dumps([{"id": 1, "tag_name": "v1", "published_at": "2024-05-01T12:00:00Z"}]), encoding="utf-8"
    )
    reading = read_file(f)
    assert any("'shop'" in w and "product = " in w for w in reading.warnings)
    release = next(m for m in reading.frames if m.entity == "release")
    assert release.frame["number"].to_list() == ["shop@v1"]


def test_github_deployments_json(tmp_path: Path, ingest: Ingest, query: Query) -> None:
    f = tmp_path / "deployments.json"
    f.write_text(
        json.dumps(
            [
                {
                    "url": "https://api.github.com/repos/acme/shop/deployments/7",
                    "id": 7,
                    "sha": "5bc3e30b694dc3b6aeeb87c24f88b9cd7a7259d6",
                    "ref": "v2.1.0",
                    "environment": "production",
                    "created_at": "2024-05-01T12:31:00Z",
                    "updated_at": "2024-05-01T12:40:00Z",
                    "statuses": [
                        {"state": "in_progress", "created_at": "2024-05-01T12:31:05Z"},
                        {"state": "success", "created_at": "2024-05-01T12:40:00Z"},
                    ],
                }
            ]
        ),
        encoding="utf-8",
    )
    r = ingest([f]).results[0]
    assert r.status == "succeeded", r.error
    assert query(
        "select source_id, service_ref, status_raw, started_at, finished_at from raw.deployment"
    ) == [("7", "acme/shop", "success", datetime(2024, 5, 1, 12, 31), datetime(2024, 5, 1, 12, 40))]


def test_release_mining_csv(ingest: Ingest, query: Query) -> None:
    r = ingest([DELIVERY / "releases.csv"]).results[0]
    assert r.status == "succeeded", r.error
    assert query("select number, product, released_at from raw.release order by released_at") == [
        ("facebook/react@v0.11.1", "facebook/react", datetime(2014, 7, 25, 18)),
        ("vuejs/vue@0.11.0", "vuejs/vue", datetime(2014, 11, 7, 1, 52, 42)),
        ("vuejs/vue@0.11.1", "vuejs/vue", datetime(2014, 12, 1, 0, 24, 21)),
    ]
    assert query("select count(*), count(commit_sha) from raw.deployment") == [(3, 3)]


def test_deployments_csv(tmp_path: Path, ingest: Ingest, query: Query) -> None:
    r = ingest([DELIVERY / "deployments.csv"]).results[0]
    assert (r.source_system, r.source_table) == ("delivery", "deployments")
    c = r.counts
    assert (c.rows_read, c.inserted, c.quarantined) == (4, 3, 1)
    assert query(
        "select source_id, change_ref, release_ref, status_raw, updated_at from raw.deployment order by 1"
    ) == [
        ("d-1001", "CHG0030001", "v2.1.0", "success", datetime(2024, 5, 1, 12, 40)),
        ("d-1002", None, None, "failed", datetime(2024, 5, 2, 8, 3)),
        ("d-1003", "CHG0030002", None, "in_progress", datetime(2024, 5, 3, 9)),  # unfinished: its start
    ]
    assert query("select source_row, reason from meta.quarantine") == [
        (
            5,
            "column started_at: 'yesterday' is not a date/time (expected %Y-%m-%dT%H:%M:%SZ or %Y-%m-%dT%H:%M:%S%.fZ or %Y-%m-%d %H:%M:%S+00:00 ...)",
        )
    ]
    # A later export of the same deployment (finished now) updates it.
    later = tmp_path / "later"
    f = copy_fixture(DELIVERY / "deployments.csv", later)
    f.write_text(
        "deploy_id,service,environment,status,started_at,finished_at,commit_sha,change_number,release_version\n"
        "d-1003,search,production,success,2024-05-03T09:00:00Z,2024-05-03T09:20:00Z,1111111111111111111111111111111111111111,CHG0030002,\n",
        encoding="utf-8",
    )
    assert ingest([f]).results[0].counts.updated == 1
    assert query("select status_raw from raw.deployment where source_id = 'd-1003'") == [("success",)]


def test_detection_of_delivery_and_jira_json(tmp_path: Path) -> None:
    assert read_file(DELIVERY / "github_releases.json").system == "github"
    assert read_file(DELIVERY / "deployments.csv").detected_by.startswith("deployments CSV headers")
    versions = copy_fixture(
        FIXTURES / "jira" / "versions.json", tmp_path
    )  # outside the jira manifest's folder
    reading = read_file(versions)
    assert (reading.system, reading.table) == ("jira", "versions")
    assert reading.detected_by.startswith("Jira project versions JSON")
    search = copy_fixture(FIXTURES / "jira" / "search.json", tmp_path)
    assert read_file(search).detected_by.startswith("Jira REST search JSON")
