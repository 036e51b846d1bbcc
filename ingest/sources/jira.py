"""Jira Service Management exports: the issue CSV export and the REST API JSON.

**CSV** (Issues > Export > CSV): repeated headers arrive unique by position (``Labels``,
``Labels#2``, see :func:`ingest.readers.unique_headers`); single-valued fields exported twice
(``Custom field (Impact)`` x2) take the first value present; multi-valued ones are exploded:
``Fix versions`` -> ``release_change`` (incidents: ``incident_link`` fixed_by the release),
``Affects versions`` -> the incident's ``caused_by`` release (the first one listed),
``Custom field (Affected services)`` -> ``change_ci`` with role ``impacted``, and the issue-link
columns ``Inward issue link (<type with caus...>)`` -> ``incident_link`` caused_by the change.
Dates are Jira's ``22/Sep/25 9:26 AM`` in the exporting user's time zone (``_export.toml``
``timezone``) and locale (``01/Okt/17`` is read as October).

Rows are routed by ``Issue Type``: change types (``change_issue_types``) become changes, incident
types (``incident_issue_types``) incidents; any other issue type is quarantined with its reason
(configure the lists in ``_export.toml``, or set ``table = "change"`` / ``"incident"``).

**REST JSON**: search results ``{"issues": [...]}`` (with ``expand=changelog`` the status
transitions give ``state_history`` and the approval / implementation times; ``expand=names``
resolves custom field ids), project versions (a list, or ``{"values": [...]}``) -> ``release``.
``fields.issuelinks`` -> ``incident_link`` caused_by / fixed_by.

Also read: the CSV shapes of Apache Jira data pulled through the REST API (``Version ID,Version
Name,Date`` -> release; ``Key,...,Fixed Version,Affected Version List`` -> incident + links).

**Release identity**: a Jira version belongs to one project, and two projects often have a version
of the same name (``4.0.0``). A release's ``number`` is therefore ``<project key>@<version name>``
(``product`` = the project key; ``name`` / ``version`` keep the bare name), and every release
reference an issue carries (fix versions, affects versions) is qualified with the issue's own
project (its ``Project key`` column, else the prefix of its issue key) -- Jira only lets an issue
name versions of its own project. The project of a version list is the ``project`` (or
``product``) of ``_export.toml``, else the file name's prefix (``BOOKKEEPER_releaseList.csv``),
else for the REST versions JSON its ``projectId`` (with a warning: issues name projects by key).
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import polars as pl
from changeboard.ingest.base import ExportSettings, Reading, Recognised, Sample, Source
from changeboard.ingest.canonical import TS
from changeboard.ingest.mapping import QUARANTINE_SCHEMA, MappedFrame, TableMapping, apply_mapping
from changeboard.ingest.readers import READ_ERROR, ReadError, load_json_document, read_csv_text, scalar_text
from changeboard.ingest.sources.common import (
    empty_mapped,
    english_months,
    has_locale_months,
    identity_mapping,
    iso_utc,
    text_frame,
    typed_frame,
)

SYSTEM = "jira"
DATE_FORMATS = (
    "%d/%b/%y %I:%M %p",
    "%d/%b/%y %H:%M",
    "%d/%b/%Y %I:%M %p",
    "%d/%b/%y",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d",
)
CHANGE_TYPES = ("Change", "Change Request", "RFC", "Standard Change", "Normal Change", "Emergency Change")
INCIDENT_TYPES = ("Incident", "Major Incident", "Bug")
APPROVED_STATUSES = ("Approved", "Awaiting implementation", "Scheduled")
IMPLEMENTING_STATUSES = ("Implementing", "In progress", "In Progress", "Implementation")
# Fields exported once per value (header repeated).
MULTI = {
    "fix_versions": ("Fix versions", "Fix Version/s", "Fix Versions"),
    "affects_versions": ("Affects versions", "Affects Version/s", "Affects Versions"),
    "affected_services": ("Custom field (Affected services)", "Affected services"),
}

_COMMON = {
    "source_id": ("Issue id", "Issue key"),
    "number": ("Issue key",),
    "title": ("Summary",),
    "state_raw": ("Status",),
    "close_code_raw": ("Resolution",),
    "priority_raw": ("Priority",),
    "impact_raw": ("Custom field (Impact)", "Impact"),
    "assignment_group": (
        "Custom field (Team)",
        "Team",
        "Custom field (Assignment group)",
        "Assignment group",
    ),
    "service_ref": ("Custom field (Affected services)", "Affected services"),
    "opened_at": ("Created",),
    "closed_at": ("Resolved",),
    "created_at": ("Created",),
    "updated_at": ("Updated",),
}

CHANGE_COLUMNS: dict[str, tuple[str, ...]] = {
    **_COMMON,
    "description": ("Description",),
    "change_type_raw": ("Custom field (Change type)", "Change type"),
    "risk_raw": ("Custom field (Change risk)", "Change risk"),
    "approval_raw": ("Custom field (Approval status)", "Approval status"),
    "category": ("Custom field (Change reason)", "Change reason"),
    "requested_by": ("Reporter",),
    "assigned_to": ("Assignee",),
    "release_ref": ("Fix versions", "Fix Version/s", "Fix Versions"),
    "implementation_plan": ("Custom field (Implementation plan)", "Implementation plan"),
    "backout_plan": ("Custom field (Backout plan)", "Backout plan"),
    "test_plan": ("Custom field (Test plan)", "Test plan"),
    "planned_start_at": (
        "Custom field (Change start date)",
        "Change start date",
        "Custom field (Planned start)",
    ),
    "planned_end_at": (
        "Custom field (Change completion date)",
        "Change completion date",
        "Custom field (Planned end)",
    ),
    "actual_start_at": ("Custom field (Actual start)", "Actual start"),
    "actual_end_at": ("Custom field (Actual end)", "Actual end"),
    "approved_at": ("Custom field (Approved at)", "Approved at"),
}
INCIDENT_COLUMNS: dict[str, tuple[str, ...]] = {
    **_COMMON,
    "urgency_raw": ("Custom field (Urgency)", "Urgency"),
    "category": ("Custom field (Category)", "Category", "Issue Type"),
    "resolved_at": ("Resolved",),
}


def _mapping(
    entity: str, columns: dict[str, tuple[str, ...]], settings: ExportSettings, *, timezone: str | None = None
) -> TableMapping:
    formats = (
        tuple(dict.fromkeys((settings.date_format, *DATE_FORMATS))) if settings.date_format else DATE_FORMATS
    )
    constants = {"source_system": SYSTEM}
    if entity == "change":
        constants["origin"] = "itsm"
    return TableMapping(
        entity=entity,
        columns=columns,
        constants=constants,
        date_formats=formats,
        timezone=timezone or settings.timezone or "UTC",
        null_values=tuple(_nulls(settings)),
        strip_formula_escape=False,
    )


def _nulls(settings: ExportSettings) -> list[str]:
    extra = settings.extra.get("null_values", [])
    return [str(v) for v in ([extra] if isinstance(extra, str) else extra)]  # type: ignore[union-attr]


def _setting_list(settings: ExportSettings, key: str, default: tuple[str, ...]) -> set[str]:
    value = settings.extra.get(key)
    items = default if value is None else ([value] if isinstance(value, str) else list(value))  # type: ignore[arg-type]
    return {str(v).strip().lower() for v in items}


def _group(columns: list[str], base_names: tuple[str, ...]) -> list[str]:
    """The columns of a repeated field, in position order (``X``, ``X#2``...), under any alias."""
    bases = {b.lower() for b in base_names}
    return [c for c in columns if re.sub(r"#\d+$", "", c).lower() in bases]


def prepare_csv(frame: pl.DataFrame) -> pl.DataFrame:
    """Coalesce repeated single-valued columns into their first header (first value present)."""
    groups: dict[str, list[str]] = {}
    for c in frame.columns:
        m = re.match(r"^(.*)#\d+$", c)
        if m and m.group(1) in frame.columns:
            groups.setdefault(m.group(1), []).append(c)
    if not groups:
        return frame
    return frame.with_columns(
        pl.coalesce([pl.col(base), *(pl.col(c) for c in dups)]).alias(base) for base, dups in groups.items()
    )


def _explode(frame: pl.DataFrame, cols: list[str], key: str, name: str) -> pl.DataFrame:
    """(``_source_row``, key, value) for every non-empty cell of a repeated field."""
    if not cols or key not in frame.columns:
        return pl.DataFrame(schema={"_source_row": pl.Int64, key: pl.String, name: pl.String})
    out = (
        frame.select(
            pl.col("_source_row").cast(pl.Int64),
            pl.col(key),
            pl.concat_list([pl.col(c) for c in cols]).alias(name),
        )
        .explode(name)
        .with_columns(pl.col(name).str.strip_chars())
        .filter(pl.col(name).is_not_null() & (pl.col(name) != ""))
    )
    return out.unique(subset=[key, name], keep="first", maintain_order=True)


def release_key(project: pl.Expr, version: pl.Expr) -> pl.Expr:
    """A Jira version's release key within Jira: ``<project>@<version>`` (bare when no project)."""
    p = project.str.strip_chars()
    v = version.str.strip_chars()
    return pl.when(p.is_not_null() & (p != "") & v.is_not_null()).then(p + pl.lit("@") + v).otherwise(v)


def issue_projects(text: pl.DataFrame, key_col: str) -> pl.DataFrame:
    """(``_source_row``, ``_project``): the project of every issue row, from its ``Project key``
    column, else from its issue key (``BOOKKEEPER-142`` -> ``BOOKKEEPER``)."""
    prefix = pl.col(key_col).str.strip_chars().str.extract(r"^(.+)-\d+$", 1)
    project_col = next((c for c in text.columns if c.strip().lower() == "project key"), None)
    project = (
        pl.coalesce(
            pl.when(pl.col(project_col).str.strip_chars() != "").then(pl.col(project_col).str.strip_chars()),
            prefix,
        )
        if project_col
        else prefix
    )
    return text.select(pl.col("_source_row").cast(pl.Int64), project.alias("_project"))


def _qualified(frame: pl.DataFrame, projects: pl.DataFrame, column: str) -> pl.DataFrame:
    """``column`` (a version name) qualified with the project of the frame's issue row."""
    return (
        frame.join(projects, on="_source_row", how="left")
        .with_columns(release_key(pl.col("_project"), pl.col(column)).alias(column))
        .drop("_project")
    )


def _with_updated(links: pl.DataFrame, mapped: MappedFrame) -> pl.DataFrame:
    return links.join(mapped.frame.select("_source_row", "updated_at"), on="_source_row", how="inner")


def _quarantine_rows(frame: pl.DataFrame, reason: pl.Expr) -> pl.DataFrame:
    """Rows quarantined for ``reason``, after the reader's own reason when it could not read them whole."""
    headers = [c for c in frame.columns if c not in ("_source_row", READ_ERROR)]
    reasons = [pl.col(READ_ERROR), reason] if READ_ERROR in frame.columns else [reason]
    return frame.select(
        pl.col("_source_row").cast(pl.Int64),
        pl.concat_list(reasons).list.drop_nulls().alias("reasons"),
        pl.struct(headers).struct.json_encode().alias("raw_record"),
    ).select(list(QUARANTINE_SCHEMA))


def issues_to_frames(
    path: Path, text: pl.DataFrame, settings: ExportSettings, *, timezone: str | None = None
) -> tuple[list[MappedFrame], list[str]]:
    """Route issue rows (Jira CSV headers) to changes and incidents, and explode their links."""
    text = prepare_csv(text)
    warnings: list[str] = []
    key_col = "Issue key" if "Issue key" in text.columns else None
    if key_col is None:
        raise ReadError(
            f"{path}: no 'Issue key' column (expected a Jira issue export; headers: {', '.join(text.columns[:8])})"
        )
    projects = issue_projects(text, key_col)
    change_m = _mapping("change", CHANGE_COLUMNS, settings, timezone=timezone)
    incident_m = _mapping("incident", INCIDENT_COLUMNS, settings, timezone=timezone)
    # Locale month names in every date column the mappings read.
    date_cols = set()
    for m in (change_m, incident_m):
        for canonical, src in m.resolve_columns(text.columns).items():
            if m.target.columns.get(canonical) == TS:
                date_cols.add(src)
    text = text.with_columns(
        english_months(pl.col(c)).alias(c) for c in sorted(date_cols) if has_locale_months(text[c])
    )

    forced = (settings.table or "").lower()
    type_col = next((c for c in ("Issue Type", "Issue type", "issuetype") if c in text.columns), None)
    change_types = _setting_list(settings, "change_issue_types", CHANGE_TYPES)
    incident_types = _setting_list(settings, "incident_issue_types", INCIDENT_TYPES)
    if forced in ("change", "change_request"):
        route = pl.lit("change")
    elif forced == "incident":
        route = pl.lit("incident")
    elif type_col is None:
        route = pl.lit("change")
        warnings.append("no 'Issue Type' column: every issue read as a change")
    else:
        t = pl.col(type_col).str.strip_chars().str.to_lowercase()
        route = (
            pl.when(t.is_in(list(change_types)))
            .then(pl.lit("change"))
            .when(t.is_in(list(incident_types)))
            .then(pl.lit("incident"))
        )
    routed = text.with_columns(route.alias("_route"))
    changes_text = routed.filter(pl.col("_route") == "change").drop("_route")
    incidents_text = routed.filter(pl.col("_route") == "incident").drop("_route")
    others = routed.filter(pl.col("_route").is_null()).drop("_route")

    changes = apply_mapping(changes_text, change_m, file_label=str(path))
    incidents = apply_mapping(incidents_text, incident_m, file_label=str(path))
    if changes.frame.height:
        changes.frame = _qualified(changes.frame, projects, "release_ref")
    if others.height and type_col:
        reason = pl.format(
            "column {}: issue type '{}' is neither a change type ({}) nor an incident type ({}); set "
            "change_issue_types / incident_issue_types in _export.toml",
            pl.lit(type_col),
            pl.col(type_col).fill_null(""),
            pl.lit(", ".join(sorted(change_types))),
            pl.lit(", ".join(sorted(incident_types))),
        )
        changes.quarantine = pl.concat([changes.quarantine, _quarantine_rows(others, reason)])
        warnings.append(f"{others.height:,} issue(s) of other types quarantined (see the quarantine reasons)")

    cols = list(text.columns)
    fix = _group(cols, MULTI["fix_versions"])
    affects = _group(cols, MULTI["affects_versions"])
    services = _group(cols, MULTI["affected_services"])
    frames = [changes, incidents]

    # Changes: fix versions -> release_change; affected services -> change_ci (impacted).
    rc = _qualified(
        _with_updated(_explode(changes_text, fix, key_col, "release_ref"), changes), projects, "release_ref"
    )
    frames.append(
        typed_frame(
            "release_change",
            rc.select(
                "_source_row",
                pl.lit(SYSTEM).alias("source_system"),
                "release_ref",
                pl.col(key_col).alias("change_ref"),
                "updated_at",
            ),
        )
    )
    ci = _with_updated(_explode(changes_text, services, key_col, "ci_ref"), changes)
    frames.append(
        typed_frame(
            "change_ci",
            ci.select(
                "_source_row",
                pl.lit(SYSTEM).alias("source_system"),
                pl.col(key_col).alias("change_ref"),
                "ci_ref",
                pl.lit("impacted").alias("role"),
                "updated_at",
            ),
        )
    )
    # Incident links.
    links: list[pl.DataFrame] = []

    def add_links(
        src: pl.DataFrame,
        mapped: MappedFrame,
        columns: list[str],
        kind: str,
        target_type: str,
        *,
        incident_is_row: bool,
    ) -> None:
        ex = _with_updated(_explode(src, columns, key_col, "_other"), mapped)
        if ex.height == 0:
            return
        if target_type == "release":
            ex = _qualified(ex, projects, "_other")
        incident_ref = pl.col(key_col) if incident_is_row else pl.col("_other")
        target_ref = pl.col("_other") if incident_is_row else pl.col(key_col)
        links.append(
            ex.select(
                "_source_row",
                pl.lit(SYSTEM).alias("source_system"),
                incident_ref.alias("incident_ref"),
                pl.lit(target_type).alias("target_type"),
                target_ref.alias("target_ref"),
                pl.lit(kind).alias("kind"),
                "updated_at",
            )
        )

    inward_caused = [c for c in cols if re.match(r"(?i)^inward issue link \(.*caus.*\)", c)]
    inward_fixed = [c for c in cols if re.match(r"(?i)^inward issue link \(.*fix.*\)", c)]
    outward_causes = [c for c in cols if re.match(r"(?i)^outward issue link \(.*caus.*\)", c)]
    add_links(incidents_text, incidents, inward_caused, "caused_by", "change", incident_is_row=True)
    add_links(incidents_text, incidents, inward_fixed, "fixed_by", "change", incident_is_row=True)
    add_links(changes_text, changes, outward_causes, "caused_by", "change", incident_is_row=False)
    add_links(incidents_text, incidents, fix, "fixed_by", "release", incident_is_row=True)
    add_links(incidents_text, incidents, affects[:1], "caused_by", "release", incident_is_row=True)
    if links:
        all_links = pl.concat(links, how="vertical_relaxed")
        n = all_links.height
        all_links = all_links.unique(
            subset=["incident_ref", "target_ref", "kind"], keep="first", maintain_order=True
        )
        if all_links.height < n:
            warnings.append(f"{n - all_links.height} issue link(s) seen from both ends counted once")
        frames.append(typed_frame("incident_link", all_links))
    # The first caused-by change on the incident row itself.
    if inward_caused and incidents.frame.height:
        first_cause = incidents_text.select(
            pl.col("_source_row").cast(pl.Int64),
            pl.coalesce([pl.col(c) for c in inward_caused]).alias("_cause"),
        )
        incidents.frame = (
            incidents.frame.join(first_cause, on="_source_row", how="left")
            .with_columns(pl.coalesce(["caused_by_change_ref", "_cause"]).alias("caused_by_change_ref"))
            .drop("_cause")
        )
    return [f for f in frames if f.frame.height or f.quarantine.height] or [changes], warnings


def read_csv(path: Path, settings: ExportSettings) -> Reading:
    """A Jira CSV export (or the Apache version / ticket list CSVs)."""
    text = read_csv_text(
        path, encoding=settings.encoding, delimiter=settings.delimiter, null_values=_nulls(settings)
    )
    lower = {h.strip().lower() for h in text.frame.columns}
    if {"version id", "version name"} <= lower:
        return Reading(
            SYSTEM,
            "versions",
            [_version_list(path, text.frame, settings)],
            text.warnings,
            "Jira version list CSV (Version ID, Version Name)",
        )
    if "key" in lower and {"fixed version", "affected version list"} & lower and "issue key" not in lower:
        frames = _ticket_list(path, text.frame)
        return Reading(
            SYSTEM,
            "tickets",
            frames,
            text.warnings,
            "Jira ticket list CSV (Key, Fixed Version, Affected Version List)",
        )
    frames, warnings = issues_to_frames(path, text.frame, settings)
    return Reading(SYSTEM, "issues", frames, [*text.warnings, *warnings], "Jira issue CSV headers")


def _project_of(path: Path) -> str:
    stem = path.name.split(".")[0]
    return re.split(r"_|VersionInfo|releaseList|ticketList", stem)[0] or stem


def _declared_project(settings: ExportSettings) -> str | None:
    value = settings.extra.get("project") or settings.extra.get("product")
    return str(value).strip() if value else None


def _version_list(path: Path, frame: pl.DataFrame, settings: ExportSettings) -> MappedFrame:
    frame = frame.rename({c: c.strip() for c in frame.columns})
    project = _declared_project(settings) or _project_of(path)
    frame = frame.with_columns(release_key(pl.lit(project), pl.col("Version Name")).alias("_release_key"))
    mapping = TableMapping(
        entity="release",
        columns={
            "source_id": ("Version ID",),
            "number": ("_release_key",),
            "name": ("Version Name",),
            "version": ("Version Name",),
            "released_at": ("Date",),
        },
        constants={"source_system": SYSTEM, "product": project, "is_released_raw": "true"},
        date_formats=("%Y-%m-%dT%H:%M", *DATE_FORMATS),
        timezone=settings.timezone or "UTC",
    )
    return apply_mapping(frame, mapping, file_label=str(path))


def _ticket_list(path: Path, frame: pl.DataFrame) -> list[MappedFrame]:
    frame = frame.rename({c: c.strip() for c in frame.columns})
    projects = issue_projects(frame, "Key")
    mapping = TableMapping(
        entity="incident",
        columns={"source_id": ("Key",), "number": ("Key",)},
        constants={"source_system": SYSTEM, "category": "Bug"},
    )
    incidents = apply_mapping(frame, mapping, file_label=str(path))
    ok = (
        frame.join(incidents.frame.select(pl.col("_source_row")), on="_source_row", how="semi")
        if incidents.frame.height
        else frame.head(0)
    )
    parts = []
    if "Fixed Version" in ok.columns:
        parts.append(
            ok.select(
                "_source_row",
                pl.col("Key").alias("incident_ref"),
                pl.col("Fixed Version").alias("target_ref"),
                pl.lit("fixed_by").alias("kind"),
            )
        )
    if "Affected Version List" in ok.columns:
        first = pl.col("Affected Version List").str.strip_chars().str.split(" ").list.first()
        parts.append(
            ok.select(
                "_source_row",
                pl.col("Key").alias("incident_ref"),
                first.alias("target_ref"),
                pl.lit("caused_by").alias("kind"),
            )
        )
    frames = [incidents]
    if parts:
        links = pl.concat(parts).filter(pl.col("target_ref").is_not_null() & (pl.col("target_ref") != ""))
        links = _qualified(links.with_columns(pl.col("_source_row").cast(pl.Int64)), projects, "target_ref")
        links = links.with_columns(
            pl.lit(SYSTEM).alias("source_system"), pl.lit("release").alias("target_type")
        )
        frames.append(typed_frame("incident_link", links.with_columns(pl.col("_source_row").cast(pl.Int64))))
    return frames


# ------------------------------------------------------------------------------------------ REST JSON


def _name(value: Any) -> Any:
    """The display text of a Jira field value: option ``value``, user ``displayName``, object ``name``."""
    if isinstance(value, dict):
        for k in ("value", "displayName", "name", "key"):
            if k in value:
                return value[k]
        return json.dumps(value)
    if isinstance(value, list):
        return [_name(v) for v in value]
    return value


STANDARD_FIELDS = {
    "summary": "Summary",
    "description": "Description",
    "issuetype": "Issue Type",
    "status": "Status",
    "resolution": "Resolution",
    "priority": "Priority",
    "assignee": "Assignee",
    "reporter": "Reporter",
    "created": "Created",
    "updated": "Updated",
    "resolutiondate": "Resolved",
    "fixVersions": "Fix versions",
    "versions": "Affects versions",
}
TIMESTAMP_FIELDS = {"created", "updated", "resolutiondate"}


def issue_to_row(issue: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """One REST issue as a row with the CSV export's headers (multi-valued fields as X, X#2...)."""
    row: dict[str, Any] = {"Issue id": issue.get("id"), "Issue key": issue.get("key")}
    fields = issue.get("fields") or {}
    project = fields.get("project")
    if isinstance(project, dict) and project.get("key"):
        row["Project key"] = project["key"]
    for fid, value in fields.items():
        if fid in STANDARD_FIELDS:
            header = STANDARD_FIELDS[fid]
        elif fid in names:
            header = f"Custom field ({names[fid]})"
        else:
            continue
        if fid in TIMESTAMP_FIELDS or (
            fid.startswith("customfield_")
            and isinstance(value, str)
            and re.match(r"^\d{4}-\d\d-\d\dT", value)
        ):
            value = iso_utc(value)
        value = _name(value)
        if isinstance(value, list):
            for i, v in enumerate(value):
                row[header if i == 0 else f"{header}#{i + 1}"] = v
        else:
            row[header] = value
    return row


def _history(issue: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for h in (issue.get("changelog") or {}).get("histories") or []:
        for item in h.get("items") or []:
            if item.get("field") == "status":
                out.append(
                    {
                        "record_ref": issue.get("key"),
                        "from_state": item.get("fromString"),
                        "to_state": item.get("toString"),
                        "changed_by": _name(h.get("author")) if h.get("author") else None,
                        "changed_at": iso_utc(h.get("created")),
                    }
                )
    return sorted(out, key=lambda r: r["changed_at"] or "")


def _issue_links(issue: dict[str, Any], is_incident: bool) -> list[dict[str, Any]]:
    out = []
    for link in (issue.get("fields") or {}).get("issuelinks") or []:
        t = link.get("type") or {}
        if "inwardIssue" in link:
            other, description = link["inwardIssue"], t.get("inward", "")
        elif "outwardIssue" in link:
            other, description = link["outwardIssue"], t.get("outward", "")
        else:
            continue
        d = (description or t.get("name", "")).lower()
        key = other.get("key")
        if is_incident and "caused by" in d:
            out.append({"incident_ref": issue.get("key"), "target_ref": key, "kind": "caused_by"})
        elif is_incident and ("fixed by" in d or "resolved by" in d):
            out.append({"incident_ref": issue.get("key"), "target_ref": key, "kind": "fixed_by"})
        elif not is_incident and d.startswith("causes"):
            out.append({"incident_ref": key, "target_ref": issue.get("key"), "kind": "caused_by"})
    return out


def read_json(path: Path, settings: ExportSettings) -> Reading:
    """Jira REST JSON: search results with issues (and changelog), or project versions."""
    data = load_json_document(path)
    if isinstance(data, dict) and isinstance(data.get("issues"), list):
        return _read_issues(path, data, settings)
    versions = data.get("values") if isinstance(data, dict) else data
    if isinstance(versions, list) and all(
        isinstance(v, dict) and "name" in v and "id" in v for v in versions
    ):
        frame, warnings = _versions(path, versions, settings)
        return Reading(SYSTEM, "versions", [frame], warnings, "Jira project versions JSON")
    raise ReadError(
        f'{path}: not a Jira REST export (expected {{"issues": [...]}} search results or a list of project versions)'
    )


def _versions(
    path: Path, versions: list[dict[str, Any]], settings: ExportSettings
) -> tuple[MappedFrame, list[str]]:
    declared = _declared_project(settings)
    warnings = []
    if declared is None and versions:
        ids = sorted({str(v.get("projectId")) for v in versions if v.get("projectId") is not None})
        warnings.append(
            "project versions JSON names its project by id only "
            f"({', '.join(ids) or 'none'}): releases keyed <projectId>@<name>; issues name versions "
            'by project key, so set project = "KEY" in _export.toml for their fix versions to resolve'
        )

    def project_of(v: dict[str, Any]) -> Any:
        return declared or v.get("projectId")

    rows = [
        {
            "source_id": v.get("id"),
            "number": f"{project_of(v)}@{v.get('name')}" if project_of(v) is not None else v.get("name"),
            "name": v.get("name"),
            "version": v.get("name"),
            "product": project_of(v),
            "is_released_raw": v.get("released"),
            "state_raw": "archived"
            if v.get("archived")
            else ("released" if v.get("released") else "unreleased"),
            "planned_start_at": v.get("startDate"),
            "planned_end_at": None if v.get("released") else v.get("releaseDate"),
            "released_at": v.get("releaseDate") if v.get("released") else None,
        }
        for v in versions
    ]
    mapping = replace(_identity("release"), date_formats=("%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"))
    return apply_mapping(text_frame(rows), mapping, file_label=str(path)), warnings


def _identity(entity: str) -> TableMapping:
    return identity_mapping(entity, constants={"source_system": SYSTEM})


def _read_issues(path: Path, data: dict[str, Any], settings: ExportSettings) -> Reading:
    names = {
        **(data.get("names") or {}),
        **{str(k): str(v) for k, v in (settings.extra.get("custom_fields") or {}).items()},
    }  # type: ignore[union-attr]
    issues = [i for i in data["issues"] if isinstance(i, dict)]
    for n, issue in enumerate(issues, start=1):
        for field in ("id", "key"):
            scalar_text(path, f"issue {n}'s {field!r}", issue.get(field))
    rows = [issue_to_row(i, names) for i in issues]
    if not rows:
        return Reading(
            SYSTEM,
            "issues",
            [empty_mapped("change")],
            ["no issues in the search result"],
            "Jira REST search JSON",
        )
    text = text_frame(rows)
    frames, warnings = issues_to_frames(path, text, settings, timezone="UTC")
    incident_types = _setting_list(settings, "incident_issue_types", INCIDENT_TYPES)
    approved = {s.lower() for s in _setting_list(settings, "approved_statuses", APPROVED_STATUSES)}
    implementing = {
        s.lower() for s in _setting_list(settings, "implementing_statuses", IMPLEMENTING_STATUSES)
    }
    history_rows: list[dict[str, Any]] = []
    link_rows: list[dict[str, Any]] = []
    times: list[dict[str, Any]] = []
    for n, issue in enumerate(issues, start=1):
        itype = str(_name((issue.get("fields") or {}).get("issuetype")) or "").lower()
        is_incident = itype in incident_types
        hist = _history(issue)
        for h in hist:
            history_rows.append(
                {"_source_row": n, "record_type": "incident" if is_incident else "change", **h}
            )
        for link in _issue_links(issue, is_incident):
            link_rows.append({"_source_row": n, "target_type": "change", **link})
        if not is_incident and hist:
            times.append({"_source_row": n, **_milestones(hist, approved, implementing)})
    if history_rows:
        hf = pl.DataFrame(history_rows).with_columns(
            pl.lit(SYSTEM).alias("source_system"),
            pl.col("_source_row").cast(pl.Int64),
            pl.col("changed_at").str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False),
        )
        frames.append(typed_frame("state_history", hf))
    if link_rows:
        lf = pl.DataFrame(link_rows).with_columns(
            pl.lit(SYSTEM).alias("source_system"), pl.col("_source_row").cast(pl.Int64)
        )
        frames = _merge_links(frames, lf)
    if times:
        frames = _apply_milestones(frames, pl.DataFrame(times))
    return Reading(SYSTEM, "issues", frames, warnings, "Jira REST search JSON (issues)")


def _milestones(
    hist: list[dict[str, Any]], approved: set[str], implementing: set[str]
) -> dict[str, str | None]:
    approved_at = start = end = None
    for h in hist:
        to = (h["to_state"] or "").lower()
        frm = (h["from_state"] or "").lower()
        if approved_at is None and (
            to in approved
            or ("approv" in frm and to not in ("declined", "rejected", "canceled", "cancelled"))
        ):
            approved_at = h["changed_at"]
        if start is None and to in implementing:
            start = h["changed_at"]
        if start is not None and end is None and frm in implementing and to not in implementing:
            end = h["changed_at"]
    return {"approved_at_h": approved_at, "actual_start_at_h": start, "actual_end_at_h": end}


def _apply_milestones(frames: list[MappedFrame], times: pl.DataFrame) -> list[MappedFrame]:
    times = times.with_columns(
        pl.col("_source_row").cast(pl.Int64),
        *(
            pl.col(c).cast(pl.String).str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False)
            for c in ("approved_at_h", "actual_start_at_h", "actual_end_at_h")
        ),
    )
    for f in frames:
        if f.entity == "change" and f.frame.height:
            f.frame = (
                f.frame.join(times, on="_source_row", how="left")
                .with_columns(
                    pl.coalesce(["approved_at", "approved_at_h"]).alias("approved_at"),
                    pl.coalesce(["actual_start_at", "actual_start_at_h"]).alias("actual_start_at"),
                    pl.coalesce(["actual_end_at", "actual_end_at_h"]).alias("actual_end_at"),
                )
                .drop("approved_at_h", "actual_start_at_h", "actual_end_at_h")
            )
    return frames


def _merge_links(frames: list[MappedFrame], links: pl.DataFrame) -> list[MappedFrame]:
    updated = (
        pl.concat(
            [
                f.frame.select("_source_row", "updated_at")
                for f in frames
                if f.entity in ("change", "incident") and f.frame.height
            ],
            how="vertical_relaxed",
        )
        if any(f.entity in ("change", "incident") and f.frame.height for f in frames)
        else pl.DataFrame(schema={"_source_row": pl.Int64, "updated_at": pl.Datetime("us")})
    )
    links = links.join(updated.unique("_source_row"), on="_source_row", how="left")
    existing = [f for f in frames if f.entity == "incident_link"]
    rest = [f for f in frames if f.entity != "incident_link"]
    base = links
    if existing:
        base = pl.concat(
            [existing[0].frame.select(links.columns), links.select(links.columns)], how="vertical_relaxed"
        )
    base = base.unique(subset=["incident_ref", "target_ref", "kind"], keep="first", maintain_order=True)
    return [*rest, typed_frame("incident_link", base)]


def recognise(sample: Sample) -> Recognised | None:
    """Jira issue / version / ticket-list CSVs, REST search JSON and project versions JSON."""
    if sample.kind == "csv":
        if {"issue key", "summary"} <= sample.headers:
            return Recognised("Jira CSV headers (Issue key, Summary)")
        if {"version id", "version name"} <= sample.headers or {"key", "fixed version"} <= sample.headers:
            return Recognised("Jira version / ticket list headers")
    if sample.kind == "json" and sample.json is not None:
        keys = set(sample.json.first_keys)
        if sample.json.container == "issues" or {"key", "fields"} <= keys:
            return Recognised('Jira REST search JSON ({"issues": [...]})')
        if {"id", "name"} <= keys and keys & {"released", "releaseDate", "archived", "projectId"}:
            return Recognised("Jira project versions JSON")
    return None


SOURCE = Source(system=SYSTEM, readers={"csv": read_csv, "json": read_json}, recognise=recognise)


__all__ = ["SOURCE", "SYSTEM", "issues_to_frames", "read_csv", "read_json"]
