"""The CAB meeting run from the pack: the items to decide in the chair's running order, each with the
decision recorded in the request store (:mod:`changeboard.store.cab_decisions`).

Pure functions over a :class:`~changeboard.reports.cab_model.CabPack` and the store's rows; no query
per change (the pack's frames are joined once)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import polars as pl

from changeboard.reports.cab_model import CabPack

DECIDE_SECTIONS = ("awaiting_decision",)


def running_order_frame(order: Mapping[str, tuple[int, int | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "change_id": list(order),
            "chair_position": [p for p, _m in order.values()],
            "timebox_minutes": [m for _p, m in order.values()],
        },
        schema={"change_id": pl.String, "chair_position": pl.Int64, "timebox_minutes": pl.Int64},
    )


def items_to_decide(
    pack: CabPack,
    order: Mapping[str, tuple[int, int | None]] | None = None,
    pending_requests: Iterable[Mapping[str, Any]] = (),
) -> pl.DataFrame:
    """The agenda items awaiting a decision, in the order the meeting takes them: the chair's stored
    positions first, then the rest by risk score (highest first), planned start, number. Form requests
    submitted since the last build (``pending_requests``: the store's submitted requests not in the
    pack) come last, marked ``in_warehouse = false`` (no evidence until the next build).

    Adds ``position`` (1..n), ``timebox_minutes`` and ``in_warehouse``."""
    rows = pack.section("awaiting_decision").with_columns(pl.lit(True).alias("in_warehouse"))
    known = set(rows["change_id"].to_list())
    extra = [
        {
            "agenda_section": "awaiting_decision",
            "change_id": f"form:{r['reference']}",
            "number": str(r["reference"]),
            "source_system": "form",
            "title": r.get("title"),
            "change_type": r.get("change_type"),
            "risk": r.get("risk"),
            "is_from_form": True,
            "service_name": r.get("service"),
            "ci_names": ", ".join(str(c) for c in cis) if isinstance(cis := r.get("cis"), list) else "",
            "in_warehouse": False,
        }
        for r in pending_requests
        if f"form:{r['reference']}" not in known
    ]
    if extra:
        rows = pl.concat([rows, pl.DataFrame(extra, infer_schema_length=None)], how="diagonal_relaxed")
    chair = running_order_frame(order or {})
    rows = rows.join(chair, on="change_id", how="left", maintain_order="left")
    rows = rows.sort(
        ["chair_position", "in_warehouse", "risk_score", "planned_start_at", "number"],
        descending=[False, True, True, False, False],
        nulls_last=True,
        maintain_order=True,
    )
    return rows.with_columns(pl.int_range(1, pl.len() + 1).alias("position")).drop("chair_position")


def with_decisions(rows: pl.DataFrame, latest: Mapping[str, Mapping[str, Any]]) -> pl.DataFrame:
    """``rows`` with each item's latest recorded decision (``decision``, ``decided_by``, ``decided_at``,
    ``decision_note``: the reason, conditions or deferral date)."""

    def note(d: Mapping[str, Any]) -> str | None:
        if d["decision"] == "deferred":
            return f"to {d['deferred_to']}"
        return d.get("conditions") or d.get("reason")

    frame = pl.DataFrame(
        [
            {
                "change_id": cid,
                "decision": d["decision"],
                "decided_by": d["decided_by"],
                "decided_at": d["decided_at"],
                "decision_note": note(d),
            }
            for cid, d in latest.items()
        ],
        schema={
            "change_id": pl.String,
            "decision": pl.String,
            "decided_by": pl.String,
            "decided_at": pl.String,
            "decision_note": pl.String,
        },
    )
    return rows.join(frame, on="change_id", how="left", maintain_order="left")
