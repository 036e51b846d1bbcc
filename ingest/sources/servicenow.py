"""ServiceNow exports: change_request, change_task, rm_release (+ rm_m2m_release_task), cmdb_ci and
subclasses, cmdb_rel_ci, task_ci, incident, problem.

Each table is a :class:`~ingest.mapping.TableMapping`: the field name first, then the label (label
headers in XLSX or label-header CSV), then dot-walk variants. Display values are kept raw and mapped
in dbt seeds; date/times are converted from the export's declared time zone to UTC.
"""

from __future__ import annotations

from changeboard.ingest.mapping import TableMapping

SYSTEM = "servicenow"
DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%m-%d-%Y %H:%M:%S",
    "%d/%m/%Y %H:%M:%S",
    "%d.%m.%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%m/%d/%Y %H:%M",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
)
NULLS = ("NULL", "null", "UNKNOWN")
# The ServiceNow default export cap: a file with exactly this many rows was probably cut.
EXPORT_CAP = 10_000


def _m(
    entity: str, columns: dict[str, tuple[str, ...]], identity: tuple[str, ...], **constants: str
) -> TableMapping:
    return TableMapping(
        entity=entity,
        columns=columns,
        constants={"source_system": SYSTEM, **constants},
        date_formats=DATE_FORMATS,
        null_values=NULLS,
        identity=identity,
    )


TABLES: dict[str, TableMapping] = {
    "change_request": _m(
        "change",
        {
            "source_id": ("sys_id", "Sys ID", "number", "Number"),
            "number": ("number", "Number"),
            "title": ("short_description", "Short description"),
            "description": ("description", "Description"),
            "change_type_raw": ("type", "Type"),
            "state_raw": ("state", "State"),
            "close_code_raw": ("close_code", "Close code", "u_substate"),
            "risk_raw": ("risk", "Risk"),
            "impact_raw": ("impact", "Impact"),
            "priority_raw": ("priority", "Priority"),
            "approval_raw": ("approval", "Approval"),
            "category": ("category", "Category"),
            "requested_by": ("requested_by", "Requested by"),
            "assignment_group": ("assignment_group", "Assignment group"),
            "assigned_to": ("assigned_to", "Assigned to"),
            "primary_ci_ref": ("cmdb_ci", "Configuration item", "cmdb_ci.name"),
            "service_ref": ("business_service", "Service", "business_service.name"),
            "model_raw": ("chg_model", "Model"),
            "unauthorized_raw": ("unauthorized", "Unauthorized"),
            "cab_required_raw": ("cab_required", "CAB required"),
            "justification": ("justification", "Justification"),
            "implementation_plan": ("implementation_plan", "Implementation plan"),
            "backout_plan": ("backout_plan", "Backout plan"),
            "test_plan": ("test_plan", "Test plan"),
            "planned_start_at": ("start_date", "Planned start date"),
            "planned_end_at": ("end_date", "Planned end date"),
            "actual_start_at": ("work_start", "Actual start"),
            "actual_end_at": ("work_end", "Actual end"),
            "opened_at": ("opened_at", "Opened"),
            "approved_at": ("approval_set", "Approval set"),
            "closed_at": ("closed_at", "Closed"),
            "created_at": ("sys_created_on", "Created"),
            "updated_at": ("sys_updated_on", "Updated"),
        },
        identity=(),
        origin="itsm",
    ),
    "change_task": _m(
        "change_task",
        {
            "source_id": ("sys_id", "Sys ID", "number", "Number"),
            "number": ("number", "Number"),
            "change_ref": ("change_request", "Change request", "change_request.number"),
            "task_type_raw": ("change_task_type", "Type"),
            "state_raw": ("state", "State"),
            "close_code_raw": ("close_code", "Close code"),
            "title": ("short_description", "Short description"),
            "assignment_group": ("assignment_group", "Assignment group"),
            "ci_ref": ("cmdb_ci", "Configuration item"),
            "planned_start_at": ("planned_start_date", "Planned start date"),
            "planned_end_at": ("planned_end_date", "Planned end date"),
            "actual_start_at": ("work_start", "Actual start"),
            "actual_end_at": ("work_end", "Actual end"),
            "created_at": ("sys_created_on", "Created"),
            "updated_at": ("sys_updated_on", "Updated"),
        },
        identity=(),
    ),
    "rm_release": _m(
        "release",
        {
            "source_id": ("sys_id", "Sys ID", "number", "Number"),
            "number": ("number", "Number"),
            "name": ("short_description", "Short description"),
            "state_raw": ("state", "State"),
            "release_type_raw": ("release_type", "Release type"),
            "product": ("product", "Product"),
            "is_released_raw": ("state", "State"),
            "planned_start_at": ("start_date", "Planned start date"),
            "planned_end_at": ("end_date", "Planned end date"),
            "actual_start_at": ("work_start", "Actual start"),
            "released_at": ("work_end", "Actual end"),
            "created_at": ("sys_created_on", "Created"),
            "updated_at": ("sys_updated_on", "Updated"),
        },
        identity=(),
    ),
    "rm_m2m_release_task": _m(
        "release_change",
        {
            "release_ref": ("release", "Release", "release.number"),
            "change_ref": ("task", "Task", "task.number"),
            "updated_at": ("sys_updated_on", "Updated"),
        },
        identity=("release", "task"),
    ),
    "cmdb_ci": _m(
        "configuration_item",
        {
            "source_id": ("sys_id", "Sys ID", "name", "Name"),
            "name": ("name", "Name"),
            "ci_class_raw": ("sys_class_name", "Class"),
            "operational_status_raw": ("operational_status", "Operational status"),
            "install_status_raw": ("install_status", "Install Status", "Status"),
            "environment": ("environment", "Environment"),
            "criticality_raw": ("busines_criticality", "Business criticality", "u_criticality"),
            "support_group": ("support_group", "Support group"),
            "owned_by": ("owned_by", "Owned by"),
            "created_at": ("sys_created_on", "Created"),
            "updated_at": ("sys_updated_on", "Updated"),
        },
        identity=("name",),
    ),
    "cmdb_rel_ci": _m(
        "ci_relationship",
        {
            "source_id": ("sys_id", "Sys ID"),
            "parent_ref": ("parent", "Parent", "parent.name"),
            "child_ref": ("child", "Child", "child.name"),
            "rel_type": ("type", "Type", "type.name"),
            "updated_at": ("sys_updated_on", "Updated"),
        },
        identity=("parent", "child"),
    ),
    "task_ci": _m(
        "change_ci",
        {
            "change_ref": ("task", "Task", "task.number"),
            "ci_ref": ("ci_item", "Configuration Item", "ci_item.name"),
            "updated_at": ("sys_updated_on", "Updated"),
        },
        identity=("task", "ci_item"),
        role="affected",
    ),
    "incident": _m(
        "incident",
        {
            "source_id": ("sys_id", "Sys ID", "number", "Number"),
            "number": ("number", "Number"),
            "title": ("short_description", "Short description"),
            "priority_raw": ("priority", "Priority"),
            "impact_raw": ("impact", "Impact"),
            "urgency_raw": ("urgency", "Urgency"),
            "state_raw": ("state", "incident_state", "State", "Incident state"),
            "close_code_raw": ("close_code", "Resolution code", "Close code", "closed_code"),
            "category": ("category", "Category"),
            "assignment_group": ("assignment_group", "Assignment group"),
            "ci_ref": ("cmdb_ci", "Configuration item"),
            "service_ref": ("business_service", "Service"),
            "caused_by_change_ref": ("caused_by", "Caused by Change"),
            "fixed_by_change_ref": ("rfc", "Change Request"),
            "problem_ref": ("problem_id", "Problem"),
            "opened_at": ("opened_at", "Opened"),
            "resolved_at": ("resolved_at", "Resolved"),
            "closed_at": ("closed_at", "Closed"),
            "created_at": ("sys_created_on", "sys_created_at", "Created"),
            "updated_at": ("sys_updated_on", "sys_updated_at", "Updated"),
        },
        identity=(),
    ),
    "problem": _m(
        "problem",
        {
            "source_id": ("sys_id", "Sys ID", "number", "Number"),
            "number": ("number", "Number"),
            "title": ("short_description", "Short description"),
            "state_raw": ("problem_state", "state", "State"),
            "fixed_by_change_ref": ("rfc", "Change request"),
            "opened_at": ("opened_at", "Opened"),
            "resolved_at": ("resolved_at", "Resolved"),
            "updated_at": ("sys_updated_on", "Updated"),
        },
        identity=(),
    ),
}

# The number prefix of each numbered table, for detection from content.
NUMBER_PREFIXES = {
    "CHG": "change_request",
    "CTASK": "change_task",
    "RLSE": "rm_release",
    "INC": "incident",
    "PRB": "problem",
}
# Headers that only one table has.
SIGNATURES: dict[str, tuple[str, ...]] = {
    "change_request": (
        "chg_model",
        "start_date",
        "cab_required",
        "backout_plan",
        "Planned start date",
        "Backout plan",
    ),
    "change_task": ("change_task_type", "change_request", "Change request"),
    "rm_release": ("release_type", "Release type"),
    "rm_m2m_release_task": ("release",),
    "cmdb_ci": ("sys_class_name", "install_status", "operational_status", "Class"),
    "cmdb_rel_ci": ("parent", "child"),
    "task_ci": ("ci_item",),
    "incident": ("caused_by", "rfc", "incident_state", "Caused by Change", "caller_id"),
    "problem": ("problem_state", "known_error"),
}


def detect_table(file_stem: str, headers: list[str], first_number: str | None) -> str | None:
    """Which ServiceNow table an export holds: by file name, then number prefix, then header vocabulary."""
    stem = file_stem.lower()
    for table in sorted(TABLES, key=len, reverse=True):
        if (
            stem == table
            or stem.startswith(table + "_")
            or stem.startswith(table + "-")
            or stem.startswith(table + ".")
        ):
            return table
    if first_number:
        for prefix in sorted(NUMBER_PREFIXES, key=len, reverse=True):
            if (
                first_number.upper().startswith(prefix)
                and first_number[len(prefix) : len(prefix) + 1].isdigit()
            ):
                return NUMBER_PREFIXES[prefix]
    lower = {h.lower() for h in headers}
    best, best_hits = None, 0
    for table, sig in SIGNATURES.items():
        hits = sum(1 for s in sig if s.lower() in lower)
        if hits > best_hits:
            best, best_hits = table, hits
    return best
