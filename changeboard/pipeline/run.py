"""The pipeline: land + ingest exports, pull the form store, build with dbt, publish a version.

Only this module opens DuckDB files read-write, and only the ingest database and a ``.building``
file that no reader knows about; everything runs under :class:`~ingest.lock.PipelineLock`.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from changeboard import resources
from changeboard.faults import fault
from changeboard.ingest import load
from changeboard.ingest.load import FileResult
from changeboard.ingest.mapping import MappedFrame
from changeboard.ingest.readers import ReadError, sha256_file
from changeboard.ingest.registry import ExportSettings, Reading, expand_paths, open_file
from changeboard.ingest.sources import forms
from changeboard.paths import DataDir
from changeboard.pipeline.settings import SettingsError, read_targets
from changeboard.warehouse.versions import Published, collect_garbage, new_version_id, publish

# A streamed reading of at least this many bytes puts its new rows into one insert statement fed as it
# is read (load.StreamLoad); a smaller one loads in a batch or two, where the statement's second
# connection and side tables (~0.1 s) would cost more than they save.
STREAM_MIN_BYTES = 64 * 2**20
# The pipeline refuses to start a build with less free disk than this many times the last version.
FREE_SPACE_FACTOR = 3

Progress = Callable[[str], None]


class BuildFailed(RuntimeError):
    """dbt build failed: nothing was published, the previous version keeps serving."""


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
        return [r for r in self.results if r.status == "failed"]


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
        hashed.set_result(sha256_file(path))
        if (skipped := _skip_duplicate(con, path, hashed.result(), run_id, started)) is not None:
            return skipped
    else:
        hashed = pool.submit(sha256_file, path)
    try:
        reading = open_file(path, settings)
    except Exception as exc:
        # A reader's unexpected error fails this file only, never the whole run.
        result = FileResult(
            path=path, source_system=None, source_table=None, status="failed", error=_read_error(path, exc)
        )
        result.run_id = load.start_run(
            con, pipeline_run_id=run_id, path=path, sha=hashed.result(), landed=None, system=None, table=None
        )
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
        )
    finally:
        ahead.close()
        reading.close()


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
) -> FileResult:
    sha = hashed.result()
    if not (force or hash_first) and (skipped := _skip_duplicate(con, path, sha, run_id, started)):
        return skipped
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
            )
        except Exception as exc:
            result.status = "failed"
            result.error = (
                _read_error(path, exc) if exc is ahead.failed else f"{path}: {type(exc).__name__}: {exc}"
            )
            result.counts = load.EntityCounts(rows_read=result.counts.rows_read)  # rolled back: none loaded
            load.finish_run(con, result, started)
    finally:
        ahead.close()
        result.timings = {"read_map": ahead.busy, "waited_for_read": ahead.waited}
        wait([landing])  # never leave a copy being written behind this file's outcome
    return result


def _skip_duplicate(
    con: duckdb.DuckDBPyConnection, path: Path, sha: str, run_id: str, started: float
) -> FileResult | None:
    """The ledger row of a file whose content was loaded before (None: not loaded yet)."""
    if (prior := load.already_loaded(con, sha)) is None:
        return None
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
    result.warnings.append(f"same content already loaded by ingest run {prior}; use --force to reprocess")
    load.finish_run(con, result, started)
    return result


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


def _check_free_space(data: DataDir) -> None:
    versions = sorted(data.versions.glob("warehouse_*.duckdb"))
    need = (versions[-1].stat().st_size if versions else 0) * FREE_SPACE_FACTOR
    need = max(need, 64 * 1024 * 1024)
    free = os.statvfs(data.versions).f_bavail * os.statvfs(data.versions).f_frsize
    if free < need:
        raise BuildFailed(
            f"only {free // 2**20} MiB free under {data.versions}; a build needs about {need // 2**20} MiB. "
            "Free some space; the published version keeps serving."
        )


def _die_with_parent() -> None:
    """In the dbt child: get SIGKILL when the pipeline process dies, so a killed run never leaves a
    dbt process writing behind the back of the next run (Linux prctl PR_SET_PDEATHSIG)."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)


def dbt_command(args: list[str]) -> list[str]:
    """The dbt CLI in this interpreter's environment."""
    return [sys.executable, "-c", "import sys; from dbt.cli.main import cli; sys.exit(cli())", *args]


# DuckDB's memory limit in a build (profiles.yml; ``CHANGEBOARD_DUCKDB_MEMORY`` overrides it), also
# the bench's direct run of the same SQL. It covers DuckDB's buffers only: with 3GB the 1M-change build
# peaks at 3.4 GiB with dbt's process (4.3 GiB with 4GB), within the 4 GB goal (DECISIONLOG D23).
ENV_BUILD_MEMORY = "CHANGEBOARD_DUCKDB_MEMORY"
DEFAULT_BUILD_MEMORY = "3GB"


def build_memory_limit() -> str:
    """DuckDB's memory limit for a build and for the bench's direct run of the same SQL."""
    return os.environ.get(ENV_BUILD_MEMORY) or DEFAULT_BUILD_MEMORY


def dbt_env(data: DataDir, build_path: Path, work_dir: Path) -> dict[str, str]:
    """The environment of a dbt run: the file it builds, the ingest database it reads, DuckDB's
    memory limit (profiles.yml), and its target / log folders under ``work_dir``."""
    return {
        **os.environ,
        ENV_BUILD_MEMORY: build_memory_limit(),
        "CHANGEBOARD_BUILD_PATH": str(build_path),
        "CHANGEBOARD_INGEST_DB": str(data.ingest_db),
        "DBT_TARGET_PATH": str(work_dir / "target"),
        "DBT_LOG_PATH": str(work_dir / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_PARTIAL_PARSE": "true",
    }


def dbt_project_args() -> list[str]:
    return [
        "--project-dir",
        str(resources.dbt_project_dir()),
        "--profiles-dir",
        str(resources.dbt_project_dir()),
    ]


def default_threads() -> int:
    """dbt threads for a build: the machine's cores, at most 4. Every DuckDB query already uses all
    cores, and the models share one memory limit: more models at once than cores only made them wait
    and spill (DECISIONLOG D16)."""
    return max(1, min(4, os.cpu_count() or 1))


def build(
    data: DataDir,
    *,
    run_id: str,
    as_of: str | None = None,
    threads: int | None = None,
    keep: int = 3,
    progress: Progress | None = None,
    unit_tests: bool = False,
) -> Published:
    """Build a new warehouse version with dbt and publish it atomically (caller holds the lock).

    Every data test runs (a failing one publishes nothing). The dbt unit tests check the models' SQL
    on fixed inputs, not the data: they run where the SQL changes (``unit_tests=True``, ``changeboard
    build --unit-tests``, the test suite), not in every production build (DECISIONLOG D23)."""
    data.ensure()
    try:
        targets = read_targets(data.config_file)  # a bad changeboard.toml stops the build here
    except SettingsError as exc:
        raise BuildFailed(f"{exc}; nothing was built.") from exc
    if not data.ingest_db.exists():
        load.connect_ingest(data.ingest_db).close()
    collect_garbage(data, keep=keep)
    _check_free_space(data)
    version = new_version_id(data.versions)
    # One fixed build path per data directory: dbt's profile (and so its partial-parse cache) stays
    # the same from build to build; the file is renamed to its version at publish.
    building = data.versions / "next.duckdb.building"
    building.unlink(missing_ok=True)
    building.with_name(building.name + ".wal").unlink(missing_ok=True)
    env = dbt_env(data, building, data.root / "dbt")
    args = ["build", *dbt_project_args(), "--threads", str(threads or default_threads())]
    if not unit_tests:
        args += ["--exclude-resource-type", "unit_test"]
    build_vars: dict[str, object] = {"targets": targets}
    if as_of:
        build_vars["as_of"] = as_of
    args += ["--vars", json.dumps(build_vars)]  # JSON is YAML: dbt reads it as the vars mapping
    if progress:
        progress(f"dbt build → {building.name}")
    started = time.perf_counter()
    proc = subprocess.run(
        dbt_command(args), env=env, capture_output=True, text=True, check=False, preexec_fn=_die_with_parent
    )
    dbt_seconds = time.perf_counter() - started
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-40:])
        raise BuildFailed(f"dbt build failed (exit {proc.returncode}); nothing was published.\n{tail}")
    fault("build:after_dbt")
    ingest_runs = _ingest_run_count(data)
    con = duckdb.connect(str(building))
    try:
        con.execute(
            "create or replace table main.warehouse_version as select ?::varchar as version, ?::varchar as pipeline_run_id, "
            "now()::timestamp as built_at, ?::bigint as ingest_runs, ?::double as dbt_seconds",
            [version, run_id, ingest_runs, dbt_seconds],
        )
        con.execute("checkpoint")
    finally:
        con.close()
    wal = building.with_name(building.name + ".wal")
    if wal.exists():
        raise BuildFailed(f"{wal} still exists after checkpoint; not publishing a file that needs its WAL")
    published = publish(
        data,
        building,
        version,
        {"pipeline_run_id": run_id, "ingest_runs": ingest_runs, "dbt_seconds": round(dbt_seconds, 2)},
    )
    collect_garbage(data, keep=keep)
    return published


def _ingest_run_count(data: DataDir) -> int:
    con = duckdb.connect(str(data.ingest_db), read_only=True)
    try:
        return int(con.execute("select count(*) from meta.ingest_run").fetchall()[0][0])
    finally:
        con.close()
