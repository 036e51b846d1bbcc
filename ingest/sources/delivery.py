"""Releases and deployments from delivery tools, so DORA data can come from the pipeline too.

- **GitHub releases JSON** (``GET /repos/{o}/{r}/releases``, a list): one ``release`` per object
  (``number`` = ``owner/repo@tag`` so that tags of different repositories never collide) and one
  ``deployment`` (status ``success``, environment ``production`` unless the manifest says otherwise)
  per *published* release (not a draft, ``published_at`` set).
- **GitHub deployments JSON** (``GET /repos/{o}/{r}/deployments``, a list with ``sha`` and
  ``environment``): one ``deployment`` each; status from ``status``/``state`` or the newest of an
  embedded ``statuses`` list.
- **Release-mining CSV** (``project,name,version,...,head,time``, gems-uff/release-mining): one
  release plus its deployment per row.
- **Deployments CSV** (the documented contract ``deploy_id, service, environment, status,
  started_at, finished_at, commit_sha, change_number, release_version``): one ``deployment`` each.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import polars as pl
from changeboard.ingest.base import ExportSettings, Reading, Recognised, Sample, Source
from changeboard.ingest.mapping import MappedFrame, TableMapping, apply_mapping
from changeboard.ingest.readers import ReadError, load_json_document, read_csv_text, scalar_text
from changeboard.ingest.sources.common import identity_mapping, iso_utc, text_frame, typed_frame

GITHUB = "github"
DELIVERY = "delivery"
DATE_FORMATS = (
    "%Y-%m-%dT%H:%M:%SZ",
    "%Y-%m-%dT%H:%M:%S%.fZ",
    "%Y-%m-%d %H:%M:%S+00:00",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
)
DEPLOYMENT_HEADERS = ("deploy_id", "environment", "status")
RELEASE_MINING_HEADERS = ("project", "name", "version", "head", "time")
SHA = re.compile(r"^[0-9a-f]{40}$")


def _environment(settings: ExportSettings) -> str:
    return str(settings.extra.get("environment", "production"))


def _deployments_of_releases(releases: MappedFrame, environment: str) -> MappedFrame:
    """One successful deployment per published release (released_at set)."""
    f = releases.frame.filter(
        pl.col("released_at").is_not_null() & (pl.col("is_released_raw").fill_null("true") == "true")
    )
    frame = f.select(
        "_source_row",
        pl.col("source_system"),
        pl.col("source_id"),
        pl.col("number").alias("release_ref"),
        pl.col("product").alias("service_ref"),
        pl.lit(environment).alias("environment"),
        pl.lit("success").alias("status_raw"),
        pl.col("_commit").alias("commit_sha")
        if "_commit" in f.columns
        else pl.lit(None, dtype=pl.String).alias("commit_sha"),
        pl.col("version").alias("ref"),
        pl.col("released_at").alias("started_at"),
        pl.col("released_at").alias("finished_at"),
        pl.col("updated_at"),
    )
    return typed_frame("deployment", frame)


# ------------------------------------------------------------------------------------------- GitHub


def _repo_from_url(item: dict[str, Any]) -> str | None:
    url = str(item.get("html_url") or item.get("url") or "")
    m = re.search(r"github\.com/(?:repos/)?([^/]+/[^/]+)", url)
    return m.group(1) if m else None


def _repo_of(item: dict[str, Any], settings: ExportSettings, path: Path) -> str:
    """The repository (``owner/repo``) of a release or deployment: part of a release's identity
    (``owner/repo@tag``), so that two repositories' releases of one tag stay two releases."""
    if settings.extra.get("product"):
        return str(settings.extra["product"])
    return _repo_from_url(item) or path.stem


def read_github_json(path: Path, settings: ExportSettings) -> Reading:
    """GitHub releases (list of release objects) or deployments (objects with sha/environment)."""
    data = load_json_document(path)
    if not isinstance(data, list) or not all(isinstance(x, dict) for x in data):
        raise ReadError(f"{path}: expected a JSON list of GitHub release or deployment objects")
    for n, item in enumerate(data, start=1):
        for field in ("id", "tag_name", "target_commitish", "sha", "environment"):
            scalar_text(path, f"object {n}'s {field!r}", item.get(field))
    if data and "tag_name" not in data[0] and "sha" in data[0]:
        return Reading(
            GITHUB,
            "deployments",
            [_github_deployments(path, data, settings)],
            [],
            "GitHub deployments JSON (sha, environment)",
        )
    warnings = []
    if not settings.extra.get("product") and any(_repo_from_url(item) is None for item in data):
        warnings.append(
            f"release objects without a github.com URL: their repository is taken from the file name "
            f'({path.stem!r}); set product = "owner/repo" in _export.toml so that two repositories\' '
            "releases of one tag stay apart"
        )
    rows = []
    for item in data:
        commitish = str(item.get("target_commitish") or "")
        repo = _repo_of(item, settings, path)
        tag = item.get("tag_name")
        rows.append(
            {
                "source_id": item.get("id"),
                "number": f"{repo}@{tag}" if tag else None,
                "name": item.get("name") or tag,
                "version": tag,
                "product": repo,
                "is_released_raw": "false" if item.get("draft") else "true",
                "is_prerelease_raw": item.get("prerelease"),
                "state_raw": "draft"
                if item.get("draft")
                else ("prerelease" if item.get("prerelease") else "published"),
                "created_at": iso_utc(item.get("created_at")),
                "released_at": iso_utc(item.get("published_at")),
                "updated_at": iso_utc(item.get("published_at") or item.get("created_at")),
                "_commit": commitish if SHA.match(commitish) else None,
            }
        )
    mapping = identity_mapping("release", constants={"source_system": GITHUB}, date_formats=DATE_FORMATS)
    text = text_frame(rows)
    releases = apply_mapping(text, mapping, file_label=str(path))
    releases.frame = (
        releases.frame.join(text.select("_source_row", "_commit"), on="_source_row", how="left")
        if "_commit" in text.columns
        else releases.frame
    )
    deployments = _deployments_of_releases(releases, _environment(settings))
    releases.frame = releases.frame.drop("_commit", strict=False)
    return Reading(GITHUB, "releases", [releases, deployments], warnings, "GitHub releases JSON (tag_name)")


def _github_deployments(path: Path, data: list[dict[str, Any]], settings: ExportSettings) -> MappedFrame:
    rows = []
    for item in data:
        statuses = item.get("statuses") or []
        latest = (
            max(statuses, key=lambda s: str(s.get("created_at") or ""), default={})
            if isinstance(statuses, list)
            else {}
        )
        status = item.get("status") or item.get("state") or latest.get("state")
        finished = (
            latest.get("created_at") if status not in (None, "in_progress", "queued", "pending") else None
        )
        rows.append(
            {
                "source_id": item.get("id"),
                "release_ref": item.get("release") or None,
                "service_ref": _repo_of(item, settings, path),
                "environment": item.get("environment"),
                "status_raw": status,
                "commit_sha": item.get("sha"),
                "ref": item.get("ref"),
                "started_at": iso_utc(item.get("created_at")),
                "finished_at": iso_utc(finished or (item.get("updated_at") if status == "success" else None)),
                "updated_at": iso_utc(item.get("updated_at") or item.get("created_at")),
            }
        )
    mapping = identity_mapping("deployment", constants={"source_system": GITHUB}, date_formats=DATE_FORMATS)
    return apply_mapping(text_frame(rows), mapping, file_label=str(path))


def read_release_mining_csv(path: Path, settings: ExportSettings) -> Reading:
    """The gems-uff/release-mining ``releases.csv``: one release (+ its deployment) per row."""
    text = read_csv_text(path, encoding=settings.encoding, delimiter=settings.delimiter)
    frame = text.frame.with_columns((pl.col("project") + pl.lit("@") + pl.col("name")).alias("_number"))
    mapping = TableMapping(
        entity="release",
        columns={
            "source_id": ("_number",),
            "number": ("_number",),
            "name": ("name",),
            "version": ("version",),
            "product": ("project",),
            "released_at": ("time",),
            "updated_at": ("time",),
        },
        constants={"source_system": GITHUB, "is_released_raw": "true"},
        date_formats=DATE_FORMATS,
    )
    releases = apply_mapping(frame, mapping, file_label=str(path))
    releases.frame = releases.frame.join(
        frame.select(pl.col("_source_row").cast(pl.Int64), pl.col("head").alias("_commit")),
        on="_source_row",
        how="left",
    )
    deployments = _deployments_of_releases(releases, _environment(settings))
    releases.frame = releases.frame.drop("_commit")
    return Reading(
        GITHUB,
        "releases",
        [releases, deployments],
        text.warnings,
        "release-mining CSV headers (project, name, head, time)",
    )


# -------------------------------------------------------------------------------------- deployments

DEPLOYMENTS = TableMapping(
    entity="deployment",
    columns={
        "source_id": ("deploy_id", "deployment_id", "id"),
        "service_ref": ("service", "application"),
        "environment": ("environment", "env"),
        "status_raw": ("status", "state", "result"),
        "started_at": ("started_at", "start"),
        "finished_at": ("finished_at", "end", "completed_at"),
        "commit_sha": ("commit_sha", "commit_shas", "sha"),
        "change_ref": ("change_number", "change", "change_ref"),
        "release_ref": ("release_version", "release", "version"),
        "ref": ("ref", "branch", "tag"),
        "updated_at": ("updated_at",),
    },
    constants={"source_system": DELIVERY},
    date_formats=DATE_FORMATS,
    identity=DEPLOYMENT_HEADERS,
)


def read_deployments_csv(path: Path, settings: ExportSettings) -> Reading:
    """The plain deployments CSV contract (``deploy_id, service, environment, status, ...``)."""
    text = read_csv_text(path, encoding=settings.encoding, delimiter=settings.delimiter)
    mapping = DEPLOYMENTS
    if settings.timezone:
        mapping = replace(mapping, timezone=settings.timezone)
    if settings.date_format:
        mapping = replace(mapping, date_formats=(settings.date_format, *mapping.date_formats))
    if settings.extra.get("source_system"):
        mapping = replace(mapping, constants={"source_system": str(settings.extra["source_system"])})
    if not mapping.resolve_columns(text.frame.columns).keys() >= {"source_id"}:
        raise ReadError(
            f"{path}: no deploy_id column (expected the deployments CSV: {', '.join(DEPLOYMENT_HEADERS)}, ...)"
        )
    mapped = apply_mapping(text.frame, mapping, file_label=str(path))
    # A deployment's version is its latest timestamp: finished, else started.
    mapped.frame = mapped.frame.with_columns(
        pl.coalesce(["updated_at", "finished_at", "started_at"]).alias("updated_at")
    )
    return Reading(
        mapping.constants["source_system"],
        "deployments",
        [mapped],
        text.warnings,
        "deployments CSV headers (deploy_id, environment, status)",
    )


def recognise_github(sample: Sample) -> Recognised | None:
    if sample.kind == "csv" and set(RELEASE_MINING_HEADERS) <= sample.headers:
        return Recognised("release-mining CSV headers (project, name, head, time)")
    if sample.kind == "json" and sample.json is not None:
        keys = set(sample.json.first_keys)
        if "tag_name" in keys or {"sha", "environment"} <= keys:
            return Recognised("GitHub releases / deployments JSON")
    return None


def recognise_deployments(sample: Sample) -> Recognised | None:
    if sample.kind == "csv" and set(DEPLOYMENT_HEADERS) <= sample.headers:
        return Recognised("deployments CSV headers (deploy_id, environment, status)")
    return None


# Two systems: GitHub's releases / deployments (and release-mining CSVs), and the plain deployments CSV.
GITHUB_SOURCE = Source(
    system=GITHUB,
    readers={"json": read_github_json, "csv": read_release_mining_csv},
    recognise=recognise_github,
)
DEPLOYMENTS_SOURCE = Source(
    system=DELIVERY, readers={"csv": read_deployments_csv}, recognise=recognise_deployments
)


__all__ = [
    "DELIVERY",
    "DEPLOYMENTS_SOURCE",
    "GITHUB",
    "GITHUB_SOURCE",
    "read_deployments_csv",
    "read_github_json",
    "read_release_mining_csv",
]
