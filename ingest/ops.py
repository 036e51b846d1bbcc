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
