"""The change-request form's store (``data/ops/ops.sqlite``) read as a source like any other.

Requests become canonical changes with ``source_system = 'form'`` and ``origin = 'form'``; their CIs
become ``change_ci`` rows and their CAB decisions ``approval`` rows; every CAB decision recorded at a
meeting (on a form request or an ITSM change, :mod:`changeboard.store.cab_decisions`) becomes a
``cab_decision`` row.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import polars as pl
from changeboard.ingest.canonical import ENTITIES
from changeboard.ingest.mapping import QUARANTINE_SCHEMA, MappedFrame, _polars_type

SYSTEM = "form"


def _frame(entity: str, rows: list[dict[str, object]]) -> MappedFrame:
    cols = ENTITIES[entity].columns
    schema = {"_source_row": pl.Int64, **{c: _polars_type(t) for c, t in cols.items()}}
    data = [{"_source_row": i + 1, **{c: r.get(c) for c in cols}} for i, r in enumerate(rows)]
    frame = pl.DataFrame(data, schema=schema, orient="row") if data else pl.DataFrame(schema=schema)
    return MappedFrame(
        entity=entity, frame=frame, quarantine=pl.DataFrame(schema=QUARANTINE_SCHEMA), missing_columns=[]
    )


def _ts(value: object) -> object:
    if value is None or value == "":
        return None
    return (
        pl.Series([str(value)]).str.to_datetime(time_zone="UTC", strict=False).dt.replace_time_zone(None)[0]
    )


def read_form_store(path: Path) -> list[MappedFrame]:
    """Every request and decision in the store, as canonical frames (one read transaction)."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10.0)
    try:
        con.row_factory = sqlite3.Row
        con.execute("begin")
        created = con.execute(
            "select count(*) from sqlite_master where type = 'table' and name in ('change_request', 'decision')"
        ).fetchone()[0]
        requests: list[dict[str, object]] = []
        decisions: list[dict[str, object]] = []
        cab: list[dict[str, object]] = []
        if created == 2:  # else the app is creating the store this instant: no request yet
            requests = [dict(r) for r in con.execute("select * from change_request order by request_id")]
            decisions = [
                dict(r)
                for r in con.execute(
                    "select d.*, r.reference from decision d join change_request r using (request_id) "
                    "order by decision_id"
                )
            ]
        has_cab = con.execute(
            "select count(*) from sqlite_master where type = 'table' and name = 'cab_decision'"
        ).fetchone()[0]
        if has_cab:  # a store created before CAB decisions on every agenda item has none
            cab = [dict(r) for r in con.execute("select * from cab_decision order by cab_decision_id")]
        con.execute("commit")
    finally:
        con.close()
    last_decision = {d["reference"]: d for d in decisions}
    changes, links, approvals = [], [], []
    for r in requests:
        d = last_decision.get(r["reference"])
        cis = json.loads(r["cis"] or "[]")
        changes.append(
            {
                "source_system": SYSTEM,
                "source_id": r["reference"],
                "number": r["reference"],
                "title": r["title"],
                "description": r["description"],
                "change_type_raw": r["change_type"],
                "change_type": r["change_type"],
                "state_raw": r["status"],
                "risk_raw": r["risk"],
                "impact_raw": r["impact"],
                "approval_raw": d["decision"] if d else "requested",
                "requested_by": r["created_by"],
                "primary_ci_ref": cis[0] if cis else None,
                "service_ref": r["service"],
                "justification": r["justification"],
                "implementation_plan": r["implementation_plan"],
                "backout_plan": r["backout_plan"],
                "test_plan": r["test_plan"],
                "model_raw": r["template"],
                "origin": "form",
                "planned_start_at": _ts(r["window_start"]),
                "planned_end_at": _ts(r["window_end"]),
                "opened_at": _ts(r["created_at"]),
                "approved_at": _ts(d["decided_at"]) if d and d["decision"] == "approved" else None,
                "created_at": _ts(r["created_at"]),
                "updated_at": _ts(max(r["updated_at"], d["decided_at"]) if d else r["updated_at"]),
            }
        )
        for ci in cis:
            links.append(
                {"source_system": SYSTEM, "change_ref": r["reference"], "ci_ref": ci, "role": "affected"}
            )
    for d in decisions:
        approvals.append(
            {
                "source_system": SYSTEM,
                "source_id": f"D{d['decision_id']}",
                "change_ref": d["reference"],
                "approver": d["decided_by"],
                "state_raw": d["decision"],
                "comment": d["comment"],
                "decided_at": _ts(d["decided_at"]),
                "updated_at": _ts(d["decided_at"]),
            }
        )
    cab_rows = [
        {
            "source_system": SYSTEM,
            "source_id": f"CAB{d['cab_decision_id']}",
            "change_ref": d["change_id"],
            "change_source_system": d["source_system"],
            "change_number": d["number"],
            "change_source_id": d["source_id"],
            "title": d["title"],
            "meeting_at": _ts(d["meeting_at"]),
            "decision_raw": d["decision"],
            "reason": d["reason"],
            "conditions": d["conditions"],
            "deferred_to": _ts(d["deferred_to"]),
            "decided_by": d["decided_by"],
            "identity_verified": bool(d["identity_verified"]),
            "decided_at": _ts(d["decided_at"]),
            "blackout_confirmed": bool(d["blackout_confirmed"]),
            "risk_level": d["risk_level"],
            "risk_score": d["risk_score"],
            "in_blackout": None if d["in_blackout"] is None else bool(d["in_blackout"]),
            "blackout_window_name": d["blackout_window_name"],
            "collision_count": d["collision_count"],
            "updated_at": _ts(d["decided_at"]),
        }
        for d in cab
    ]
    return [
        _frame("change", changes),
        _frame("change_ci", links),
        _frame("approval", approvals),
        _frame("cab_decision", cab_rows),
    ]
