"""The change-request form's transactional store: SQLite in WAL mode, never the warehouse.

Several Streamlit processes may write at once; SQLite serialises them with ``busy_timeout`` (a
wait, not an error), ``synchronous=FULL`` makes a commit durable before the requester sees the
reference number, and the ``idempotency_key`` makes a double click or a retry a no-op. The pipeline
reads this store like any other source (:mod:`ingest.sources.forms`).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

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
"""


def connect_ops(path: Path, *, timeout: float = 10.0) -> sqlite3.Connection:
    """Open the ops store (creating it): WAL, full sync, foreign keys, autocommit mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    con.execute("pragma journal_mode=wal")
    con.execute("pragma synchronous=full")
    con.execute("pragma foreign_keys=on")
    con.execute(f"pragma busy_timeout={int(timeout * 1000)}")
    con.executescript(SCHEMA)
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
    from datetime import UTC, datetime

    now = datetime.now(UTC).isoformat(timespec="seconds")
    values = {k: fields.get(k) for k in REQUEST_FIELDS}
    values["identity_verified"] = int(bool(values["identity_verified"]))
    if not isinstance(values["cis"], str):
        import json

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
        return reference
    except BaseException:
        con.execute("rollback")
        raise
