"""The change-request form's transactional store: SQLite in WAL mode, never the warehouse.

Several Streamlit processes may write at once; SQLite serialises them with ``busy_timeout`` (a
wait, not an error), ``synchronous=FULL`` makes a commit durable before the requester sees the
reference number, and the ``idempotency_key`` makes a double click or a retry a no-op. The pipeline
reads this store like any other source (:mod:`ingest.sources.forms`).
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from difflib import SequenceMatcher
from pathlib import Path

from changeboard.faults import fault

SCHEMA = """
create table if not exists change_request (
    request_id integer primary key autoincrement,
    reference text not null unique,
    idempotency_key text not null unique,
    created_at text not null,
    updated_at text not null,
    created_by text not null,
    identity_verified integer not null default 0,
    title text not null,
    description text,
    justification text,
    change_type text not null,
    template text,
    service text,
    cis text not null default '[]',
    window_start text,
    window_end text,
    impact text,
    risk text,
    implementation_plan text,
    test_plan text,
    backout_plan text,
    status text not null default 'submitted'
);
create table if not exists decision (
    decision_id integer primary key autoincrement,
    request_id integer not null references change_request(request_id),
    decision text not null check (decision in ('approved', 'rejected')),
    comment text,
    decided_by text not null,
    decided_at text not null
);
create table if not exists cab_decision (
    cab_decision_id integer primary key autoincrement,
    idempotency_key text not null unique,
    change_id text not null,
    source_system text not null,
    number text not null,
    source_id text,
    title text,
    meeting_at text,
    decision text not null
        check (decision in ('approved', 'approved_with_conditions', 'rejected', 'deferred')),
    reason text,
    conditions text,
    deferred_to text,
    decided_by text not null,
    identity_verified integer not null default 0,
    decided_at text not null,
    blackout_confirmed integer not null default 0,
    risk_level text,
    risk_score integer,
    in_blackout integer,
    blackout_window_name text,
    collision_count integer
);
create table if not exists cab_meeting_item (
    meeting_at text not null,
    change_id text not null,
    position integer not null,
    timebox_minutes integer,
    updated_by text,
    updated_at text not null,
    primary key (meeting_at, change_id)
);
create table if not exists cab_attendee (
    meeting_at text not null,
    name text not null,
    role text,
    added_by text,
    added_at text not null,
    primary key (meeting_at, name)
);
create index if not exists cab_decision_change on cab_decision (change_id);
create index if not exists cab_decision_meeting on cab_decision (meeting_at);
create index if not exists change_request_created_by on change_request (created_by);
create index if not exists change_request_status on change_request (status);
create index if not exists decision_request on decision (request_id);
"""

STATUSES = ("submitted", "approved", "rejected")
DECISIONS = ("approved", "rejected")


def connect_ops(path: Path, *, timeout: float = 10.0) -> sqlite3.Connection:
    """Open the ops store (creating it): WAL, full sync, foreign keys, autocommit mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    con.execute("pragma journal_mode=wal")
    con.execute("pragma synchronous=full")
    con.execute("pragma foreign_keys=on")
    con.execute(f"pragma busy_timeout={int(timeout * 1000)}")
    # One transaction: a reader that opens the file while it is being created sees either no
    # tables or all of them (executescript alone commits each statement on its own).
    con.executescript(f"begin immediate;\n{SCHEMA}\ncommit;")
    return con


REQUEST_FIELDS = (
    "created_by",
    "identity_verified",
    "title",
    "description",
    "justification",
    "change_type",
    "template",
    "service",
    "cis",
    "window_start",
    "window_end",
    "impact",
    "risk",
    "implementation_plan",
    "test_plan",
    "backout_plan",
)


def submit(con: sqlite3.Connection, fields: dict[str, object], idempotency_key: str) -> str:
    """Store one request durably and return its reference; a repeat of the same key is a no-op.

    One transaction: the reference is derived from the row id, and ``on conflict do nothing`` on the
    idempotency key makes a double click, a refresh or a retry return the first request's reference.
    """
    now = datetime.now(UTC).isoformat(timespec="seconds")
    values = {k: fields.get(k) for k in REQUEST_FIELDS}
    values["identity_verified"] = int(bool(values["identity_verified"]))
    if not isinstance(values["cis"], str):
        values["cis"] = json.dumps(list(values["cis"] or []))
    con.execute("begin immediate")
    try:
        row = con.execute(
            "select reference from change_request where idempotency_key = ?", [idempotency_key]
        ).fetchone()
        if row:
            con.execute("commit")
            return str(row[0])
        cols = ", ".join(REQUEST_FIELDS)
        marks = ", ".join("?" for _ in REQUEST_FIELDS)
        cur = con.execute(
            f"insert into change_request (reference, idempotency_key, created_at, updated_at, {cols}) "
            f"values ('pending-' || ?, ?, ?, ?, {marks})",
            [idempotency_key, idempotency_key, now, now, *values.values()],
        )
        request_id = cur.lastrowid
        reference = f"CR{request_id:07d}"
        con.execute("update change_request set reference = ? where request_id = ?", [reference, request_id])
        con.execute("commit")
        fault("form:after_commit")  # a crash here (before the confirmation renders) must lose nothing
        return reference
    except BaseException:
        con.execute("rollback")
        raise


# --- reading requests ------------------------------------------------------------------------------


def _rows(cur: sqlite3.Cursor) -> list[dict[str, object]]:
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


_LIST_SQL = """
select r.*, d.decision, d.comment as decision_comment, d.decided_by, d.decided_at
from change_request r
left join decision d on d.decision_id = (
    select max(decision_id) from decision where decision.request_id = r.request_id
)
"""


def _decode(row: dict[str, object]) -> dict[str, object]:
    row["cis"] = json.loads(str(row.get("cis") or "[]"))
    row["identity_verified"] = bool(row.get("identity_verified"))
    return row


def get_request(con: sqlite3.Connection, reference: str) -> dict[str, object] | None:
    """One request (with its latest decision, if any), or None."""
    rows = _rows(con.execute(_LIST_SQL + " where r.reference = ?", [reference]))
    return _decode(rows[0]) if rows else None


def find_by_key(con: sqlite3.Connection, idempotency_key: str) -> dict[str, object] | None:
    """The request a form instance already stored (a refresh or a retry), or None."""
    rows = _rows(con.execute(_LIST_SQL + " where r.idempotency_key = ?", [idempotency_key]))
    return _decode(rows[0]) if rows else None


def list_requests(
    con: sqlite3.Connection,
    *,
    created_by: str | None = None,
    statuses: Iterable[str] | None = None,
    limit: int | None = None,
) -> list[dict[str, object]]:
    """Requests newest first, optionally of one requester (case-insensitive) and some statuses."""
    where: list[str] = []
    params: list[object] = []
    if created_by is not None:
        where.append("lower(r.created_by) = lower(?)")
        params.append(created_by)
    if statuses is not None:
        wanted = [s for s in statuses if s in STATUSES]
        where.append(f"r.status in ({', '.join('?' for _ in wanted) or 'null'})")
        params.extend(wanted)
    sql = _LIST_SQL + (" where " + " and ".join(where) if where else "") + " order by r.request_id desc"
    if limit is not None:
        sql += " limit ?"
        params.append(int(limit))
    return [_decode(r) for r in _rows(con.execute(sql, params))]


def decisions(con: sqlite3.Connection, reference: str) -> list[dict[str, object]]:
    """Every decision on a request, oldest first."""
    return _rows(
        con.execute(
            "select d.decision, d.comment, d.decided_by, d.decided_at from decision d "
            "join change_request r using (request_id) where r.reference = ? order by d.decision_id",
            [reference],
        )
    )


# --- CAB decisions ---------------------------------------------------------------------------------------


class DecisionRefused(ValueError):
    """The decision cannot be recorded (unknown request, or already decided); the message says why."""


@dataclass(frozen=True)
class DecisionResult:
    reference: str
    decision: str
    decided_by: str
    decided_at: str
    comment: str | None
    repeated: bool = False  # the same decision was already recorded (a double click): nothing written


def decide(
    con: sqlite3.Connection,
    reference: str,
    decision: str,
    *,
    decided_by: str,
    comment: str | None = None,
    now: datetime | None = None,
) -> DecisionResult:
    """Approve or reject a submitted request: one transaction writes the decision row (who, when, comment)
    and moves the request's status. Repeating the same decision by the same person is a no-op (a double
    click); a different decision on an already decided request is refused."""
    if decision not in DECISIONS:
        raise DecisionRefused(f"a decision is one of {', '.join(DECISIONS)}, not {decision!r}")
    if not decided_by:
        raise DecisionRefused("a decision needs the name of who made it")
    at = (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
    con.execute("begin immediate")
    try:
        row = con.execute(
            "select request_id, status from change_request where reference = ?", [reference]
        ).fetchone()
        if row is None:
            raise DecisionRefused(f"there is no request {reference}")
        request_id, status = row
        if status != "submitted":
            last = con.execute(
                "select decision, decided_by, decided_at, comment from decision where request_id = ? "
                "order by decision_id desc limit 1",
                [request_id],
            ).fetchone()
            if last and last[0] == decision and str(last[1]).lower() == decided_by.lower():
                con.execute("commit")
                return DecisionResult(reference, last[0], last[1], last[2], last[3], repeated=True)
            who = f" by {last[1]} at {last[2]}" if last else ""
            raise DecisionRefused(f"{reference} was already {status}{who}")
        con.execute(
            "insert into decision (request_id, decision, comment, decided_by, decided_at) values (?, ?, ?, ?, ?)",
            [request_id, decision, comment or None, decided_by, at],
        )
        con.execute(
            "update change_request set status = ?, updated_at = ? where request_id = ?",
            [decision, at, request_id],
        )
        con.execute("commit")
        return DecisionResult(reference, decision, decided_by, at, comment or None)
    except BaseException:
        if con.in_transaction:
            con.execute("rollback")
        raise


# --- matching requests to ITSM changes that arrive later ------------------------------------------------

MATCH_TITLE_SIMILARITY = 0.6
_WORD = re.compile(r"[\w-]+")


def _normalise_title(title: object) -> str:
    return " ".join(_WORD.findall(str(title or "").lower()))


def title_similarity(a: object, b: object) -> float:
    """0..1: difflib's ratio of the lower-cased titles (punctuation and spacing ignored), taken also with
    the words sorted so that word order does not matter; the higher of the two."""
    x, y = _normalise_title(a), _normalise_title(b)
    if not x or not y:
        return 0.0
    xs, ys = " ".join(sorted(x.split())), " ".join(sorted(y.split()))
    return max(SequenceMatcher(None, x, y).ratio(), SequenceMatcher(None, xs, ys).ratio())


def _as_dt(value: object) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Match:
    """An ITSM change that is the same piece of work as a form request, and why we think so."""

    number: str
    rule: str  # 'reference quoted' | 'same CI, overlapping window, similar title'
    state_category: str | None
    outcome: str | None
    similarity: float | None = None


def match_request(request: Mapping[str, object], changes: Iterable[Mapping[str, object]]) -> Match | None:
    """The ITSM change (not from the form) that a request became, or None. The rule, in order:

    1. the change's title or description quotes the request's reference (``CR0000042``, whole word,
       any case): the requester or the change manager linked them explicitly;
    2. otherwise the same CI (the change's primary CI is one of the request's CIs, case-insensitive),
       an overlapping planned window, and a similar title (:func:`title_similarity` at least
       ``MATCH_TITLE_SIMILARITY``); the most similar wins.
    """
    reference = str(request["reference"])
    quoted = re.compile(rf"(?<![\w]){re.escape(reference)}(?![\w])", re.IGNORECASE)
    cis = {str(c).casefold() for c in request.get("cis") or ()}  # type: ignore[attr-defined]
    start, end = _as_dt(request.get("window_start")), _as_dt(request.get("window_end"))
    best: Match | None = None
    for ch in changes:
        if ch.get("source_system") == "form" or ch.get("number") == reference:
            continue
        text = f"{ch.get('title') or ''}\n{ch.get('description') or ''}"
        if quoted.search(text):
            return Match(
                str(ch["number"]), "reference quoted", _opt(ch.get("state_category")), _opt(ch.get("outcome"))
            )
        ci = str(ch.get("primary_ci_name") or "").casefold()
        c_start, c_end = _as_dt(ch.get("planned_start_at")), _as_dt(ch.get("planned_end_at"))
        if not (ci and ci in cis and start and end and c_start and c_end):
            continue
        if not (start < c_end and c_start < end):
            continue
        sim = title_similarity(request.get("title"), ch.get("title"))
        if sim >= MATCH_TITLE_SIMILARITY and (best is None or sim > (best.similarity or 0)):
            best = Match(
                str(ch["number"]),
                "same CI, overlapping window, similar title",
                _opt(ch.get("state_category")),
                _opt(ch.get("outcome")),
                round(sim, 2),
            )
    return best


def _opt(value: object) -> str | None:
    return None if value is None else str(value)


# The lifecycle a requester sees on "My requests", most advanced first.
LIFECYCLE = ("rejected", "implemented", "matched", "approved", "on the CAB agenda", "submitted")


def derive_status(request: Mapping[str, object], *, on_agenda: bool, match: Match | None) -> str:
    """What to tell the requester: rejected > implemented (the matched ITSM change closed) > matched to an
    ITSM change > approved > on the CAB agenda (the request reached the published warehouse) > submitted."""
    status = request.get("status")
    if status == "rejected":
        return "rejected"
    if match is not None:
        if match.state_category == "closed":
            return "implemented"
        return "matched"
    if status == "approved":
        return "approved"
    if on_agenda:
        return "on the CAB agenda"
    return "submitted"
