"""CAB decisions on every agenda item (form requests and ITSM changes alike), the chair's running order
and the attendees, in the request store (the same SQLite file as the form: WAL, full sync).

A decision is one of :data:`CAB_DECISIONS`:

* ``approved``;
* ``approved_with_conditions`` (``conditions`` required);
* ``rejected`` (``reason`` required);
* ``deferred`` (``deferred_to``, a date after the meeting, required): the item comes back at a later
  meeting and can then be decided again.

Each row records who (``decided_by``, and whether that identity was verified by sign-in) and when
(``decided_at``, UTC), the meeting it was taken at, and the evidence the decider saw (risk indicator,
blackout, collisions). Approving an item planned inside a blackout window is refused unless
``blackout_confirmed`` says the decider confirmed it explicitly.

Idempotent: the same decision by the same person at the same meeting (a double click, a retry) writes
nothing and returns the first row. A final decision (approved, approved with conditions, rejected) is
not overwritten by a different one: a changed mind is recorded in the system of record, not by editing
history here. For a form request the decision also moves the request's status (the ``decision`` table
and ``change_request.status`` that "My requests" and the requests export read), in the same
transaction. The pipeline reads ``cab_decision`` into ``raw.cab_decision``; dbt publishes it as
``fct_cab_decisions``.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import cast

from changeboard.store.requests import DecisionRefused as DecisionRefused  # re-exported: the page catches it
from changeboard.store.requests import _rows

CAB_DECISIONS = ("approved", "approved_with_conditions", "rejected", "deferred")
FINAL = ("approved", "approved_with_conditions", "rejected")
APPROVING = ("approved", "approved_with_conditions")
LABELS = {
    "approved": "Approved",
    "approved_with_conditions": "Approved with conditions",
    "rejected": "Rejected",
    "deferred": "Deferred",
}
FORM_SYSTEM = "form"


@dataclass(frozen=True)
class AgendaItem:
    """What identifies an agenda item and the evidence the decider saw (recorded with the decision)."""

    change_id: str  # the warehouse's change id, source_system:number
    source_system: str
    number: str
    title: str | None = None
    source_id: str | None = None  # the record's id in its source (ServiceNow sys_id) when known
    risk_level: str | None = None
    risk_score: int | None = None
    in_blackout: bool = False
    blackout_window_name: str | None = None
    collision_count: int | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, object]) -> AgendaItem:
        """From an agenda row (rpt_cab_agenda / the CAB pack's columns)."""
        number = str(row["number"])
        system = str(row.get("source_system") or FORM_SYSTEM)
        score = row.get("risk_score")
        collisions = row.get("collision_count")
        return cls(
            change_id=str(row.get("change_id") or f"{system}:{number}"),
            source_system=system,
            number=number,
            title=None if row.get("title") is None else str(row["title"]),
            source_id=None if row.get("source_id") is None else str(row["source_id"]),
            risk_level=None if row.get("risk_level") is None else str(row["risk_level"]),
            risk_score=None if score is None else int(cast(float, score)),
            in_blackout=bool(row.get("in_blackout")),
            blackout_window_name=None
            if row.get("blackout_window_name") is None
            else str(row["blackout_window_name"]),
            collision_count=None if collisions is None else int(cast(int, collisions)),
        )


@dataclass(frozen=True)
class CabDecision:
    cab_decision_id: int
    change_id: str
    number: str
    decision: str
    decided_by: str
    decided_at: str
    reason: str | None
    conditions: str | None
    deferred_to: str | None
    repeated: bool = False  # the same decision was already recorded (a double click): nothing written


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def meeting_key(meeting_at: datetime | None) -> str | None:
    """How a meeting is stored: its time in UTC, ISO (naive = UTC)."""
    return None if meeting_at is None else _iso(meeting_at)


def _clean(text: str | None) -> str | None:
    text = (text or "").strip()
    return text or None


def _key(item: AgendaItem, decision: str, who: str, meeting: str | None, *parts: str | None) -> str:
    raw = "\x1f".join([item.change_id, decision, who.lower(), meeting or "", *[p or "" for p in parts]])
    return "cab-" + hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


def _as_date(value: date | datetime | str | None) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def record_decision(
    con: sqlite3.Connection,
    item: AgendaItem,
    decision: str,
    *,
    decided_by: str,
    identity_verified: bool = False,
    meeting_at: datetime | None = None,
    reason: str | None = None,
    conditions: str | None = None,
    deferred_to: date | datetime | str | None = None,
    blackout_confirmed: bool = False,
    now: datetime | None = None,
    idempotency_key: str | None = None,
) -> CabDecision:
    """Record one CAB decision on an agenda item (one transaction); see the module's rules.

    Raises:
        DecisionRefused: the decision is incomplete (no reason, conditions or date), approves a change
            inside a blackout without ``blackout_confirmed``, or contradicts a final decision already
            recorded; the message says why in plain words.
    """
    if decision not in CAB_DECISIONS:
        raise DecisionRefused(f"a CAB decision is one of {', '.join(CAB_DECISIONS)}, not {decision!r}")
    who = (decided_by or "").strip()
    if not who:
        raise DecisionRefused("a decision needs the name of who made it")
    reason, conditions = _clean(reason), _clean(conditions)
    defer_day = _as_date(deferred_to)
    if decision == "rejected" and not reason:
        raise DecisionRefused("a rejection needs a reason")
    if decision == "approved_with_conditions" and not conditions:
        raise DecisionRefused("an approval with conditions needs the conditions")
    if decision == "deferred":
        if defer_day is None:
            raise DecisionRefused("a deferral needs the date it comes back to the CAB")
        if meeting_at is not None and defer_day <= meeting_at.date():
            raise DecisionRefused(f"a deferral must be to a date after the meeting ({meeting_at.date()})")
    else:
        defer_day = None
    if decision in APPROVING and item.in_blackout and not blackout_confirmed:
        window = item.blackout_window_name or "a blackout window"
        raise DecisionRefused(
            f"{item.number} is planned inside {window}: approving it needs an explicit confirmation"
        )
    meeting = meeting_key(meeting_at)
    at = _iso(now or datetime.now(UTC))
    key = idempotency_key or _key(
        item, decision, who, meeting, reason, conditions, defer_day.isoformat() if defer_day else None
    )
    con.execute("begin immediate")
    try:
        same = con.execute("select * from cab_decision where idempotency_key = ?", [key]).fetchone()
        if same is not None:
            con.execute("commit")
            return _result(_row_dict(con, same), repeated=True)
        last = _latest(con, item.change_id)
        if last is not None and last["decision"] in FINAL:
            if last["decision"] == decision and str(last["decided_by"]).lower() == who.lower():
                con.execute("commit")
                return _result(last, repeated=True)
            raise DecisionRefused(
                f"{item.number} was already {LABELS[str(last['decision'])].lower()} by {last['decided_by']} "
                f"at {last['decided_at']}"
            )
        if item.source_system == FORM_SYSTEM:
            _move_form_request(con, item, decision, who, at, reason, conditions)
        cur = con.execute(
            "insert into cab_decision (idempotency_key, change_id, source_system, number, source_id, title, "
            "meeting_at, decision, reason, conditions, deferred_to, decided_by, identity_verified, decided_at, "
            "blackout_confirmed, risk_level, risk_score, in_blackout, blackout_window_name, collision_count) "
            "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                key,
                item.change_id,
                item.source_system,
                item.number,
                item.source_id,
                item.title,
                meeting,
                decision,
                reason,
                conditions,
                defer_day.isoformat() if defer_day else None,
                who,
                int(bool(identity_verified)),
                at,
                int(bool(blackout_confirmed and item.in_blackout)),
                item.risk_level,
                item.risk_score,
                int(item.in_blackout),
                item.blackout_window_name,
                item.collision_count,
            ],
        )
        con.execute("commit")
        return CabDecision(
            int(cur.lastrowid or 0),
            item.change_id,
            item.number,
            decision,
            who,
            at,
            reason,
            conditions,
            defer_day.isoformat() if defer_day else None,
        )
    except BaseException:
        if con.in_transaction:
            con.execute("rollback")
        raise


def _move_form_request(
    con: sqlite3.Connection,
    item: AgendaItem,
    decision: str,
    who: str,
    at: str,
    reason: str | None,
    conditions: str | None,
) -> None:
    """A form request's own status follows a final decision (inside the caller's transaction)."""
    row = con.execute(
        "select request_id, status from change_request where reference = ?", [item.number]
    ).fetchone()
    if row is None:
        raise DecisionRefused(f"there is no form request {item.number}")
    request_id, status = row
    if decision == "deferred":
        if status != "submitted":
            raise DecisionRefused(f"{item.number} was already {status}")
        return
    status_to = "rejected" if decision == "rejected" else "approved"
    if status != "submitted":
        last = con.execute(
            "select decision, decided_by, decided_at from decision where request_id = ? "
            "order by decision_id desc limit 1",
            [request_id],
        ).fetchone()
        who_when = f" by {last[1]} at {last[2]}" if last else ""
        raise DecisionRefused(f"{item.number} was already {status}{who_when}")
    comment = reason if decision == "rejected" else (f"Conditions: {conditions}" if conditions else None)
    con.execute(
        "insert into decision (request_id, decision, comment, decided_by, decided_at) values (?, ?, ?, ?, ?)",
        [request_id, status_to, comment, who, at],
    )
    con.execute(
        "update change_request set status = ?, updated_at = ? where request_id = ?",
        [status_to, at, request_id],
    )


def _row_dict(con: sqlite3.Connection, row: tuple[object, ...]) -> dict[str, object]:
    names = [d[0] for d in con.execute("select * from cab_decision limit 0").description]
    return dict(zip(names, row, strict=True))


def _latest(con: sqlite3.Connection, change_id: str) -> dict[str, object] | None:
    rows = _rows(
        con.execute(
            "select * from cab_decision where change_id = ? order by cab_decision_id desc limit 1",
            [change_id],
        )
    )
    return rows[0] if rows else None


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _result(row: Mapping[str, object], *, repeated: bool = False) -> CabDecision:
    return CabDecision(
        int(cast(int, row["cab_decision_id"])),
        str(row["change_id"]),
        str(row["number"]),
        str(row["decision"]),
        str(row["decided_by"]),
        str(row["decided_at"]),
        _text(row.get("reason")),
        _text(row.get("conditions")),
        _text(row.get("deferred_to")),
        repeated=repeated,
    )


# --- reading -------------------------------------------------------------------------------------------


def latest_decisions(
    con: sqlite3.Connection, change_ids: Iterable[str] | None = None
) -> dict[str, dict[str, object]]:
    """The latest decision of each change (all changes, or those of ``change_ids``): one query."""
    sql = (
        "select d.* from cab_decision d join (select change_id, max(cab_decision_id) as last_id "
        "from cab_decision group by change_id) l on l.last_id = d.cab_decision_id"
    )
    rows = _rows(con.execute(sql))
    wanted = None if change_ids is None else set(change_ids)
    return {str(r["change_id"]): r for r in rows if wanted is None or r["change_id"] in wanted}


def list_decisions(
    con: sqlite3.Connection,
    *,
    meeting_at: datetime | None = None,
    decisions: Iterable[str] | None = None,
    latest_only: bool = False,
) -> list[dict[str, object]]:
    """Decisions oldest first: of one meeting, of some kinds, or only each change's latest."""
    where: list[str] = []
    params: list[object] = []
    if meeting_at is not None:
        where.append("meeting_at = ?")
        params.append(meeting_key(meeting_at))
    if decisions is not None:
        wanted = [d for d in decisions if d in CAB_DECISIONS]
        where.append(f"decision in ({', '.join('?' for _ in wanted) or 'null'})")
        params.extend(wanted)
    if latest_only:
        where.append("cab_decision_id in (select max(cab_decision_id) from cab_decision group by change_id)")
    sql = "select * from cab_decision" + (" where " + " and ".join(where) if where else "")
    return _rows(con.execute(sql + " order by cab_decision_id", params))


# --- the chair's running order and time boxes ------------------------------------------------------------


def save_running_order(
    con: sqlite3.Connection,
    meeting_at: datetime,
    items: Iterable[tuple[str, int | None]],
    *,
    updated_by: str,
    now: datetime | None = None,
) -> int:
    """Store the chair's order (the position is the order of ``items``) and each item's time box in
    minutes (None: no time box) for one meeting, replacing the meeting's previous order."""
    meeting = meeting_key(meeting_at)
    at = _iso(now or datetime.now(UTC))
    rows = [
        (meeting, cid, i + 1, None if m is None else int(m), updated_by, at)
        for i, (cid, m) in enumerate(items)
    ]
    for _m, _c, _p, minutes, _u, _a in rows:
        if minutes is not None and not 0 < minutes <= 480:
            raise ValueError(f"a time box is 1 to 480 minutes, not {minutes}")
    con.execute("begin immediate")
    try:
        con.execute("delete from cab_meeting_item where meeting_at = ?", [meeting])
        con.executemany(
            "insert into cab_meeting_item (meeting_at, change_id, position, timebox_minutes, updated_by, "
            "updated_at) values (?, ?, ?, ?, ?, ?)",
            rows,
        )
        con.execute("commit")
    except BaseException:
        if con.in_transaction:
            con.execute("rollback")
        raise
    return len(rows)


def running_order(con: sqlite3.Connection, meeting_at: datetime) -> dict[str, tuple[int, int | None]]:
    """The chair's stored order of one meeting: change_id -> (position, time box minutes)."""
    rows = con.execute(
        "select change_id, position, timebox_minutes from cab_meeting_item where meeting_at = ?",
        [meeting_key(meeting_at)],
    ).fetchall()
    return {str(c): (int(p), None if m is None else int(m)) for c, p, m in rows}


def read_running_order(ops_db: Path, meeting_at: datetime) -> dict[str, tuple[int, int | None]]:
    """:func:`running_order` from the store file, read-only (no store or no order: empty): what the
    printed pack (``changeboard report cab``, the CAB page's downloads) lists the items in."""
    if not ops_db.exists():
        return {}
    con = sqlite3.connect(f"file:{ops_db}?mode=ro", uri=True, timeout=10.0)
    try:
        has = con.execute("select count(*) from sqlite_master where name = 'cab_meeting_item'").fetchone()[0]
        return running_order(con, meeting_at) if has else {}
    finally:
        con.close()


# --- attendees -----------------------------------------------------------------------------------------


def add_attendee(
    con: sqlite3.Connection,
    meeting_at: datetime,
    name: str,
    *,
    role: str | None = None,
    added_by: str,
    now: datetime | None = None,
) -> None:
    """Record one attendee of a meeting (idempotent per name)."""
    name = (name or "").strip()
    if not name:
        raise ValueError("an attendee needs a name")
    con.execute(
        "insert into cab_attendee (meeting_at, name, role, added_by, added_at) values (?, ?, ?, ?, ?) "
        "on conflict (meeting_at, name) do update set role = excluded.role",
        [meeting_key(meeting_at), name, _clean(role), added_by, _iso(now or datetime.now(UTC))],
    )


def attendees(con: sqlite3.Connection, meeting_at: datetime) -> list[dict[str, object]]:
    return _rows(
        con.execute(
            "select name, role, added_by, added_at from cab_attendee where meeting_at = ? order by added_at, name",
            [meeting_key(meeting_at)],
        )
    )
