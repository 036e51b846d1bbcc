"""The canonical raw model: every entity, its key and its columns, declared once.

Every connector maps its exports onto these tables in the ingest database (schema ``raw``).
dbt reads them as sources (``dbt/models/staging/canonical/_canonical__sources.yml`` is checked
against this module by ``tests/dbt/test_sources_match_canonical.py``, the staging models'
accepted values by ``tests/ingest/test_accepted_values.py``).

Conventions:
- ``source_system`` + ``source_id`` is the natural key of every record entity.
- Enumerated values keep the source's raw text in ``*_raw``; the normalised value (``change_type``,
  ``outcome``...) is filled by a connector only when the export itself says it unambiguously
  (a mapping file's value map); otherwise dbt derives it from the raw value through seeds.
- Every timestamp is ``TIMESTAMP`` in UTC: connectors convert from the time zone the source
  declares for its display values.
- References to other records are kept as the source shows them (``*_ref``: a sys_id, a number or
  a display name); dbt resolves them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TS = "TIMESTAMP"
TXT = "VARCHAR"
INT = "BIGINT"
DBL = "DOUBLE"
BOOL = "BOOLEAN"

# Columns every canonical row carries, appended by the loader.
META_COLUMNS: dict[str, str] = {
    "_ingest_run_id": INT,
    "_source_file": TXT,
    "_source_row": INT,
    "_row_hash": TXT,
    "_loaded_at": TS,
}


@dataclass(frozen=True)
class Entity:
    """One canonical entity: its table name, natural key and typed columns."""

    name: str
    key: tuple[str, ...]
    columns: dict[str, str]
    description: str
    required: tuple[str, ...] = ()
    # The column that orders versions of one record (latest wins); None: content replaces.
    version_column: str | None = "updated_at"
    column_docs: dict[str, str] = field(default_factory=dict)

    @property
    def table(self) -> str:
        """The qualified raw table name in the ingest database."""
        return f"raw.{self.name}"

    def all_columns(self) -> dict[str, str]:
        """Data columns followed by the loader's metadata columns."""
        return {**self.columns, **META_COLUMNS}


def _cols(*pairs: tuple[str, str]) -> dict[str, str]:
    return dict(pairs)


_RECORD = (("source_system", TXT), ("source_id", TXT))

CHANGE = Entity(
    name="change",
    key=("source_system", "source_id"),
    required=("source_system", "source_id", "number"),
    description="One change request (ServiceNow change_request, a Jira change issue, a form request).",
    columns=_cols(
        *_RECORD,
        ("number", TXT),
        ("title", TXT),
        ("description", TXT),
        ("change_type_raw", TXT),
        ("change_type", TXT),
        ("state_raw", TXT),
        ("close_code_raw", TXT),
        ("outcome", TXT),
        ("risk_raw", TXT),
        ("risk", TXT),
        ("impact_raw", TXT),
        ("priority_raw", TXT),
        ("approval_raw", TXT),
        ("category", TXT),
        ("requested_by", TXT),
        ("assignment_group", TXT),
        ("assigned_to", TXT),
        ("primary_ci_ref", TXT),
        ("service_ref", TXT),
        ("release_ref", TXT),
        ("model_raw", TXT),
        ("unauthorized_raw", TXT),
        ("cab_required_raw", TXT),
        ("justification", TXT),
        ("implementation_plan", TXT),
        ("backout_plan", TXT),
        ("test_plan", TXT),
        ("origin", TXT),
        ("planned_start_at", TS),
        ("planned_end_at", TS),
        ("actual_start_at", TS),
        ("actual_end_at", TS),
        ("opened_at", TS),
        ("approved_at", TS),
        ("closed_at", TS),
        ("created_at", TS),
        ("updated_at", TS),
    ),
)

CHANGE_TASK = Entity(
    name="change_task",
    key=("source_system", "source_id"),
    required=("source_system", "source_id"),
    description="One task of a change (ServiceNow change_task).",
    columns=_cols(
        *_RECORD,
        ("number", TXT),
        ("change_ref", TXT),
        ("task_type_raw", TXT),
        ("state_raw", TXT),
        ("close_code_raw", TXT),
        ("title", TXT),
        ("assignment_group", TXT),
        ("ci_ref", TXT),
        ("planned_start_at", TS),
        ("planned_end_at", TS),
        ("actual_start_at", TS),
        ("actual_end_at", TS),
        ("created_at", TS),
        ("updated_at", TS),
    ),
)

CHANGE_CI = Entity(
    name="change_ci",
    key=("source_system", "change_ref", "ci_ref", "role"),
    required=("source_system", "change_ref", "ci_ref", "role"),
    version_column=None,
    description="A change touching a CI, with its role: primary, affected or impacted.",
    columns=_cols(
        ("source_system", TXT),
        ("change_ref", TXT),
        ("ci_ref", TXT),
        ("role", TXT),
        ("updated_at", TS),
    ),
)

RELEASE = Entity(
    name="release",
    key=("source_system", "source_id"),
    required=("source_system", "source_id"),
    description="One release (ServiceNow rm_release, a Jira version, a GitHub release).",
    columns=_cols(
        *_RECORD,
        ("number", TXT),
        ("name", TXT),
        ("version", TXT),
        ("release_type_raw", TXT),
        ("state_raw", TXT),
        ("product", TXT),
        ("is_released_raw", TXT),
        ("is_prerelease_raw", TXT),
        ("planned_start_at", TS),
        ("planned_end_at", TS),
        ("actual_start_at", TS),
        ("released_at", TS),
        ("created_at", TS),
        ("updated_at", TS),
    ),
)

RELEASE_CHANGE = Entity(
    name="release_change",
    key=("source_system", "release_ref", "change_ref"),
    required=("source_system", "release_ref", "change_ref"),
    version_column=None,
    description="Membership of a change in a release (ServiceNow rm_m2m_release_task, Jira fix versions).",
    columns=_cols(
        ("source_system", TXT),
        ("release_ref", TXT),
        ("change_ref", TXT),
        ("updated_at", TS),
    ),
)

DEPLOYMENT = Entity(
    name="deployment",
    key=("source_system", "source_id"),
    required=("source_system", "source_id"),
    description="One deployment of a release or commit to an environment (delivery tools).",
    columns=_cols(
        *_RECORD,
        ("release_ref", TXT),
        ("change_ref", TXT),
        ("service_ref", TXT),
        ("environment", TXT),
        ("status_raw", TXT),
        ("commit_sha", TXT),
        ("ref", TXT),
        ("started_at", TS),
        ("finished_at", TS),
        ("updated_at", TS),
    ),
)

CONFIGURATION_ITEM = Entity(
    name="configuration_item",
    key=("source_system", "source_id"),
    required=("source_system", "source_id", "name"),
    description="One configuration item of the CMDB, of any class (services included).",
    columns=_cols(
        *_RECORD,
        ("name", TXT),
        ("ci_class_raw", TXT),
        ("operational_status_raw", TXT),
        ("install_status_raw", TXT),
        ("environment", TXT),
        ("criticality_raw", TXT),
        ("service_ref", TXT),
        ("support_group", TXT),
        ("owned_by", TXT),
        ("created_at", TS),
        ("updated_at", TS),
    ),
)

CI_RELATIONSHIP = Entity(
    name="ci_relationship",
    key=("source_system", "parent_ref", "child_ref", "rel_type"),
    required=("source_system", "parent_ref", "child_ref", "rel_type"),
    version_column=None,
    description="A CMDB relationship read as 'parent <parent_descriptor> child'.",
    columns=_cols(
        ("source_system", TXT),
        ("source_id", TXT),
        ("parent_ref", TXT),
        ("child_ref", TXT),
        ("rel_type", TXT),
        ("updated_at", TS),
    ),
)

INCIDENT = Entity(
    name="incident",
    key=("source_system", "source_id"),
    required=("source_system", "source_id", "number"),
    description="One incident (ServiceNow incident, a JSM incident).",
    columns=_cols(
        *_RECORD,
        ("number", TXT),
        ("title", TXT),
        ("priority_raw", TXT),
        ("impact_raw", TXT),
        ("urgency_raw", TXT),
        ("state_raw", TXT),
        ("close_code_raw", TXT),
        ("category", TXT),
        ("assignment_group", TXT),
        ("ci_ref", TXT),
        ("service_ref", TXT),
        ("caused_by_change_ref", TXT),
        ("fixed_by_change_ref", TXT),
        ("problem_ref", TXT),
        ("opened_at", TS),
        ("resolved_at", TS),
        ("closed_at", TS),
        ("created_at", TS),
        ("updated_at", TS),
    ),
)

INCIDENT_LINK = Entity(
    name="incident_link",
    key=("source_system", "incident_ref", "target_ref", "kind"),
    required=("source_system", "incident_ref", "target_ref", "kind"),
    version_column=None,
    description="An explicit link from an incident to a change or release: kind caused_by or fixed_by.",
    columns=_cols(
        ("source_system", TXT),
        ("incident_ref", TXT),
        ("target_type", TXT),
        ("target_ref", TXT),
        ("kind", TXT),
        ("updated_at", TS),
    ),
)

PROBLEM = Entity(
    name="problem",
    key=("source_system", "source_id"),
    required=("source_system", "source_id"),
    description="One problem record.",
    columns=_cols(
        *_RECORD,
        ("number", TXT),
        ("title", TXT),
        ("state_raw", TXT),
        ("fixed_by_change_ref", TXT),
        ("opened_at", TS),
        ("resolved_at", TS),
        ("updated_at", TS),
    ),
)

APPROVAL = Entity(
    name="approval",
    key=("source_system", "source_id"),
    required=("source_system", "source_id", "change_ref"),
    description="One approval decision on a change.",
    columns=_cols(
        *_RECORD,
        ("change_ref", TXT),
        ("approver", TXT),
        ("state_raw", TXT),
        ("comment", TXT),
        ("decided_at", TS),
        ("updated_at", TS),
    ),
)

STATE_HISTORY = Entity(
    name="state_history",
    key=("source_system", "record_type", "record_ref", "changed_at", "to_state"),
    required=("source_system", "record_type", "record_ref", "changed_at"),
    version_column=None,
    description="One state transition of a change or an incident.",
    columns=_cols(
        ("source_system", TXT),
        ("record_type", TXT),
        ("record_ref", TXT),
        ("from_state", TXT),
        ("to_state", TXT),
        ("changed_by", TXT),
        ("changed_at", TS),
    ),
)

CHANGE_WINDOW = Entity(
    name="change_window",
    key=("source_system", "source_id"),
    required=("source_system", "source_id", "kind", "start_at", "end_at"),
    description="A blackout (freeze) or maintenance window, for all CIs or for one CI / service.",
    columns=_cols(
        *_RECORD,
        ("kind", TXT),
        ("name", TXT),
        ("scope_ref", TXT),
        ("start_at", TS),
        ("end_at", TS),
        ("updated_at", TS),
    ),
)

CAB_DECISION = Entity(
    name="cab_decision",
    key=("source_system", "source_id"),
    required=("source_system", "source_id", "change_ref", "decision_raw", "decided_at"),
    description=(
        "One CAB decision recorded in changeboard on an agenda item (a form request or an ITSM change): "
        "approved, approved with conditions, rejected or deferred, with who and when."
    ),
    columns=_cols(
        *_RECORD,
        ("change_ref", TXT),
        ("change_source_system", TXT),
        ("change_number", TXT),
        ("change_source_id", TXT),
        ("title", TXT),
        ("meeting_at", TS),
        ("decision_raw", TXT),
        ("reason", TXT),
        ("conditions", TXT),
        ("deferred_to", TS),
        ("decided_by", TXT),
        ("identity_verified", BOOL),
        ("decided_at", TS),
        ("blackout_confirmed", BOOL),
        ("risk_level", TXT),
        ("risk_score", INT),
        ("in_blackout", BOOL),
        ("blackout_window_name", TXT),
        ("collision_count", INT),
        ("updated_at", TS),
    ),
)

ENTITIES: dict[str, Entity] = {
    e.name: e
    for e in (
        CHANGE,
        CHANGE_TASK,
        CHANGE_CI,
        RELEASE,
        RELEASE_CHANGE,
        DEPLOYMENT,
        CONFIGURATION_ITEM,
        CI_RELATIONSHIP,
        INCIDENT,
        INCIDENT_LINK,
        PROBLEM,
        APPROVAL,
        STATE_HISTORY,
        CHANGE_WINDOW,
        CAB_DECISION,
    )
}


# ----------------------------------------------------------------------- accepted values, meanings
# The values a canonical column accepts, declared once. Mapping validation (``--dry-run``) checks a
# mapping's constants and value maps against them, ``changeboard mapping columns`` prints them, and
# the dbt ``accepted_values`` tests of the staging models must equal them
# (tests/ingest/test_accepted_values.py): a value a mapping may write is never one the build refuses.
ACCEPTED_VALUES: dict[str, dict[str, tuple[str, ...]]] = {
    "change": {
        "change_type": ("standard", "normal", "emergency", "other"),
        "outcome": ("successful", "successful_with_issues", "unsuccessful", "canceled", "unknown"),
        "risk": ("very_high", "high", "moderate", "low"),
        "origin": ("form", "itsm"),
    },
    "change_ci": {"role": ("primary", "affected", "impacted")},
    "incident_link": {"target_type": ("change", "release"), "kind": ("caused_by", "fixed_by")},
    "change_window": {"kind": ("blackout", "maintenance")},
}


# How the staging model reads a raw value before its accepted_values test, where that is not
# ``lower(trim(value))``: exactly as written (``exact``), spaces read as underscores, and the other
# spellings it turns into an accepted value. The ingest quarantines a row whose value reads as none
# of the accepted values (ingest.mapping.apply_mapping): the build would refuse it
# (tests/ingest/test_accepted_values.py checks these against the staging SQL).
@dataclass(frozen=True)
class ValueReading:
    """How dbt's staging model reads one column's raw values (see :data:`VALUE_READINGS`)."""

    exact: bool = False
    underscores: bool = False
    spellings: dict[str, str] = field(default_factory=dict)


VALUE_READINGS: dict[tuple[str, str], ValueReading] = {
    ("change", "origin"): ValueReading(exact=True),
    ("incident_link", "kind"): ValueReading(
        underscores=True,
        spellings={
            "is_caused_by": "caused_by",
            "caused": "caused_by",
            "is_fixed_by": "fixed_by",
            "rfc": "fixed_by",
            "fixes": "fixed_by",
        },
    ),
    ("change_window", "kind"): ValueReading(
        spellings={"freeze": "blackout", "maintenance_window": "maintenance"}
    ),
}


def value_reading(entity: str, column: str) -> ValueReading:
    """How the staging model reads a column's raw values (lower-cased and trimmed by default)."""
    return VALUE_READINGS.get((entity, column), ValueReading())


# The staging model whose accepted_values tests read each entity's columns.
STAGING_MODELS: dict[str, str] = {
    "change": "stg_canonical__changes",
    "change_ci": "stg_canonical__change_cis",
    "incident_link": "stg_canonical__incident_links",
    "change_window": "stg_canonical__change_windows",
}
# Raw values dbt recognises through a seed (anything else still loads: it becomes ``other``). A
# mapping's value map may turn an export's own labels into these.
RECOGNISED_VALUES: dict[str, dict[str, tuple[str, ...]]] = {
    "configuration_item": {
        "ci_class_raw": (
            "Business Service",
            "Service",
            "Application",
            "Server",
            "Database",
            "Load Balancer",
            "Network Gear",
        )
    },
}

# What a column means, where its name does not say it (see :func:`column_meaning`).
COLUMN_MEANINGS: dict[str, str] = {
    "source_system": "the tool the record comes from (servicenow, jira, itop...): set by [source] system",
    "source_id": "the record's id in that tool (sys_id, issue id, ref): with source_system, the record's key",
    "number": "the number people use (CHG0001234, ABC-12, C-000123)",
    "title": "short description",
    "change_type": "the normalised change type (else derived from change_type_raw by the seed)",
    "outcome": "the normalised outcome of a closed change (else derived from close_code_raw by the seed)",
    "risk": "the normalised risk (else derived from risk_raw by the seed)",
    "origin": "where the change was raised: itsm (an ITSM tool's export) or form (changeboard's form)",
    "role": "what the CI is to the change: primary, affected or impacted",
    "kind": "the link's or window's kind",
    "target_type": "what the link points to: a change or a release",
    "updated_at": "when the record last changed in the source: the latest version of a record wins",
    "ci_class_raw": "the CI's class as written (Server, Linux Server...); the seed ci_class_mapping "
    "turns the recognised labels into classes, anything else becomes 'other'",
    "service_ref": "the business service it belongs to (sys_id, number or name)",
    "unauthorized_raw": "whether the change was implemented without approval (true/false as written)",
    "cab_required_raw": "whether the change needs the CAB (true/false as written)",
}


def column_meaning(entity: str, column: str) -> str:
    """What a canonical column means (declared above, or told by its name's convention)."""
    if column in COLUMN_MEANINGS:
        return COLUMN_MEANINGS[column]
    words = column.replace("_", " ")
    if column.endswith("_raw"):
        return f"{words.removesuffix(' raw')} as the export writes it (dbt normalises it through a seed)"
    if column.endswith("_ref"):
        return f"reference to the {words.removesuffix(' ref')} record as the export shows it (id, number or name)"
    if column.endswith("_at"):
        return f"{words.removesuffix(' at')} date/time (converted to UTC)"
    return words


def accepted_values(entity: str, column: str) -> tuple[str, ...] | None:
    """The values a canonical column accepts; None when it takes any value."""
    return ACCEPTED_VALUES.get(entity, {}).get(column)


def create_table_sql(entity: Entity, *, schema: str = "raw", if_not_exists: bool = True) -> str:
    """The ``CREATE TABLE`` statement of one entity's raw table (data plus metadata columns)."""
    cols = ",\n    ".join(f'"{c}" {t}' for c, t in entity.all_columns().items())
    guard = "if not exists " if if_not_exists else ""
    return f"create table {guard}{schema}.{entity.name} (\n    {cols}\n)"


def create_raw_schema(con: object) -> None:
    """Create the ``raw`` schema and every canonical table on a DuckDB connection (idempotent)."""
    con.execute("create schema if not exists raw")  # type: ignore[attr-defined]
    for entity in ENTITIES.values():
        con.execute(create_table_sql(entity))  # type: ignore[attr-defined]
