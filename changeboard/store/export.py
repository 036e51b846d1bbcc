"""Form requests exported for the system of record (ServiceNow), so nothing is typed twice.

Two formats (``changeboard requests export --format ...``):

* ``servicenow-csv``: an import-set CSV. Every column is ``u_<name>`` (what ServiceNow creates when a
  CSV is loaded into a new import-set table); a transform map onto ``change_request`` maps
  ``u_short_description`` -> ``short_description``, ``u_start_date`` -> ``start_date`` and so on
  (:data:`CSV_COLUMNS` names the target field of each). ``u_correlation_id`` carries the reference, so
  a coalesce on ``correlation_id`` makes a re-import update instead of duplicate, and "My requests"
  can match the ITSM change back to the request.
* ``servicenow-json``: Table API payloads, one per request: ``POST /api/now/table/change_request``
  with ``sysparm_input_display_value=true`` (reference fields such as ``business_service`` and
  ``cmdb_ci`` are given by display name), plus the ``task_ci`` rows for the affected CIs (their
  ``task`` is the ``sys_id`` the first call returns).

Times are UTC, ``YYYY-MM-DD HH:MM:SS`` (run the import as a user whose time zone is UTC). Text is
exported as typed; ``excel_safe=True`` prefixes ``'`` to cells a spreadsheet would run as a formula,
for files that will be opened in a spreadsheet before they are imported. Without it the cells are
written as typed and counted (:func:`export`'s ``risky``), so that the command can warn.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from changeboard.store import requests as ops

FORMATS = ("servicenow-csv", "servicenow-json")
DEFAULT_STATUSES = ("submitted", "approved")
CORRELATION_DISPLAY = "changeboard"
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# Characters a spreadsheet may read as the start of a formula once it folds lookalikes (fullwidth
# U+FF1D U+FF0B U+FF0D U+FF20, small U+FE66 U+FE62 U+FE63, the minus sign U+2212) and skips leading spaces: found after NFKC compatibility folding
# (unicodedata), which maps every fullwidth and small form to its ASCII character.
_FORMULA_START = frozenset("=+-@\u2212")
# Spaces a cell may start with: the space and every character that folds (NFKC) to it (no-break,
# ideographic, en/em/thin... spaces), so that both checks below skip the same ones.
_LEADING_SPACE = " " + "".join(
    ch for ch in map(chr, range(0x80, 0x10000)) if unicodedata.normalize("NFKC", ch) == " "
)
# Every character that folds (NFKC) to one of them, as a regex class for frame-wide checks.
FORMULA_LOOKALIKES = "".join(
    ch for ch in map(chr, range(0x80, 0x10000)) if unicodedata.normalize("NFKC", ch) in _FORMULA_START
)
FORMULA_REGEX = (
    "^(?:[\\t\\r]|["
    + "".join(f"\\u{{{ord(c):04x}}}" for c in _LEADING_SPACE)
    + "]*[=+\\-@"
    + "".join(f"\\u{{{ord(c):04x}}}" for c in FORMULA_LOOKALIKES + "\u2212")
    + "])"
)
CHG_MODEL = {"standard": "Standard", "normal": "Normal", "emergency": "Emergency"}

# import-set column -> the change_request field its transform-map entry targets ('' = no direct target)
CSV_COLUMNS: dict[str, str] = {
    "u_correlation_id": "correlation_id",
    "u_correlation_display": "correlation_display",
    "u_short_description": "short_description",
    "u_description": "description",
    "u_justification": "justification",
    "u_type": "type",
    "u_chg_model": "chg_model",
    "u_std_change_template": "",  # the template's name: pick the std_change_producer_version in the transform
    "u_business_service": "business_service",
    "u_cmdb_ci": "cmdb_ci",
    "u_affected_cis": "",  # every CI, '; '-separated: create task_ci rows in an onAfter transform script
    "u_start_date": "start_date",
    "u_end_date": "end_date",
    "u_impact": "impact",
    "u_risk": "risk",
    "u_implementation_plan": "implementation_plan",
    "u_test_plan": "test_plan",
    "u_backout_plan": "backout_plan",
    "u_requested_by": "requested_by",
    "u_identity_verified": "",
    "u_approval": "approval",
    "u_cab_decided_by": "",
    "u_cab_decided_at": "",
    "u_cab_comment": "",
    "u_work_notes": "work_notes",
    "u_submitted_at": "",
}


def sn_time(value: object) -> str:
    """ServiceNow's internal date-time format, in UTC ('' for none)."""
    if value is None or value == "":
        return ""
    parsed = datetime.fromisoformat(str(value))
    parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    return parsed.strftime("%Y-%m-%d %H:%M:%S")


def _impact_value(impact: object) -> str:
    """'2 - Medium' -> '2' (ServiceNow's impact choice value)."""
    text = str(impact or "").strip()
    return text.split(" ", 1)[0] if text[:1].isdigit() else text


def _approval(r: dict[str, object]) -> str:
    return {"approved": "approved", "rejected": "rejected"}.get(str(r.get("status")), "requested")


def _work_note(r: dict[str, object]) -> str:
    lines = [f"Raised through the changeboard form as {r['reference']} on {sn_time(r['created_at'])} UTC."]
    if not r.get("identity_verified"):
        lines.append(f"Requester identity not verified (typed name: {r['created_by']}).")
    if r.get("decision"):
        lines.append(
            f"CAB decision: {r['decision']} by {r['decided_by']} at {sn_time(r['decided_at'])} UTC"
            + (f": {r['decision_comment']}" if r.get("decision_comment") else ".")
        )
    return "\n".join(lines)


def _description(r: dict[str, object]) -> str:
    text = str(r.get("description") or "")
    if r.get("template"):
        text = f"Standard change template: {r['template']}\n\n{text}".strip()
    return text


def import_set_rows(requests: Iterable[dict[str, object]]) -> list[dict[str, str]]:
    """One import-set row (every :data:`CSV_COLUMNS` column, text) per request."""
    rows = []
    for r in requests:
        cis = [str(c) for c in r.get("cis") or ()]  # type: ignore[attr-defined]
        rows.append(
            {
                "u_correlation_id": str(r["reference"]),
                "u_correlation_display": CORRELATION_DISPLAY,
                "u_short_description": str(r["title"]),
                "u_description": _description(r),
                "u_justification": str(r.get("justification") or ""),
                "u_type": str(r["change_type"]),
                "u_chg_model": CHG_MODEL.get(str(r["change_type"]), ""),
                "u_std_change_template": str(r.get("template") or ""),
                "u_business_service": str(r.get("service") or ""),
                "u_cmdb_ci": cis[0] if cis else "",
                "u_affected_cis": "; ".join(cis),
                "u_start_date": sn_time(r.get("window_start")),
                "u_end_date": sn_time(r.get("window_end")),
                "u_impact": _impact_value(r.get("impact")),
                "u_risk": str(r.get("risk") or ""),
                "u_implementation_plan": str(r.get("implementation_plan") or ""),
                "u_test_plan": str(r.get("test_plan") or ""),
                "u_backout_plan": str(r.get("backout_plan") or ""),
                "u_requested_by": str(r["created_by"]),
                "u_identity_verified": "true" if r.get("identity_verified") else "false",
                "u_approval": _approval(r),
                "u_cab_decided_by": str(r.get("decided_by") or ""),
                "u_cab_decided_at": sn_time(r.get("decided_at")),
                "u_cab_comment": str(r.get("decision_comment") or ""),
                "u_work_notes": _work_note(r),
                "u_submitted_at": sn_time(r.get("created_at")),
            }
        )
    return rows


def table_api_payloads(requests: Iterable[dict[str, object]]) -> list[dict[str, object]]:
    """Table API calls per request: the change_request POST and its task_ci rows."""
    out = []
    for r in requests:
        cis = [str(c) for c in r.get("cis") or ()]  # type: ignore[attr-defined]
        body = {
            "correlation_id": str(r["reference"]),
            "correlation_display": CORRELATION_DISPLAY,
            "short_description": str(r["title"]),
            "description": _description(r),
            "justification": str(r.get("justification") or ""),
            "type": str(r["change_type"]),
            "chg_model": CHG_MODEL.get(str(r["change_type"]), ""),
            "business_service": str(r.get("service") or ""),
            "cmdb_ci": cis[0] if cis else "",
            "start_date": sn_time(r.get("window_start")),
            "end_date": sn_time(r.get("window_end")),
            "impact": _impact_value(r.get("impact")),
            "risk": str(r.get("risk") or ""),
            "implementation_plan": str(r.get("implementation_plan") or ""),
            "test_plan": str(r.get("test_plan") or ""),
            "backout_plan": str(r.get("backout_plan") or ""),
            "requested_by": str(r["created_by"]),
            "work_notes": _work_note(r),
        }
        out.append(
            {
                "reference": str(r["reference"]),
                "change_request": {
                    "method": "POST",
                    "path": "/api/now/table/change_request",
                    "query": {
                        "sysparm_input_display_value": "true",
                        "sysparm_exclude_reference_link": "true",
                    },
                    "body": {k: v for k, v in body.items() if v != ""},
                },
                "task_ci": [
                    {
                        "method": "POST",
                        "path": "/api/now/table/task_ci",
                        "query": {"sysparm_input_display_value": "true"},
                        "body": {"task": "<sys_id returned by the change_request call>", "ci_item": ci},
                    }
                    for ci in cis
                ],
            }
        )
    return out


def runs_as_formula(value: str | None) -> bool:
    """Whether a spreadsheet opening the cell could run it as a formula: it starts with ``= + - @``,
    a tab or a CR (OWASP "CSV Injection"), or does so after leading spaces or once its first
    characters are folded to ASCII (fullwidth U+FF1D, small U+FE66, the minus sign U+2212...)."""
    if not value:
        return False
    if value.startswith(FORMULA_PREFIXES):
        return True
    head = unicodedata.normalize("NFKC", value.lstrip(_LEADING_SPACE)[:16])
    return head[:1] in _FORMULA_START or head.startswith(("\t", "\r"))


def neutralise(value: str) -> str:
    """``'`` before a cell that :func:`runs_as_formula` (the text after it is kept as typed)."""
    return "'" + value if runs_as_formula(value) else value


def to_csv(
    rows: Sequence[dict[str, str]], *, excel_safe: bool = False, risky: list[tuple[int, str]] | None = None
) -> str:
    """The import-set CSV; ``risky`` collects (row, column) of the cells a spreadsheet would run
    that are written as typed (without ``excel_safe``)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(CSV_COLUMNS), quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writeheader()
    for n, row in enumerate(rows, start=2):
        if excel_safe:
            writer.writerow({k: neutralise(v) for k, v in row.items()})
            continue
        if risky is not None:
            risky.extend((n, k) for k, v in row.items() if runs_as_formula(v))
        writer.writerow(row)
    return buf.getvalue()


def to_json(payloads: Sequence[dict[str, object]]) -> str:
    doc = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "generator": "changeboard requests export",
        "requests": payloads,
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def read_requests(ops_db: Path, statuses: Iterable[str] = DEFAULT_STATUSES) -> list[dict[str, object]]:
    """Requests of the given statuses, oldest first, with their latest decision (read-only)."""
    if not ops_db.exists():
        return []
    con = sqlite3.connect(f"file:{ops_db}?mode=ro", uri=True, timeout=10.0)
    try:
        return list(reversed(ops.list_requests(con, statuses=list(statuses))))
    finally:
        con.close()


def write_atomic(out: Path, text: str, *, encoding: str = "utf-8") -> None:
    """Write ``out`` through a temp file and a rename, so a reader never sees half a file."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.part")
    with tmp.open("w", encoding=encoding, newline="") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, out)


def export(
    ops_db: Path,
    fmt: str,
    out: Path,
    *,
    statuses: Iterable[str] = DEFAULT_STATUSES,
    excel_safe: bool = False,
    risky: list[tuple[int, str]] | None = None,
) -> int:
    """Write the export file; returns the number of requests in it. For a CSV without
    ``excel_safe``, ``risky`` collects the (row, column) of cells a spreadsheet would run."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    requests = read_requests(ops_db, statuses)
    if fmt == "servicenow-csv":
        text = to_csv(import_set_rows(requests), excel_safe=excel_safe, risky=risky)
        write_atomic(out, text, encoding="utf-8-sig")
    else:
        write_atomic(out, to_json(table_api_payloads(requests)))
    return len(requests)
