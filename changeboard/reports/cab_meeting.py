"""The CAB meeting run from the pack: the items to decide in the chair's running order, each with the
decision recorded in the request store (:mod:`changeboard.store.cab_decisions`).

Pure functions over a :class:`~changeboard.reports.cab_model.CabPack` and the store's rows; no query
per change (the pack's frames are joined once)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from changeboard.reports.cab_model import CabPack, fmt_ts

DECIDE_SECTIONS = ("awaiting_decision",)
# columns with_running_order adds to the agenda (items_to_decide computes its own)
ORDER_COLUMNS = ("chair_position", "agenda_position", "timebox_minutes", "slot_start_at")


def running_order_frame(order: Mapping[str, tuple[int, int | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "change_id": list(order),
            "chair_position": [p for p, _m in order.values()],
            "timebox_minutes": [m for _p, m in order.values()],
        },
        schema={"change_id": pl.String, "chair_position": pl.Int64, "timebox_minutes": pl.Int64},
    )


def with_running_order(pack: CabPack, order: Mapping[str, tuple[int, int | None]]) -> CabPack:
    """The pack with the chair's running order applied (``order``: the request store's, change_id ->
    (position, time box minutes)): the items awaiting a decision in the order the meeting takes them
    (the chair's positions first, then the rest by risk score, planned start, number: the order
    :func:`items_to_decide` gives), each with ``chair_position`` (null: not placed by the chair),
    ``agenda_position`` (1..n), ``timebox_minutes`` and ``slot_start_at`` (the meeting time plus the
    time boxes before it; null once an earlier item has no time box). Every renderer then lists
    them in that order. The other sections keep their order; an empty ``order`` changes nothing."""
    agenda = pack.agenda.drop([c for c in ORDER_COLUMNS if c in pack.agenda.columns])
    if not order:
        return replace(pack, agenda=agenda, running_order={})
    awaiting = pl.col("agenda_section") == "awaiting_decision"
    chair = running_order_frame(order)
    agenda = (
        agenda.join(chair, on="change_id", how="left", maintain_order="left")
        .with_columns(
            pl.when(awaiting).then(pl.col("chair_position")).alias("chair_position"),
            pl.when(awaiting).then(pl.col("timebox_minutes")).alias("timebox_minutes"),
        )
        .sort(
            ["section_order", "chair_position", "risk_score", "planned_start_at", "number"],
            descending=[False, False, True, False, False],
            nulls_last=True,
            maintain_order=True,
        )
    )
    before = pl.col("timebox_minutes").cum_sum().shift(1, fill_value=0).over("agenda_section")
    untimed = pl.col("timebox_minutes").is_null().cum_sum().shift(1, fill_value=0).over("agenda_section")
    agenda = agenda.with_columns(
        pl.when(awaiting)
        .then(pl.int_range(1, pl.len() + 1).over("agenda_section"))
        .cast(pl.Int64)
        .alias("agenda_position"),
        pl.when(awaiting & (untimed == 0))
        .then(pl.col("cab_meeting_at") + pl.duration(minutes=before.fill_null(0)))
        .alias("slot_start_at"),
    )
    return replace(pack, agenda=agenda, running_order=dict(order))


def timebox_text(minutes: int | None, start: datetime | None = None) -> str:
    """'10 min (10:20-10:30, an en dash)', '10 min', or '' (no time box): how every format shows a time box."""
    if minutes is None:
        return ""
    text = f"{int(minutes)} min"
    if isinstance(start, datetime):
        text += f" ({start:%H:%M}–{start + timedelta(minutes=int(minutes)):%H:%M})"
    return text


def order_tag(item: dict[str, Any], section: str, *, ordered: bool) -> str:
    """'#2 · 15 min (10:10-10:25) ' before an item awaiting a decision in the chair's running order."""
    if not ordered or section != "awaiting_decision" or not item.get("position"):
        return ""
    return f"#{item['position']}" + (f" · {item['timebox']}" if item.get("timebox") else "") + " "


def slot_starts(
    meeting_at: datetime, order: Mapping[str, tuple[int, int | None]]
) -> dict[str, datetime | None]:
    """When each item of a running order comes up: the meeting time plus the time boxes before it (None
    once an earlier item has no time box), as :func:`with_running_order` computes for the pack."""
    out: dict[str, datetime | None] = {}
    at: datetime | None = meeting_at
    for cid, (_position, box) in sorted(order.items(), key=lambda kv: kv[1][0]):
        out[cid] = at
        at = None if at is None or box is None else at + timedelta(minutes=box)
    return out


def running_order_note(pack: CabPack) -> str:
    """What the pack says about the order of the items awaiting a decision."""
    if not pack.running_order:
        return "Highest risk first, then the earliest planned start."
    placed = len(pack.running_order)
    return (
        f"In the chair's running order for the meeting of {fmt_ts(pack.meeting_at)} UTC ({placed} item(s) "
        "placed by the chair, the rest by risk), with the time boxes and the times they give."
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
    rows = rows.drop([c for c in ORDER_COLUMNS if c in rows.columns])
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
