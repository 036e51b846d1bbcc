"""The generic loader: canonical rows into the ingest database, idempotently, without losing a row.

For each file (see DECISIONLOG.md, "ingest"):
1. the file is copied to ``landing/<system>/<sha256>.<ext>`` (immutable, the replay source);
2. an ``meta.ingest_run`` row is committed with status ``running``;
3. the connector's canonical frames are staged, and in ONE transaction: rows that could not be typed
   go to ``meta.quarantine``; within the file the newest version of each key wins (older copies are
   *superseded*; same version with different content is quarantined, never guessed); against the
   loaded table a newer ``updated_at`` updates, an identical row is *unchanged*, an older one is
   *superseded*; the run row gets its counts, which must balance:
   ``rows read = inserted + updated + unchanged + superseded + quarantined``.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
from changeboard.ingest.canonical import ENTITIES, Entity, create_raw_schema
from changeboard.ingest.mapping import MappedFrame

from changeboard.faults import fault
from changeboard.timing import phase

META_DDL = """
create schema if not exists meta;
create sequence if not exists meta.ingest_run_seq;
create table if not exists meta.ingest_run (
    run_id bigint primary key default nextval('meta.ingest_run_seq'),
    pipeline_run_id varchar,
    source_system varchar,
    source_table varchar,
    file_name varchar,
    file_path varchar,
    file_sha256 varchar,
    landed_path varchar,
    status varchar,           -- running | succeeded | failed | skipped_duplicate | aborted
    rows_read bigint,
    inserted bigint,
    updated bigint,
    unchanged bigint,
    superseded bigint,
    quarantined bigint,
    warnings varchar[],
    error varchar,
    started_at timestamp,
    finished_at timestamp,
    duration_seconds double
);
create table if not exists meta.quarantine (
    run_id bigint,
    file_name varchar,
    source_system varchar,
    entity varchar,
    source_row bigint,
    record_key varchar,
    reason varchar,
    reasons varchar[],
    raw_record varchar,
    quarantined_at timestamp
);
-- added after the first release: the size tells a likely re-run of a loaded file (hashed first)
alter table meta.ingest_run add column if not exists file_bytes bigint;
-- issue 17: the file's physical data rows beside the records derived from them (rows_read), and
-- the reading's identity (the mapping and settings it was read with; see pipeline.run.fingerprint)
alter table meta.ingest_run add column if not exists file_rows bigint;
alter table meta.ingest_run add column if not exists file_rows_quarantined bigint;
alter table meta.ingest_run add column if not exists reading_fingerprint varchar;
alter table meta.ingest_run add column if not exists reading_description varchar;
alter table meta.ingest_run add column if not exists replaced_by_run bigint;
alter table meta.ingest_run add column if not exists records_replaced bigint;
-- issue 17 point 8: a refused or failed file's records and rows that were not loaded (nor quarantined),
-- so that records = inserted + updated + unchanged + superseded + quarantined + not_loaded holds for
-- every run, and file rows = rows loaded + rows quarantined + rows not loaded
alter table meta.ingest_run add column if not exists not_loaded bigint;
alter table meta.ingest_run add column if not exists file_rows_not_loaded bigint;
create table if not exists meta.form_sync (
    synced_at timestamp,
    requests bigint,
    decisions bigint
);
"""


# DuckDB's memory limit for the ingest connection (a 1 GB export must load under 2 GB peak).
ENV_INGEST_MEMORY = "CHANGEBOARD_INGEST_MEMORY"
DEFAULT_INGEST_MEMORY = "512MB"
# Rows handed to DuckDB at a time when a frame is staged: about STAGE_BYTES of the frame. DuckDB's
# scan of a frame copies it, so a slice bounds memory; but every insert statement has a cost that
# small slices pay many times.
STAGE_BYTES = 256 * 2**20
STAGE_ROWS: int | None = None  # a fixed slice length instead (tests cut files at chosen rows)


def _arrow(frame: pl.DataFrame) -> pa.Table:
    """A frame as DuckDB scans it: Arrow with string views, which share the frame's buffers (a
    frame scanned as it is goes through ``to_arrow()``, which copies every string: 1M changes 0.9 s)."""
    return frame.to_arrow(compat_level=pl.CompatLevel.newest())


def stage_rows(frame: pl.DataFrame) -> int:
    """The slice length for staging ``frame``."""
    if STAGE_ROWS is not None:
        return STAGE_ROWS
    per_row = max(1, frame.estimated_size() // max(1, frame.height))
    return max(10_000, STAGE_BYTES // per_row)


class BalanceError(AssertionError):
    """Rows read did not equal loaded + unchanged + superseded + quarantined: nothing is committed."""


@dataclass
class EntityCounts:
    """Per entity counts of one file's load."""

    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    superseded: int = 0
    quarantined: int = 0
    # records of a file refused (too much quarantined) or failed: the file's transaction rolled back,
    # so none of them is in raw (its quarantined records are still counted as quarantined)
    not_loaded: int = 0

    def add(self, other: EntityCounts) -> None:
        for k in vars(self):
            setattr(self, k, getattr(self, k) + getattr(other, k))

    @property
    def balanced(self) -> bool:
        return (
            self.rows_read
            == self.inserted
            + self.updated
            + self.unchanged
            + self.superseded
            + self.quarantined
            + self.not_loaded
        )


@dataclass
class FileRows:
    """The file's physical data rows (header and blank lines aside) that reached the loader, and
    those of them with a quarantined record: ``file rows = rows loaded + rows quarantined``. Rows are
    told by their ``_source_row`` (the line or record number), whatever records each one became."""

    seen: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    bad: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def _mark(self, which: str, rows: pl.Series) -> None:
        if rows.len() == 0:
            return
        values = rows.drop_nulls().cast(pl.Int64).to_numpy()
        if values.size == 0:
            return
        top = int(values.max()) + 1
        arr = getattr(self, which)
        if arr.size < top:
            grown = np.zeros(max(top, arr.size * 2), dtype=bool)
            grown[: arr.size] = arr
            arr = grown
            setattr(self, which, arr)
        arr[values] = True

    def add(self, mapped: MappedFrame) -> None:
        self._mark("seen", mapped.frame.get_column("_source_row"))
        self._mark("seen", mapped.quarantine.get_column("_source_row"))
        self._mark("bad", mapped.quarantine.get_column("_source_row"))

    @property
    def rows(self) -> int:
        return int(self.seen.sum())

    @property
    def quarantined(self) -> int:
        return int(self.bad.sum())


class QuarantineLimit(Exception):
    """More of a file's rows were quarantined than its threshold allows: nothing of it is committed."""

    def __init__(self, summary: str, counts: EntityCounts, file_rows: FileRows) -> None:
        super().__init__(summary)
        self.summary = summary
        self.counts = counts
        self.file_rows = file_rows


@dataclass
class FileResult:
    """The outcome of ingesting one file, as recorded in the ledger."""

    path: Path
    source_system: str | None
    source_table: str | None
    status: str
    run_id: int | None = None
    counts: EntityCounts = field(default_factory=EntityCounts)
    file_rows: int | None = None  # the file's physical data rows (counts are of records)
    file_rows_quarantined: int | None = None
    file_rows_not_loaded: int | None = None  # a refused or failed file's rows that were not quarantined
    replaced_note: str | None = None  # what the run replaced of earlier readings of the file
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    duration_seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)  # where the time went (the benchmark's)


def now_utc() -> datetime:
    """The current UTC time as a naive timestamp (DuckDB ``TIMESTAMP`` is UTC by convention here)."""
    return datetime.now(UTC).replace(tzinfo=None)


def connect_ingest(path: Path) -> duckdb.DuckDBPyConnection:
    """Open the ingest database read-write (pipeline only: the caller holds the pipeline lock)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    # Bounded memory whatever the export's size: DuckDB spills to <db>.tmp beyond this.
    con.execute(f"set memory_limit = '{os.environ.get(ENV_INGEST_MEMORY, DEFAULT_INGEST_MEMORY)}'")
    con.execute("set preserve_insertion_order = false")
    create_raw_schema(con)
    con.execute(META_DDL)
    _rehash(con)
    return con


def mark_aborted(
    con: duckdb.DuckDBPyConnection, reason: str = "the process died before the run committed"
) -> int:
    """Runs left ``running`` by a crash become ``aborted`` (their data was never committed)."""
    rows = con.execute(
        "update meta.ingest_run set status = 'aborted', finished_at = ?, error = ? "
        "where status = 'running' returning run_id",
        [now_utc(), reason],
    ).fetchall()
    return len(rows)


def already_loaded(con: duckdb.DuckDBPyConnection, sha: str) -> int | None:
    """The run that already loaded a file with this content, if any."""
    row = con.execute(
        "select run_id from meta.ingest_run where file_sha256 = ? and status = 'succeeded' order by run_id limit 1",
        [sha],
    ).fetchall()
    return row[0][0] if row else None


def maybe_loaded(con: duckdb.DuckDBPyConnection, size: int) -> bool:
    """Whether a file of this many bytes was loaded before (then it is probably a re-run, and its
    checksum is worth computing before reading it)."""
    return bool(
        con.execute(
            "select 1 from meta.ingest_run where file_bytes = ? and status = 'succeeded' limit 1", [size]
        ).fetchall()
    )


def landing_path(path: Path, landing: Path, system: str, sha: str) -> Path:
    """Where :func:`land` keeps an export."""
    return landing / system / f"{sha}{''.join(path.suffixes[-1:]) or '.dat'}"


def land(path: Path, landing: Path, system: str, sha: str) -> Path:
    """Copy an export into ``landing/<system>/<sha256><suffix>`` once (atomic rename, fsync)."""
    with phase("ingest.land"):
        target = landing_path(path, landing, system, sha)
        if target.exists():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(target.name + ".part")
        shutil.copyfile(path, part)
        with part.open("rb") as f:
            os.fsync(f.fileno())
        part.replace(target)
        return target


def start_run(
    con: duckdb.DuckDBPyConnection,
    *,
    pipeline_run_id: str,
    path: Path,
    sha: str,
    landed: Path | None,
    system: str | None,
    table: str | None,
    status: str = "running",
) -> int:
    """Commit a ledger row before the load (a crash leaves it ``running``, later ``aborted``)."""
    try:
        size: int | None = path.stat().st_size if path.is_file() else None
    except OSError:
        size = None
    rows = con.execute(
        "insert into meta.ingest_run (pipeline_run_id, source_system, source_table, file_name, file_path, "
        "file_sha256, file_bytes, landed_path, status, started_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) returning run_id",
        [
            pipeline_run_id,
            system,
            table,
            path.name,
            str(path),
            sha,
            size,
            str(landed) if landed else None,
            status,
            now_utc(),
        ],
    ).fetchall()
    return int(rows[0][0])


def finish_run(con: duckdb.DuckDBPyConnection, result: FileResult, started: float) -> None:
    """Record the outcome and counts of a run."""
    c = result.counts
    result.duration_seconds = time.perf_counter() - started
    con.execute(
        "update meta.ingest_run set status = ?, file_rows = ?, file_rows_quarantined = ?, "
        "file_rows_not_loaded = ?, rows_read = ?, inserted = ?, updated = ?, unchanged = ?, "
        "superseded = ?, quarantined = ?, not_loaded = ?, warnings = ?, error = ?, finished_at = ?, duration_seconds = ?, "
        "source_system = coalesce(?, source_system), source_table = coalesce(?, source_table) where run_id = ?",
        [
            result.status,
            result.file_rows,
            result.file_rows_quarantined,
            result.file_rows_not_loaded,
            c.rows_read,
            c.inserted,
            c.updated,
            c.unchanged,
            c.superseded,
            c.quarantined,
            c.not_loaded,
            result.warnings,
            result.error,
            now_utc(),
            result.duration_seconds,
            result.source_system,
            result.source_table,
            result.run_id,
        ],
    )


# How ``_row_hash`` is computed: DuckDB's 64-bit hash() of the data columns. It is ~5x cheaper than an
# md5 of the row's text (1M changes: 0.1 s against 2 s of a 6 s load) but DuckDB does not promise the
# same values across its releases, so the scheme names the DuckDB version and an ingest database
# hashed under another scheme is re-hashed once when it is opened (an unchanged row must never look
# changed: with the same updated_at it would be quarantined as a conflict).
ROW_HASH_SCHEME = f"duckdb-hash/{duckdb.__version__}"


def _hash_expr(entity: Entity) -> str:
    """The row hash of an entity's data columns, as text."""
    return "cast(hash(" + ", ".join(f'"{c}"' for c in entity.columns) + ") as varchar)"


def _rehash(con: duckdb.DuckDBPyConnection) -> None:
    """Bring every stored ``_row_hash`` to :data:`ROW_HASH_SCHEME` (once per ingest database and
    DuckDB release), in one transaction."""
    con.execute("create table if not exists meta.setting (name varchar primary key, value varchar)")
    stored = con.execute("select value from meta.setting where name = 'row_hash_scheme'").fetchall()
    if stored and stored[0][0] == ROW_HASH_SCHEME:
        return
    con.execute("begin transaction")
    try:
        for entity in ENTITIES.values():
            con.execute(f"update {entity.table} set _row_hash = {_hash_expr(entity)}")
        con.execute("insert or replace into meta.setting values ('row_hash_scheme', ?)", [ROW_HASH_SCHEME])
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def _key_match(entity: Entity, left: str, right: str) -> str:
    return " and ".join(f'{left}."{k}" = {right}."{k}"' for k in entity.key)


def _key_text(entity: Entity, alias: str) -> str:
    return "concat_ws('|', " + ", ".join(f'cast({alias}."{k}" as varchar)' for k in entity.key) + ")"


# Same key, same version (updated_at, and sequence where the export has one), different content: the
# LAST such row in the file is kept and the others count as superseded (D30); a warning names the keys.
# A row of a later file with the same version as the loaded record and different content replaces it.
TIE_RULE = "the last of them in the file was kept"
TIE_EXAMPLES = 5


def _rank_versions(con: duckdb.DuckDBPyConnection, entity: Entity, tables: _Temp) -> list[str]:
    """Add each key's top version of the staged rows to the chosen ones: the latest version, then the
    highest sequence, then the last row in the file (see :data:`TIE_RULE`). Returns the warnings
    about ties whose rows differ in content."""
    keys = ", ".join(f'"{k}"' for k in entity.key)
    con.execute(f"drop table if exists {tables.ranked}")
    con.execute(
        f"""create temp table {tables.ranked} as
        select *,
            row_number() over (partition by {keys} order by _v desc, _seq desc, _source_row desc) as _rn,
            _v = max(_v) over (partition by {keys}) and _seq = max(_seq) over (partition by {keys}, _v) as _is_top
        from {tables.stage}"""
    )
    ties = con.execute(
        f"""select {_key_text(entity, "r")} as k, list(_source_row order by _source_row) as rows_,
            max(_source_row) as kept
        from {tables.ranked} r where _is_top
        group by all having count(distinct _row_hash) > 1 order by min(_source_row)"""
    ).fetchall()
    con.execute(
        f"""insert into {tables.chosen} by name
        select * exclude (_rn, _is_top) from {tables.ranked} where _rn = 1"""
    )
    if not ties:
        return []
    shown = "; ".join(
        f"{k} (rows {', '.join(map(str, rows[:6]))}{' ...' if len(rows) > 6 else ''}: row {kept} kept)"
        for k, rows, kept in ties[:TIE_EXAMPLES]
    )
    more = f"; and {len(ties) - TIE_EXAMPLES:,} more" if len(ties) > TIE_EXAMPLES else ""
    return [
        f"WARNING: {entity.name}: {len(ties):,} key(s) have rows with the same "
        f"{entity.version_column or 'version'} and different content; {TIE_RULE}: {shown}{more}"
    ]


# How a row is routed: its key is once in the file so far and not loaded before (FRESH: inserted
# straight from the frame); once so far and loaded before (KNOWN: classified against the loaded row
# at the end of the file); more than once in the file (REPEATED: ranked within the file first).
FRESH, KNOWN, REPEATED = 0, 1, 2


@dataclass(frozen=True)
class _Temp:
    """The temporary tables of one entity's load (one file may load several entities at once)."""

    stage: str
    chosen: str
    ranked: str
    classified: str
    seen: str  # the key hashes of the file's rows so far
    old: str  # the key hashes of the rows loaded before the file

    @classmethod
    def of(cls, entity: Entity) -> _Temp:
        names = ("stage", "chosen", "ranked", "classified", "seen", "old")
        return cls(*(f"_{what}_{entity.name}" for what in names))

    def drop(self, con: duckdb.DuckDBPyConnection) -> None:
        for t in (self.stage, self.chosen, self.ranked, self.classified, self.seen, self.old):
            con.execute(f"drop table if exists {t}")


# DuckDB's row group. EntityLoad's rows to insert straight wait until whole row groups are ready (the
# rest at the end) and go in on one DuckDB thread, so that every row group but the last is full: two
# insert threads each leave a partial row group per statement, which the checkpoint at close rewrites
# (5M incidents: 4-7 s, and a file of 745 MB instead of 436 MB). StreamLoad avoids both with one
# statement per file.
ROW_GROUP_ROWS = 122_880


class EntityLoad:
    """One entity's rows of one file, loaded batch by batch inside the caller's open transaction.

    A file's rows may come in batches (a large export is mapped while the previous batch loads), so
    a key's route is told from the rows before it, by the 64-bit hashes of the keys: a key not seen
    in the file so far and not loaded before is inserted straight (FRESH); one seen before in the
    file takes its earlier rows back, from the table, the rows waiting to be inserted or the chosen
    ones, into the stage with its own (REPEATED); one loaded before waits in the chosen table (KNOWN).
    :meth:`finish` ranks the staged keys, classifies the chosen rows against the loaded table and
    returns the counts. A hash that matches another key only sends a row the long way: the stage,
    the ranking and the classification compare the keys themselves.

    Rows taken back from the table have no sequence value (``_seq``): a connector that orders
    versions by a sequence column gives its whole frame at once (ServiceNow audit logs), so nothing
    is taken back there.
    """

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        entity: Entity,
        *,
        run_id: int,
        file_name: str,
        source_system: str | None,
    ) -> None:
        self.con = con
        self.entity = entity
        self.run_id = run_id
        self.file_name = file_name
        self.source_system = source_system
        self.loaded_at = now_utc()
        self.temp = _Temp.of(entity)
        self.counts = EntityCounts()
        self.notes: list[str] = []  # warnings of the load (ties settled by TIE_RULE)
        self.rows = 0  # rows of the frames (quarantined reading rows aside)
        self.fresh = 0  # rows inserted straight, or waiting to be
        self.waiting: list[pl.DataFrame] = []  # FRESH rows not inserted yet (less than a row group)
        self.staged = 0
        self.chosen = 0
        self.created = False
        self.step: int | None = None
        cols = ", ".join(f'"{c}"' for c in entity.columns)
        self.keys = ", ".join(f'"{k}"' for k in entity.key)
        self.key_hash = "hash(" + ", ".join(f'cast("{k}" as {entity.columns[k]})' for k in entity.key) + ")"
        self.version = f'"{entity.version_column}"' if entity.version_column else "null::timestamp"
        self.insert_fresh = (
            f"insert into {entity.table} ({cols}, _ingest_run_id, _source_file, _source_row, _row_hash, _loaded_at) "
            f"select {cols}, ?, ?, _source_row, {_hash_expr(entity)}, ? from chunk"
        )
        self.stage_select = (
            f"select * exclude (_seq), {_hash_expr(entity)} as _row_hash, "
            f"coalesce({self.version}, '-infinity'::timestamp) as _v, coalesce(_seq, -9223372036854775807) as _seq"
        )

    def add(self, mapped: MappedFrame) -> None:
        """Load one batch of the entity's rows (quarantined reading rows go to ``meta.quarantine``)."""
        con, entity = self.con, self.entity
        self.counts.rows_read += mapped.frame.height + mapped.quarantine.height
        if mapped.quarantine.height:
            q = _arrow(mapped.quarantine)  # noqa: F841  (read by DuckDB by name)
            con.execute(
                "insert into meta.quarantine select ?, ?, ?, ?, _source_row, null, array_to_string(reasons, '; '), "
                "reasons, raw_record, ? from q",
                [self.run_id, self.file_name, self.source_system, entity.name, self.loaded_at],
            )
            self.counts.quarantined += mapped.quarantine.height
        if mapped.frame.height == 0:
            return
        self.rows += mapped.frame.height
        frame = self._rows_of(mapped)
        self._create(frame)
        routes = self._routes(frame)
        for target, which in ((self.temp.chosen, KNOWN), (self.temp.stage, REPEATED)):
            selected = frame.filter(routes == which)
            if selected.height:
                step = self._step(selected)  # DuckDB's scan of a frame copies it: a slice at a time
                for offset in range(0, selected.height, step):
                    rows = _arrow(selected.slice(offset, step))  # noqa: F841  (read by DuckDB by name)
                    con.execute(f"insert into {target} {self.stage_select} from rows")
                if which == KNOWN:
                    self.chosen += selected.height
                else:
                    self.staged += selected.height
        fresh = frame.filter(routes == FRESH)
        if fresh.height:
            self.waiting.append(fresh)
            self.fresh += fresh.height
            self._insert_waiting(whole_row_groups=True)

    def _rows_of(self, mapped: MappedFrame) -> pl.DataFrame:
        """A batch's rows as loaded: source row, the entity's columns, the version order (``_seq``)."""
        seq = mapped.sequence_column
        return mapped.frame.select(
            [
                "_source_row",
                *self.entity.columns,
                (pl.col(seq).cast(pl.Int64) if seq else pl.lit(None, dtype=pl.Int64)).alias("_seq"),
            ]
        )

    def _step(self, frame: pl.DataFrame) -> int:
        """Rows staged at a time, told once per entity (a frame's size estimate walks its strings)."""
        if self.step is None:
            self.step = stage_rows(frame)
        return self.step

    def _insert_waiting(self, *, whole_row_groups: bool) -> None:
        """Insert the FRESH rows waiting: whole row groups only, or all of them (the end)."""
        waiting = pl.concat(self.waiting, rechunk=False) if len(self.waiting) > 1 else self.waiting[0]
        unit = STAGE_ROWS or ROW_GROUP_ROWS
        step = max(unit, self._step(waiting) // unit * unit)
        ready = waiting.height // unit * unit if whole_row_groups else waiting.height
        if ready:
            # one insert thread: it fills each row group it starts (see ROW_GROUP_ROWS), and the
            # other core reads and maps the next batch meanwhile
            self.con.execute("set threads = 1")
        try:
            for offset in range(0, ready, step):
                chunk = _arrow(waiting.slice(offset, min(step, ready - offset)))  # noqa: F841
                self.con.execute(self.insert_fresh, [self.run_id, self.file_name, self.loaded_at])
        finally:
            if ready:
                self.con.execute("reset threads")
        rest = waiting.slice(ready)
        self.waiting = [rest] if rest.height else []

    def _create(self, frame: pl.DataFrame) -> None:
        if self.created:
            return
        temp, con = self.temp, self.con
        temp.drop(con)
        empty = _arrow(frame.head(0))  # noqa: F841  (read by DuckDB by name)
        for t in (temp.stage, temp.chosen):
            con.execute(f"create temp table {t} as {self.stage_select} from empty")
        con.execute(f"create temp table {temp.seen} (h ubigint)")
        con.execute(
            f"create temp table {temp.old} as select distinct {self.key_hash} as h from {self.entity.table}"
        )
        self.created = True

    def _routes(self, frame: pl.DataFrame) -> pl.Series:
        """Each row's route. Earlier rows of keys that come again are moved to the stage first."""
        con, temp = self.con, self.temp
        bk = _arrow(frame.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("_i"), *self.entity.key))  # noqa: F841
        con.execute(f"create or replace temp table _batch_keys as select _i, {self.key_hash} as h from bk")
        row = pl.int_range(0, frame.height, dtype=pl.UInt32, eager=True)

        def rows(sql: str) -> pl.Series:
            return row.is_in(con.sql(sql).pl()["_i"].implode())

        # the batch is the small side of each join: DuckDB builds on it and scans the hashes once
        again = rows(f"select _i from _batch_keys semi join {temp.seen} using (h)")
        known = rows(f"select _i from _batch_keys semi join {temp.old} using (h)")
        repeated = rows("select _i from _batch_keys qualify count(*) over (partition by h) > 1")
        con.execute(f"insert into {temp.seen} select h from _batch_keys")
        con.execute("drop table _batch_keys")
        if again.any():
            self._take_back(frame.filter(again))
        return pl.select(
            pl.when(repeated | again)
            .then(pl.lit(REPEATED, pl.Int8))
            .when(known)
            .then(pl.lit(KNOWN, pl.Int8))
            .otherwise(pl.lit(FRESH, pl.Int8))
        ).to_series()

    def _take_back(self, rows: pl.DataFrame) -> None:
        """Move the earlier rows of the keys of ``rows`` to the stage: those inserted from an earlier
        batch, those waiting to be, and the chosen ones (loaded before)."""
        con, entity, temp = self.con, self.entity, self.temp
        keys = list(entity.key)
        again_keys = rows.select(keys).unique()
        again = _arrow(again_keys)  # noqa: F841  (read by DuckDB by name)
        con.execute("create or replace temp table _again_keys as select * from again")
        self._take_back_loaded()
        con.execute("drop table _again_keys")
        if self.waiting:
            waiting = pl.concat(self.waiting, rechunk=False) if len(self.waiting) > 1 else self.waiting[0]
            back = waiting.join(again_keys, on=keys, how="semi", nulls_equal=True)
            if back.height:
                moved = _arrow(back)  # noqa: F841  (read by DuckDB by name)
                con.execute(f"insert into {temp.stage} {self.stage_select} from moved")
                kept = waiting.join(again_keys, on=keys, how="anti", nulls_equal=True)
                self.waiting = [kept] if kept.height else []
                self.fresh -= back.height
                self.staged += back.height

    def _take_back_loaded(self) -> None:
        """The rows of the keys in ``_again_keys`` that this file inserted into the table or chose,
        into the stage (with their keys' later rows, they are ranked)."""
        con, entity, temp = self.con, self.entity, self.temp
        cols = ", ".join(f'"{c}"' for c in entity.columns)
        taken = con.execute(
            f"""insert into {temp.stage} by name
            select _source_row, {cols}, _row_hash, coalesce({self.version}, '-infinity'::timestamp) as _v,
                -9223372036854775807 as _seq
            from {entity.table} t semi join _again_keys using ({self.keys})
            where t._ingest_run_id = ? returning 1""",
            [self.run_id],
        ).fetchall()
        if taken:
            con.execute(
                f"delete from {entity.table} t using _again_keys a "
                f"where {_key_match(entity, 't', 'a')} and t._ingest_run_id = ?",
                [self.run_id],
            )
            self.fresh -= len(taken)
            self.staged += len(taken)
        moved = con.execute(
            f"insert into {temp.stage} by name select * from {temp.chosen} semi join _again_keys using ({self.keys}) "
            "returning 1"
        ).fetchall()
        if moved:
            con.execute(
                f"delete from {temp.chosen} c using _again_keys a where {_key_match(entity, 'c', 'a')}"
            )
            self.chosen -= len(moved)
            self.staged += len(moved)

    def finish(self) -> EntityCounts:
        """Rank the staged keys, classify the chosen rows against the table; the entity's counts."""
        if self.waiting:
            self._insert_waiting(whole_row_groups=False)
        return self._settle()

    def _settle(self) -> EntityCounts:
        con, entity, counts, temp = self.con, self.entity, self.counts, self.temp
        counts.inserted += self.fresh
        if not self.created:
            return counts
        # Within the file: the top version per repeated key (ties on the version broken by the
        # optional sequence column, then by the row's place in the file: see TIE_RULE).
        if self.staged:
            self.notes.extend(_rank_versions(con, entity, temp))
        n_chosen = con.execute(f"select count(*) from {temp.chosen}").fetchall()[0][0]
        counts.superseded += self.rows - self.fresh - n_chosen

        keys, table, version = self.keys, entity.table, self.version
        classify = f"""
            select c.*,
                case
                    when t._row_hash is null then 'insert'
                    when t._row_hash = c._row_hash then 'unchanged'
                    when {"false" if entity.version_column is None else "t._v_old is not null and c._v < t._v_old"} then 'older'
                    when {"false" if entity.version_column is None else "t._v_old is not null and c._v = t._v_old"} then 'tie'
                    else 'update'
                end as _action
            from {temp.chosen} c
            left join (select {keys}, _row_hash, {version} as _v_old from {table}) t on {_key_match(entity, "c", "t")}
        """
        con.execute(f"create temp table {temp.classified} as {classify}")
        tally = dict(con.execute(f"select _action, count(*) from {temp.classified} group by 1").fetchall())
        counts.inserted += tally.get("insert", 0)
        counts.updated += tally.get("update", 0) + tally.get("tie", 0)
        counts.unchanged += tally.get("unchanged", 0)
        counts.superseded += tally.get("older", 0)
        if tally.get("tie"):
            examples = [
                r[0]
                for r in con.execute(
                    f"select {_key_text(entity, 'c')} from {temp.classified} c where _action = 'tie' "
                    f"order by _source_row limit {TIE_EXAMPLES}"
                ).fetchall()
            ]
            self.notes.append(
                f"WARNING: {entity.name}: {tally['tie']:,} record(s) of this file have the same "
                f"{entity.version_column} as the loaded record and different content; this file's row "
                f"replaced it (the later load wins): {', '.join(examples)}"
                + (" ..." if tally["tie"] > TIE_EXAMPLES else "")
            )
            con.execute(f"update {temp.classified} set _action = 'update' where _action = 'tie'")
        con.execute(
            f"delete from {table} t using {temp.classified} c "
            f"where c._action = 'update' and {_key_match(entity, 't', 'c')}"
        )
        cols = ", ".join(f'"{c}"' for c in entity.columns)
        con.execute(
            f"insert into {table} ({cols}, _ingest_run_id, _source_file, _source_row, _row_hash, _loaded_at) "
            f"select {cols}, ?, ?, _source_row, _row_hash, ? from {temp.classified} where _action in ('insert', 'update')",
            [self.run_id, self.file_name, self.loaded_at],
        )
        temp.drop(con)
        return counts


class StreamLoad(EntityLoad):
    """One entity's rows of one file whose FRESH rows go into the table by ONE insert statement, fed
    batch by batch through an Arrow stream while the file is still being read (D22).

    The statement runs on the file's connection in a thread of its own, on every DuckDB thread; a
    statement per batch would leave partial row groups that the checkpoint rewrites. While it runs,
    the batches are routed on a second connection of the same database (a cursor), which keeps the
    key hashes of the file so far, those of the keys committed before the file (the same as loaded
    before it: the file's own rows are not committed yet), and the rows that do not go straight in
    (KNOWN, REPEATED, quarantined) plus the keys that came again. :meth:`finish` ends the stream,
    moves those rows into the file's transaction, takes back the streamed rows of keys that came
    again, and ranks and classifies as :class:`EntityLoad` does.
    """

    _END = object()

    def __init__(self, con: duckdb.DuckDBPyConnection, entity: Entity, **kw: object) -> None:
        super().__init__(con, entity, **kw)  # type: ignore[arg-type]
        self.side = con.cursor()
        self.side_created = False
        self.stream: queue.Queue[object] = queue.Queue(maxsize=2)
        self.inserting: threading.Thread | None = None
        self.insert_error: BaseException | None = None
        self.streamed = 0

    def add(self, mapped: MappedFrame) -> None:
        """Route one batch; its FRESH rows join the insert statement's stream."""
        entity, side = self.entity, self.side
        self.counts.rows_read += mapped.frame.height + mapped.quarantine.height
        if mapped.quarantine.height:
            q = _arrow(mapped.quarantine)  # noqa: F841  (read by DuckDB by name)
            self._side_tables(None)
            side.execute("insert into _side_quarantine select _source_row, reasons, raw_record from q")
            self.counts.quarantined += mapped.quarantine.height
        if mapped.frame.height == 0:
            return
        self.rows += mapped.frame.height
        frame = self._rows_of(mapped)
        self._side_tables(frame)
        bk = _arrow(frame.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("_i"), *entity.key))  # noqa: F841
        side.execute(f"create or replace temp table _batch_keys as select _i, {self.key_hash} as h from bk")
        row = pl.int_range(0, frame.height, dtype=pl.UInt32, eager=True)

        def rows(sql: str) -> pl.Series:
            return row.is_in(side.sql(sql).pl()["_i"].implode())

        again = rows("select _i from _batch_keys semi join _side_seen using (h)")
        known = rows("select _i from _batch_keys semi join _side_old using (h)")
        repeated = rows("select _i from _batch_keys qualify count(*) over (partition by h) > 1")
        side.execute("insert into _side_seen select h from _batch_keys")
        if again.any():
            keys = _arrow(frame.filter(again).select(list(entity.key)).unique())  # noqa: F841
            side.execute("insert into _side_again select * from keys")
        routes = pl.select(
            pl.when(repeated | again)
            .then(pl.lit(REPEATED, pl.Int8))
            .when(known)
            .then(pl.lit(KNOWN, pl.Int8))
            .otherwise(pl.lit(FRESH, pl.Int8))
        ).to_series()
        for target, which in (("_side_chosen", KNOWN), ("_side_stage", REPEATED)):
            selected = frame.filter(routes == which)
            if selected.height:
                picked = _arrow(selected)  # noqa: F841  (read by DuckDB by name)
                side.execute(f"insert into {target} {self.stage_select} from picked")
        fresh = frame.filter(routes == FRESH)
        if fresh.height:
            self._send(_arrow(fresh.select(["_source_row", *entity.columns])))
            self.streamed += fresh.height

    def _side_tables(self, frame: pl.DataFrame | None) -> None:
        side = self.side
        if not self.side_created:
            side.execute(
                "create or replace temp table _side_quarantine (_source_row bigint, reasons varchar[], raw_record varchar)"
            )
            side.execute("create or replace temp table _side_seen (h ubigint)")
            side.execute(
                f"create or replace temp table _side_old as select {self.key_hash} as h from {self.entity.table}"
            )
            keys = ", ".join(f'"{k}" {self.entity.columns[k]}' for k in self.entity.key)
            side.execute(f"create or replace temp table _side_again ({keys})")
            self.side_created = True
        if frame is not None and not self.created:
            empty = _arrow(frame.head(0))  # noqa: F841  (read by DuckDB by name)
            for t in ("_side_stage", "_side_chosen"):
                side.execute(f"create or replace temp table {t} as {self.stage_select} from empty")
            self.created = True

    def _send(self, batch: pa.Table) -> None:
        if self.inserting is None:
            self.inserting = threading.Thread(target=self._insert, args=(batch.schema,), daemon=True)
            self.inserting.start()
        while True:
            if self.insert_error is not None:
                raise self.insert_error
            try:
                self.stream.put(batch, timeout=0.1)
                return
            except queue.Full:
                continue

    def _insert(self, schema: pa.Schema) -> None:
        def batches() -> Iterator[pa.RecordBatch]:
            while (item := self.stream.get()) is not self._END:
                if isinstance(item, BaseException):
                    raise item
                yield from item.cast(schema).to_batches()  # type: ignore[attr-defined]

        chunk = pa.RecordBatchReader.from_batches(schema, batches())  # noqa: F841  (read by DuckDB by name)
        try:
            self.con.execute(self.insert_fresh, [self.run_id, self.file_name, self.loaded_at])
        except BaseException as exc:
            self.insert_error = exc

    def abort(self) -> None:
        """Stop the insert statement (the file's transaction is rolled back by the caller)."""
        if self.inserting is not None:
            self._end(RuntimeError("the file's load was stopped"))
        self.side.close()

    def _end(self, item: object) -> None:
        assert self.inserting is not None
        while self.inserting.is_alive():
            try:
                self.stream.put(item, timeout=0.1)
                break
            except queue.Full:
                continue
        self.inserting.join()

    def finish(self) -> EntityCounts:
        con, side, entity, temp = self.con, self.side, self.entity, self.temp
        if self.inserting is not None:
            self._end(self._END)
            if self.insert_error is not None:
                raise self.insert_error
        self.fresh = self.streamed
        if not self.side_created:
            side.close()
            return self._settle()
        quarantined = side.sql("select * from _side_quarantine").fetch_record_batch()  # noqa: F841
        con.execute(
            "insert into meta.quarantine select ?, ?, ?, ?, _source_row, null, array_to_string(reasons, '; '), "
            "reasons, raw_record, ? from quarantined",
            [self.run_id, self.file_name, self.source_system, entity.name, self.loaded_at],
        )
        if self.created:
            temp.drop(con)
            for mine, theirs in ((temp.stage, "_side_stage"), (temp.chosen, "_side_chosen")):
                rows = side.sql(f"select * from {theirs}").fetch_record_batch()  # noqa: F841
                con.execute(f"create temp table {mine} as select * from rows")
            again = side.sql("select * from _side_again").arrow()  # noqa: F841  (read by DuckDB by name)
            con.execute("create or replace temp table _again_keys as select distinct * from again")
            self.staged = con.execute(f"select count(*) from {temp.stage}").fetchall()[0][0]
            self.chosen = con.execute(f"select count(*) from {temp.chosen}").fetchall()[0][0]
            if con.execute("select count(*) from _again_keys").fetchall()[0][0]:
                self._take_back_loaded()
            con.execute("drop table _again_keys")
        side.close()
        return self._settle()


def load_frame(
    con: duckdb.DuckDBPyConnection,
    mapped: MappedFrame,
    *,
    run_id: int,
    file_name: str,
    source_system: str | None,
) -> EntityCounts:
    """Load one entity's whole canonical frame inside the caller's open transaction; its counts."""
    entity_load = EntityLoad(
        con, ENTITIES[mapped.entity], run_id=run_id, file_name=file_name, source_system=source_system
    )
    entity_load.add(mapped)
    return entity_load.finish()


def commit_file(
    con: duckdb.DuckDBPyConnection,
    result: FileResult,
    frames: Iterable[MappedFrame],
    *,
    started: float,
    before_commit: Callable[[], object] | None = None,
    streamed: str | None = None,
    max_quarantine_share: float | None = None,
    replaces: Iterable[int] = (),
) -> FileResult:
    """Load every frame of one file and record the run, all in one transaction (timed as the phase
    ``ingest.load``; see :func:`_commit_file`)."""
    with phase("ingest.load"):
        return _commit_file(
            con,
            result,
            frames,
            started=started,
            before_commit=before_commit,
            streamed=streamed,
            max_quarantine_share=max_quarantine_share,
            replaces=replaces,
        )


def _commit_file(
    con: duckdb.DuckDBPyConnection,
    result: FileResult,
    frames: Iterable[MappedFrame],
    *,
    started: float,
    before_commit: Callable[[], object] | None = None,
    streamed: str | None = None,
    max_quarantine_share: float | None = None,
    replaces: Iterable[int] = (),
) -> FileResult:
    """Load every frame of one file and record the run, all in one transaction.

    ``frames`` may be batches (several frames of one entity, e.g. a large export read while it
    loads): each entity's rows are loaded as they come and settled once the last frame was given.
    ``before_commit`` runs last inside the transaction (the landing copy being finished): when it
    raises, nothing of the file is committed. ``replaces``: earlier runs of the same file read with
    another mapping or settings; what they loaded is deleted first, in the same transaction (D31).
    When more than ``max_quarantine_share`` of the file's rows are quarantined, :class:`QuarantineLimit`
    is raised and nothing is committed.
    """
    assert result.run_id is not None
    con.execute("begin transaction")
    loads: dict[str, EntityLoad] = {}
    rows = FileRows()
    nulled: dict[str, int] = {}
    try:
        replaced = _delete_replaced(con, list(replaces), result)
        for mapped in frames:
            # a streamed entity's insert statement holds the connection: nothing else loads meanwhile
            assert streamed is None or mapped.entity == streamed, (streamed, mapped.entity)
            rows.add(mapped)
            for where, n in mapped.nulled_refs.items():
                nulled[where] = nulled.get(where, 0) + n
            entity_load = loads.get(mapped.entity)
            if entity_load is None:
                kind = StreamLoad if mapped.entity == streamed else EntityLoad
                entity_load = loads[mapped.entity] = kind(
                    con,
                    ENTITIES[mapped.entity],
                    run_id=result.run_id,
                    file_name=result.path.name,
                    source_system=result.source_system,
                )
            entity_load.add(mapped)
        total = EntityCounts()
        notes: list[str] = []
        for name, entity_load in loads.items():
            counts = entity_load.finish()
            if not counts.balanced:
                raise BalanceError(f"{result.path}: {name} counts do not balance: {counts}")
            total.add(counts)
            notes.extend(entity_load.notes)
        result.counts = total
        result.file_rows, result.file_rows_quarantined = rows.rows, rows.quarantined
        result.warnings.extend(notes)
        if result.replaced_note:
            result.warnings.append(result.replaced_note)
        for where, n in nulled.items():
            result.warnings.append(
                f"WARNING: {n:,} value(s) of {where} hold no letter or digit (like '?' or '-'): read as no reference"
            )
        if (
            max_quarantine_share is not None
            and rows.rows
            and rows.quarantined / rows.rows > max_quarantine_share
        ):
            raise QuarantineLimit(
                quarantine_report(con, result.run_id, rows, max_quarantine_share), total, rows
            )
        if replaced:
            con.execute(
                "update meta.ingest_run set replaced_by_run = ? where run_id in (select unnest(?))",
                [result.run_id, list(replaces)],
            )
            con.execute(
                "update meta.ingest_run set records_replaced = ? where run_id = ?", [replaced, result.run_id]
            )
        if before_commit is not None:
            before_commit()
        result.status = "succeeded"
        fault("ingest:before_commit")
        finish_run(con, result, started)
        con.execute("commit")
    except BaseException:
        for entity_load in loads.values():
            if isinstance(entity_load, StreamLoad):
                entity_load.abort()
        con.execute("rollback")
        raise
    return result


def _delete_replaced(con: duckdb.DuckDBPyConnection, runs: list[int], result: FileResult) -> int:
    """Delete what ``runs`` loaded (every raw table), inside the open transaction; how many records."""
    if not runs:
        return 0
    total = 0
    for entity in ENTITIES.values():
        n = con.execute(
            f"delete from {entity.table} where _ingest_run_id in (select unnest(?)) returning 1", [runs]
        ).fetchall()
        total += len(n)
    result.replaced_note = (
        f"re-read with another mapping or settings: the {total:,} record(s) that ingest run(s) "
        f"{', '.join(map(str, runs))} loaded from this file were replaced by this run's"
    )
    return total


def quarantine_report(con: duckdb.DuckDBPyConnection, run_id: int, rows: FileRows, max_share: float) -> str:
    """Why a file is refused: how much was quarantined, the column and value that cost the most
    rows, and the fix (see :mod:`ingest.quarantine`)."""
    from changeboard.ingest.quarantine import describe, diagnose

    reasons = con.execute(
        "select r, count(*) from (select unnest(reasons) as r from meta.quarantine where run_id = ?) group by r",
        [run_id],
    ).fetchall()
    diagnosis = diagnose(reasons)
    lines = [
        f"{rows.quarantined:,} of the file's {rows.rows:,} rows ({rows.quarantined / rows.rows:.1%}) could not "
        f"be loaded, more than the {max_share:.1%} allowed (max_quarantine); nothing of the file was loaded",
        *("  " + line for line in describe(diagnosis)),
        f"fix: {diagnosis.fix()}",
        "or accept the loss: --max-quarantine PERCENT (or max_quarantine = PERCENT in _export.toml)",
    ]
    return "\n".join(lines)


def quarantine_summary(con: duckdb.DuckDBPyConnection, limit: int = 20) -> list[tuple[object, ...]]:
    """The latest quarantined rows with their file, row and reason."""
    return con.execute(
        "select file_name, source_row, entity, reason from meta.quarantine order by quarantined_at desc, source_row limit ?",
        [limit],
    ).fetchall()


def to_json(value: object) -> str:
    """Stable JSON for ledger fields."""
    return json.dumps(value, default=str, sort_keys=True)


__all__ = ["EntityLoad", "FileResult", "commit_file", "connect_ingest", "land", "load_frame", "pl"]
