"""The ingest run: exports landed and loaded into the ingest database, file by file, and the form
store's requests pulled in beside them (ledger, quarantine; one transaction per file).

Only the pipeline opens the ingest database read-write; everything runs under
:class:`~changeboard.pipeline.lock.PipelineLock`. The build that follows is :mod:`.build_run`.
"""

from __future__ import annotations

import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from changeboard.faults import fault
from changeboard.ingest import load
from changeboard.ingest.base import ExportSettings, Reading
from changeboard.ingest.load import FileResult
from changeboard.ingest.mapping import MappedFrame
from changeboard.ingest.readers import ReadError, sha256_file
from changeboard.ingest.registry import expand_paths, open_file
from changeboard.ingest.sources import forms
from changeboard.paths import DataDir
from changeboard.pipeline.memory import note_reading
from changeboard.timing import phase

# A streamed reading of at least this many bytes puts its new rows into one insert statement fed as it
# is read (load.StreamLoad); a smaller one loads in a batch or two, where the statement's second
# connection and side tables (~0.1 s) would cost more than they save.
STREAM_MIN_BYTES = 64 * 2**20


def new_run_id() -> str:
    """A pipeline run id: sortable time plus a random suffix."""
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:6]


@dataclass
class IngestReport:
    """What one ingest did, file by file."""

    results: list[FileResult] = field(default_factory=list)
    aborted_runs: int = 0

    @property
    def failed(self) -> list[FileResult]:
        """Files not loaded: unreadable, or refused for quarantining too much (``rejected``)."""
        return [r for r in self.results if r.status in ("failed", "rejected")]


class ReadAhead:
    """The frames of a reading, read and mapped on a thread of their own one frame ahead of the
    loader: a batch is mapped while the previous one loads (polars and DuckDB both release the GIL).

    An error of the reading is raised to the loader (and kept in :attr:`failed`); :meth:`close`
    stops the thread and waits for it, whether or not every frame was taken. :attr:`busy` is the
    thread's time reading and mapping, :attr:`waited` the loader's time waiting for it.
    """

    _END = object()

    def __init__(self, frames: Iterable[MappedFrame]) -> None:
        self._frames = iter(frames)
        self._queue: queue.Queue[object] = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        self.failed: BaseException | None = None
        self.busy = 0.0
        self.waited = 0.0
        self._thread = threading.Thread(target=self._run, name="read ahead", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        item: object
        try:
            while not self._stop.is_set():
                started = time.perf_counter()
                item = next(self._frames, self._END)
                self.busy += time.perf_counter() - started
                self._put(item)
                if item is self._END:
                    return
        except BaseException as exc:
            self.failed = exc
            self._put(exc)

    def _put(self, item: object) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def __iter__(self) -> Iterator[MappedFrame]:
        while True:
            started = time.perf_counter()
            item = self._queue.get()
            self.waited += time.perf_counter() - started
            if item is self._END:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, MappedFrame)
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


# The share of a file's rows that may be quarantined before the file is refused (issue 17: no silent
# loss); ``max_quarantine`` in _export.toml or ``--max-quarantine`` overrides it (a percentage).
DEFAULT_MAX_QUARANTINE_PERCENT = 1.0
# Settings that do not change what a file's rows become (not part of the reading's identity).
_NOT_IDENTITY = {"max_quarantine"}


def max_quarantine_share(settings: ExportSettings) -> float:
    """The threshold a file's quarantined share must not exceed, as a fraction (1 % -> 0.01)."""
    value = settings.extra.get("max_quarantine", DEFAULT_MAX_QUARANTINE_PERCENT)
    text = str(value).strip().removesuffix("%").strip()
    try:
        percent = float(text)
    except ValueError:
        raise ReadError(f'max_quarantine = {value!r}: expected a percentage such as 1 or "2.5%"') from None
    if not 0 <= percent <= 100:
        raise ReadError(f"max_quarantine = {value!r}: expected a percentage between 0 and 100")
    return percent / 100


@dataclass(frozen=True)
class ReadingIdentity:
    """What a file is read WITH, beside its content (D31): its slot (the mapping file's name, or the
    built-in connector) and a hash of the mapping's text and every setting that shapes the rows.
    The same content read the same way again is a duplicate; the same slot read another way
    replaces what the earlier reading loaded; another mapping (another slot) loads beside it."""

    slot: str
    digest: str
    description: str

    @property
    def fingerprint(self) -> str:
        return f"{self.slot}#{self.digest}"


def reading_identity(path: Path, override: ExportSettings | None) -> ReadingIdentity:
    """The identity of reading ``path`` with these settings (its folder's _export.toml included)."""
    import hashlib
    import json

    try:
        settings = ExportSettings.for_file(path, override)
    except ReadError:
        return ReadingIdentity("connector", "unreadable-manifest", "unreadable _export.toml")
    described: dict[str, object] = {
        k: getattr(settings, k)
        for k in ("system", "table", "timezone", "date_format", "encoding", "delimiter")
        if getattr(settings, k) is not None
    }
    extra = {k: v for k, v in settings.extra.items() if k not in _NOT_IDENTITY}
    slot = "connector"
    if extra.get("mapping"):
        mapping = Path(str(extra["mapping"]))
        slot = f"mapping {mapping.name}"
        try:
            extra["mapping"] = hashlib.sha256(mapping.read_bytes()).hexdigest()
        except OSError:
            extra["mapping"] = f"missing:{mapping}"
    described.update(extra)
    text = json.dumps(described, sort_keys=True, default=str)
    shown = ", ".join(
        f"{k}={v}"
        if k != "mapping"
        else f"mapping {Path(str(settings.extra['mapping'])).name} ({str(v)[:12]})"
        for k, v in sorted(described.items())
    )
    return ReadingIdentity(slot, hashlib.sha256(text.encode()).hexdigest()[:16], shown or "defaults")


def _ingest_one(
    con: duckdb.DuckDBPyConnection,
    data: DataDir,
    path: Path,
    *,
    settings: ExportSettings | None,
    force: bool,
    run_id: str,
    pool: ThreadPoolExecutor,
) -> FileResult:
    started = time.perf_counter()
    identity = reading_identity(path, settings)
    # A file of a size loaded before is probably a re-run: its checksum comes first, so that a
    # duplicate is skipped without being read. Any other file is hashed on a second thread while it
    # is read (hashing and copying release the GIL; 1M changes: 1.9 s of 22 s off the critical path).
    try:
        size = path.stat().st_size
    except OSError:
        size = None
    hash_first = not force and size is not None and load.maybe_loaded(con, size)
    hashed: Future[str]
    if hash_first:
        hashed = Future()
        hashed.set_result(_checksum(path))
        if (skipped := _skip_duplicate(con, path, hashed.result(), identity, run_id, started)) is not None:
            return skipped
    else:
        hashed = pool.submit(_checksum, path)
    try:
        with phase("ingest.open"):
            reading = open_file(path, settings)
    except Exception as exc:
        # A reader's unexpected error fails this file only, never the whole run.
        result = FileResult(
            path=path, source_system=None, source_table=None, status="failed", error=_read_error(path, exc)
        )
        result.run_id = load.start_run(
            con, pipeline_run_id=run_id, path=path, sha=hashed.result(), landed=None, system=None, table=None
        )
        _record_identity(con, result.run_id, identity)
        load.finish_run(con, result, started)
        return result
    # Reading and mapping start at once, also while the checksum is still being computed.
    ahead = ReadAhead(reading.frames)
    try:
        return _load_reading(
            con,
            data,
            path,
            reading,
            ahead,
            hashed=hashed,
            hash_first=hash_first,
            force=force,
            run_id=run_id,
            pool=pool,
            started=started,
            identity=identity,
            max_share=max_quarantine_share(ExportSettings.for_file(path, settings)),
        )
    finally:
        ahead.close()
        reading.close()


def _checksum(path: Path) -> str:
    with phase("ingest.hash"):
        return sha256_file(path)


def _read_error(path: Path, exc: BaseException) -> str:
    return str(exc) if isinstance(exc, ReadError) else f"{path}: cannot be read ({type(exc).__name__}: {exc})"


def _load_reading(
    con: duckdb.DuckDBPyConnection,
    data: DataDir,
    path: Path,
    reading: Reading,
    ahead: ReadAhead,
    *,
    hashed: Future[str],
    hash_first: bool,
    force: bool,
    run_id: str,
    pool: ThreadPoolExecutor,
    started: float,
    identity: ReadingIdentity,
    max_share: float | None,
) -> FileResult:
    sha = hashed.result()
    if not (force or hash_first) and (skipped := _skip_duplicate(con, path, sha, identity, run_id, started)):
        return skipped
    replaces = _replaced_runs(con, sha, identity)
    size = path.stat().st_size
    # The landing copy is written while the rows load; the transaction commits only once it is whole.
    landing = pool.submit(load.land, path, data.landing, reading.system, sha)
    result = FileResult(path=path, source_system=reading.system, source_table=reading.table, status="running")
    read_as = f"read as {reading.system} {reading.table} ({reading.detected_by})"
    result.warnings = [read_as, *reading.warnings]
    try:
        result.run_id = load.start_run(
            con,
            pipeline_run_id=run_id,
            path=path,
            sha=sha,
            landed=load.landing_path(path, data.landing, reading.system, sha),
            system=reading.system,
            table=reading.table,
        )
        _record_identity(con, result.run_id, identity)
        fault("ingest:after_run_row")

        def frames() -> Iterator[MappedFrame]:
            yield from ahead
            result.warnings = [read_as, *reading.warnings]  # complete once every frame was read

        try:
            load.commit_file(
                con,
                result,
                frames(),
                started=started,
                before_commit=landing.result,
                streamed=reading.stream_entity if size >= STREAM_MIN_BYTES else None,
                max_quarantine_share=max_share,
                replaces=replaces,
            )
        except load.QuarantineLimit as refused:
            # nothing of the file was committed: the ledger says why, and how to load it
            result.status = "rejected"
            result.error = f"{path.name}: {refused.summary}"
            c = refused.counts
            result.counts = load.EntityCounts(
                rows_read=c.rows_read, quarantined=c.quarantined, not_loaded=c.rows_read - c.quarantined
            )
            result.file_rows = refused.file_rows.rows
            result.file_rows_quarantined = refused.file_rows.quarantined
            result.file_rows_not_loaded = refused.file_rows.rows - refused.file_rows.quarantined
            load.finish_run(con, result, started)
        except Exception as exc:
            result.status = "failed"
            result.error = (
                _read_error(path, exc) if exc is ahead.failed else f"{path}: {type(exc).__name__}: {exc}"
            )
            # rolled back: none loaded (rows_read is what was read before the failure)
            result.counts = load.EntityCounts(
                rows_read=result.counts.rows_read, not_loaded=result.counts.rows_read
            )
            load.finish_run(con, result, started)
    finally:
        ahead.close()
        result.timings = {"read_map": ahead.busy, "waited_for_read": ahead.waited}
        wait([landing])  # never leave a copy being written behind this file's outcome
    return result


def _record_identity(con: duckdb.DuckDBPyConnection, run_id: int, identity: ReadingIdentity) -> None:
    con.execute(
        "update meta.ingest_run set reading_fingerprint = ?, reading_description = ? where run_id = ?",
        [identity.fingerprint, identity.description, run_id],
    )


def _skip_duplicate(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    sha: str,
    identity: ReadingIdentity,
    run_id: str,
    started: float,
) -> FileResult | None:
    """The ledger row of a file whose content was loaded before, read the same way (None: not
    loaded yet, or read another way; a run from before the reading was recorded counts as the same)."""
    row = con.execute(
        "select run_id from meta.ingest_run where file_sha256 = ? and status = 'succeeded' "
        "and replaced_by_run is null and (reading_fingerprint = ? or reading_fingerprint is null) "
        "order by run_id limit 1",
        [sha, identity.fingerprint],
    ).fetchall()
    if not row:
        return None
    prior = row[0][0]
    result = FileResult(path=path, source_system=None, source_table=None, status="skipped_duplicate")
    result.run_id = load.start_run(
        con,
        pipeline_run_id=run_id,
        path=path,
        sha=sha,
        landed=None,
        system=None,
        table=None,
        status="skipped_duplicate",
    )
    _record_identity(con, result.run_id, identity)
    result.warnings.append(
        f"same content, read the same way ({identity.description}), already loaded by ingest run {prior}; "
        "use --force to reprocess"
    )
    load.finish_run(con, result, started)
    return result


def _replaced_runs(con: duckdb.DuckDBPyConnection, sha: str, identity: ReadingIdentity) -> list[int]:
    """Earlier loads of the same content in the same slot, read another way: the new reading
    replaces what they loaded (a corrected mapping, a null placeholder declared)."""
    rows = con.execute(
        "select run_id from meta.ingest_run where file_sha256 = ? and status = 'succeeded' "
        "and replaced_by_run is null and starts_with(reading_fingerprint, ?) and reading_fingerprint <> ? "
        "order by run_id",
        [sha, identity.slot + "#", identity.fingerprint],
    ).fetchall()
    return [int(r[0]) for r in rows]


def ingest_paths(
    data: DataDir,
    paths: list[Path],
    *,
    settings: ExportSettings | None = None,
    force: bool = False,
    run_id: str | None = None,
    progress: Callable[[FileResult], None] | None = None,
    on_start: Callable[[Path], None] | None = None,
) -> IngestReport:
    """Ingest files and folders into the ingest database (the caller holds the pipeline lock)."""
    data.ensure()
    run_id = run_id or new_run_id()
    report = IngestReport()
    files = expand_paths(paths)
    con = load.connect_ingest(data.ingest_db)
    try:
        report.aborted_runs = load.mark_aborted(con)
        for part in data.landing.rglob("*.part"):
            part.unlink()  # a landing copy cut by a crash (one pipeline run at a time holds the lock)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-io") as pool:
            for path in files:
                note_reading(path)  # a guarded ingest's parent names it if it stops this process
                if on_start:
                    on_start(path)
                result = _ingest_one(
                    con, data, path, settings=settings, force=force, run_id=run_id, pool=pool
                )
                report.results.append(result)
                if progress:
                    progress(result)
    finally:
        con.close()
    return report


def sync_forms(data: DataDir, *, run_id: str) -> FileResult | None:
    """Copy the form store's requests and decisions into the ingest database (idempotent)."""
    if not data.ops_db.exists():
        return None
    started = time.perf_counter()
    frames = forms.read_form_store(data.ops_db)
    con = load.connect_ingest(data.ingest_db)
    try:
        result = FileResult(
            path=data.ops_db, source_system=forms.SYSTEM, source_table="change_request", status="running"
        )
        result.run_id = load.start_run(
            con,
            pipeline_run_id=run_id,
            path=data.ops_db,
            sha="form-store",
            landed=None,
            system=forms.SYSTEM,
            table="change_request",
        )
        load.commit_file(con, result, frames, started=started)
        return result
    finally:
        con.close()
