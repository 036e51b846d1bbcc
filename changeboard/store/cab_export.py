"""CAB decisions sent back to the system of record (``changeboard cab decisions export``), so nothing is
typed twice. Each change's decision in force (its latest) is exported, optionally only those of one
meeting.

Formats:

* ``servicenow-csv``: an import-set CSV onto ``change_request``. Coalesce the transform map on
  ``u_number`` -> ``number`` (or ``u_sys_id`` -> ``sys_id`` when filled: the change's sys_id from the
  ServiceNow export it was loaded from, recorded with the decision or looked up in the published
  warehouse, :func:`with_source_ids`; left empty when the export had no sys_id column); a form
  request that was exported with ``changeboard requests export`` is found by ``u_correlation_id`` ->
  ``correlation_id`` (its reference). ``u_approval`` is ServiceNow's approval choice (approved /
  rejected; ``requested`` for a deferral, which stays awaiting); the decision, its conditions or reason, the deferral date, who and when go to ``u_cab_*`` columns and a work note.
* ``json``: ServiceNow Table API calls: one ``PATCH /api/now/table/change_request/<sys_id>`` per
  decision (when the sys_id is not known, the ``GET`` that finds it by number comes first).
* ``jira-csv``: Jira's CSV import updating existing issues: ``Issue Key`` identifies the issue (map it
  in the importer to update instead of create), ``CAB decision`` / ``CAB conditions`` ... map to
  custom fields, ``Comment`` adds the decision as a comment.

ServiceNow formats carry the decisions on ServiceNow changes and form requests; ``jira-csv`` those on
Jira issues. Decisions on changes of other systems are counted and left out (:class:`ExportResult` says
how many, the CLI prints it): never silently.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from changeboard.store import cab_decisions as cd
from changeboard.store.export import FORMULA_PREFIXES, sn_time, write_atomic

FORMATS = ("servicenow-csv", "json", "jira-csv")
SYSTEMS = {"servicenow-csv": ("servicenow", "form"), "json": ("servicenow", "form"), "jira-csv": ("jira",)}
SN_APPROVAL = {
    "approved": "approved",
    "approved_with_conditions": "approved",
    "rejected": "rejected",
    "deferred": "requested",
}

SN_COLUMNS = (
    "u_number",
    "u_sys_id",
    "u_correlation_id",
    "u_approval",
    "u_cab_decision",
    "u_cab_conditions",
    "u_cab_reason",
    "u_cab_deferred_to",
    "u_cab_date",
    "u_cab_decided_by",
    "u_cab_identity_verified",
    "u_cab_decided_at",
    "u_work_notes",
)
JIRA_COLUMNS = (
    "Issue Key",
    "Summary",
    "CAB decision",
    "CAB conditions",
    "CAB reason",
    "CAB deferred to",
    "CAB date",
    "CAB decided by",
    "CAB decided at",
    "Comment",
)


# A ServiceNow sys_id: 32 hex digits. A change loaded from an export without a sys_id column carries
# its number as its source id (the connector's fallback): never sent as a sys_id.
SYS_ID = re.compile(r"[0-9a-fA-F]{32}")


def sys_id(d: Mapping[str, object]) -> str | None:
    """The decision's change's ServiceNow sys_id, or None (a form request, or no sys_id known)."""
    if d["source_system"] == cd.FORM_SYSTEM:
        return None
    value = str(d.get("source_id") or "").strip()
    return value if SYS_ID.fullmatch(value) else None


def with_source_ids(
    decisions: Iterable[dict[str, object]], known: Mapping[str, str | None]
) -> list[dict[str, object]]:
    """The decisions, each without a source id given the one ``known`` holds for its change (the
    published warehouse's ``fct_changes.source_id``: a decision recorded before the build that loaded
    the change's export, or by an older app, did not record it)."""
    out = []
    for d in decisions:
        if not d.get("source_id") and known.get(str(d["change_id"])):
            d = {**d, "source_id": known[str(d["change_id"])]}
        out.append(d)
    return out


@dataclass(frozen=True)
class ExportResult:
    written: int
    left_out: dict[str, int]  # source system -> decisions not in this format


def work_note(d: dict[str, object]) -> str:
    """The decision in words, as a work note or a comment."""
    label = cd.LABELS[str(d["decision"])]
    text = f"CAB decision: {label}"
    if d.get("conditions"):
        text += f". Conditions: {d['conditions']}"
    if d.get("reason"):
        text += f". Reason: {d['reason']}"
    if d.get("deferred_to"):
        text += f". Back to the CAB on {d['deferred_to']}"
    meeting = f" at the CAB meeting of {sn_time(d['meeting_at'])} UTC" if d.get("meeting_at") else ""
    who = f"{d['decided_by']}" + ("" if d.get("identity_verified") else " (identity not verified)")
    return f"{text}. Decided by {who} on {sn_time(d['decided_at'])} UTC{meeting} (changeboard)."


def servicenow_rows(decisions: Iterable[dict[str, object]]) -> list[dict[str, str]]:
    rows = []
    for d in decisions:
        form = d["source_system"] == cd.FORM_SYSTEM
        rows.append(
            {
                "u_number": "" if form else str(d["number"]),
                "u_sys_id": sys_id(d) or "",
                "u_correlation_id": str(d["number"]) if form else "",
                "u_approval": SN_APPROVAL[str(d["decision"])],
                "u_cab_decision": str(d["decision"]),
                "u_cab_conditions": str(d.get("conditions") or ""),
                "u_cab_reason": str(d.get("reason") or ""),
                "u_cab_deferred_to": str(d.get("deferred_to") or ""),
                "u_cab_date": sn_time(d.get("meeting_at")),
                "u_cab_decided_by": str(d["decided_by"]),
                "u_cab_identity_verified": "true" if d.get("identity_verified") else "false",
                "u_cab_decided_at": sn_time(d["decided_at"]),
                "u_work_notes": work_note(d),
            }
        )
    return rows


def table_api_calls(decisions: Iterable[dict[str, object]]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for d in decisions:
        form = d["source_system"] == cd.FORM_SYSTEM
        body = {
            "approval": SN_APPROVAL[str(d["decision"])],
            "cab_date": sn_time(d.get("meeting_at"))[:10],
            "cab_recommendation": work_note(d),
            "work_notes": work_note(d),
        }
        body = {k: v for k, v in body.items() if v}
        known = sys_id(d)
        find = (
            None
            if known
            else {
                "method": "GET",
                "path": "/api/now/table/change_request",
                "query": {
                    "sysparm_query": f"correlation_id={d['number']}" if form else f"number={d['number']}",
                    "sysparm_fields": "sys_id,number",
                    "sysparm_limit": "1",
                },
            }
        )
        out.append(
            {
                "number": str(d["number"]),
                "decision": str(d["decision"]),
                "find": find,
                "update": {
                    "method": "PATCH",
                    "path": f"/api/now/table/change_request/{known or '<sys_id returned by find>'}",
                    "body": body,
                },
            }
        )
    return out


def jira_rows(decisions: Iterable[dict[str, object]]) -> list[dict[str, str]]:
    return [
        {
            "Issue Key": str(d["number"]),
            "Summary": str(d.get("title") or ""),
            "CAB decision": cd.LABELS[str(d["decision"])],
            "CAB conditions": str(d.get("conditions") or ""),
            "CAB reason": str(d.get("reason") or ""),
            "CAB deferred to": str(d.get("deferred_to") or ""),
            "CAB date": sn_time(d.get("meeting_at")),
            "CAB decided by": str(d["decided_by"]),
            "CAB decided at": sn_time(d["decided_at"]),
            "Comment": work_note(d),
        }
        for d in decisions
    ]


def _csv(columns: Sequence[str], rows: Sequence[dict[str, str]], *, excel_safe: bool) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {k: "'" + v if excel_safe and v.startswith(FORMULA_PREFIXES) else v for k, v in row.items()}
        )
    return buf.getvalue()


def read_decisions(ops_db: Path, meeting_at: datetime | None = None) -> list[dict[str, object]]:
    """Each change's decision in force (oldest first), of one meeting when given (read-only)."""
    if not ops_db.exists():
        return []
    con = sqlite3.connect(f"file:{ops_db}?mode=ro", uri=True, timeout=10.0)
    try:
        has = con.execute("select count(*) from sqlite_master where name = 'cab_decision'").fetchone()[0]
        return cd.list_decisions(con, meeting_at=meeting_at, latest_only=True) if has else []
    finally:
        con.close()


def render(decisions: Sequence[dict[str, object]], fmt: str, *, excel_safe: bool = False) -> str:
    if fmt == "servicenow-csv":
        return _csv(SN_COLUMNS, servicenow_rows(decisions), excel_safe=excel_safe)
    if fmt == "jira-csv":
        return _csv(JIRA_COLUMNS, jira_rows(decisions), excel_safe=excel_safe)
    doc = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "generator": "changeboard cab decisions export",
        "decisions": table_api_calls(decisions),
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def split(decisions: Iterable[dict[str, object]], fmt: str) -> tuple[list[dict[str, object]], dict[str, int]]:
    """The decisions this format carries, and how many of each other system it leaves out."""
    keep: list[dict[str, object]] = []
    left: dict[str, int] = {}
    for d in decisions:
        system = str(d["source_system"])
        if system in SYSTEMS[fmt]:
            keep.append(d)
        else:
            left[system] = left.get(system, 0) + 1
    return keep, left


def export(
    ops_db: Path,
    fmt: str,
    out: Path,
    *,
    meeting_at: datetime | None = None,
    excel_safe: bool = False,
    source_ids: Mapping[str, str | None] | None = None,
) -> ExportResult:
    """Write the export file (atomically); returns how many decisions it holds and what it left out.
    ``source_ids``: change_id -> the change's source id in the published warehouse, for decisions
    that did not record one (:func:`with_source_ids`)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    decisions = read_decisions(ops_db, meeting_at)
    if source_ids:
        decisions = with_source_ids(decisions, source_ids)
    keep, left = split(decisions, fmt)
    text = render(keep, fmt, excel_safe=excel_safe)
    write_atomic(out, text, encoding="utf-8-sig" if fmt.endswith("csv") else "utf-8")
    return ExportResult(len(keep), left)
