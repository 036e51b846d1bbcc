"""The build run: dbt builds a new warehouse version from the ingest database, then it is published
atomically (the previous version keeps serving until then; a failed build publishes nothing).

Only the pipeline writes a ``.building`` file that no reader knows about; everything runs under
:class:`~changeboard.pipeline.lock.PipelineLock`. The ingest run before it is :mod:`.ingest_run`.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from changeboard import resources, timing
from changeboard.faults import fault
from changeboard.ingest import load
from changeboard.paths import DataDir
from changeboard.pipeline import dbt_log, incremental
from changeboard.pipeline.settings import SettingsError, read_display, read_retention, read_targets
from changeboard.warehouse.versions import Published, collect_garbage, new_version_id, publish

# The pipeline refuses to start a build with less free disk than this many times the last version.
FREE_SPACE_FACTOR = 3

Progress = Callable[[str], None]
NodeDone = dbt_log.NodeDone
NodeProgress = Callable[[NodeDone], None]


class BuildFailed(RuntimeError):
    """dbt build failed: nothing was published, the previous version keeps serving."""


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
    memory limit (profiles.yml), and its target / log folders under ``work_dir``. dbt's own file log
    (every statement, at debug level) is off unless ``DBT_LOG_LEVEL_FILE`` asks for it: it took a
    sixth of a small build's time, and a failed build reports dbt's error itself (DECISIONLOG D59)."""
    return {
        **os.environ,
        ENV_BUILD_MEMORY: build_memory_limit(),
        "CHANGEBOARD_BUILD_PATH": str(build_path),
        "CHANGEBOARD_INGEST_DB": str(data.ingest_db),
        "DBT_TARGET_PATH": str(work_dir / "target"),
        "DBT_LOG_PATH": str(work_dir / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_PARTIAL_PARSE": "true",
        "DBT_LOG_LEVEL_FILE": os.environ.get("DBT_LOG_LEVEL_FILE") or "none",
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
    keep: int | None = None,
    max_age_days: float | None = None,
    progress: Progress | None = None,
    unit_tests: bool = False,
    on_node: NodeProgress | None = None,
    full_refresh: bool = False,
    try_incremental: bool = False,
) -> Published:
    """Build a new warehouse version with dbt and publish it atomically (caller holds the lock).

    Every data test runs (a failing one publishes nothing). The dbt unit tests check the models' SQL
    on fixed inputs, not the data: they run where the SQL changes (``unit_tests=True``, ``changeboard
    build --unit-tests``, the test suite), not in every production build (DECISIONLOG D23).
    ``on_node`` is called as each dbt node (model, test, seed) finishes, with its position.
    The build is full unless ``try_incremental`` asks for an incremental build on the published
    version and that is sound (``full_refresh`` forces a full one); the choice and its reason are
    reported and recorded in the version
    (:mod:`.incremental`, DECISIONLOG D41). ``keep`` and ``max_age_days`` override changeboard.toml's [retention] (DECISIONLOG D38)."""
    data.ensure()
    try:
        targets = read_targets(data.config_file)  # a bad changeboard.toml stops the build here
        display = read_display(data.config_file)
        retention = read_retention(data.config_file, keep=keep, max_age_days=max_age_days)
    except SettingsError as exc:
        raise BuildFailed(f"{exc}; nothing was built.") from exc
    if not data.ingest_db.exists():
        load.connect_ingest(data.ingest_db).close()
    collect_garbage(data, retention)
    _check_free_space(data)
    version = new_version_id(data.versions)
    # One fixed build path per data directory: dbt's profile (and so its partial-parse cache) stays
    # the same from build to build; the file is renamed to its version at publish.
    building = data.versions / "next.duckdb.building"
    building.unlink(missing_ok=True)
    building.with_name(building.name + ".wal").unlink(missing_ok=True)
    args = [
        "--log-format",
        "json",
        "build",
        *dbt_project_args(),
        "--threads",
        str(threads or default_threads()),
    ]
    if not unit_tests:
        args += ["--exclude-resource-type", "unit_test"]
    build_vars: dict[str, object] = {"targets": targets, **display}
    if as_of:
        build_vars["as_of"] = as_of
    plan = incremental.plan_build(
        data, build_vars, full_refresh=full_refresh, try_incremental=try_incremental
    )
    # One "now" for the whole build: without an explicit as_of, every model would read its own
    # statement's clock, and the backlog's current snapshot, the overdue list and the ages would be taken
    # seconds apart. The build's start, pinned, is not a setting: an incremental build is still planned on
    # the explicit vars only (DECISIONLOG D51).
    now = {"as_of": as_of or datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")}
    args += ["--vars", json.dumps({**build_vars, **now})]  # JSON is YAML: dbt reads it as the vars mapping
    if progress:
        progress(f"{plan.kind} build: {plan.reason}")
    started = time.perf_counter()
    with timing.phase("build.carry_over"):
        env = {**dbt_env(data, building, data.root / "dbt"), **incremental.prepare(data, plan, building)}
    carry_over_seconds = time.perf_counter() - started
    if progress:
        progress(f"dbt build → {building.name}")
    started = time.perf_counter()
    try:
        returncode, tail = _run_dbt(args, env, on_node)
    finally:
        incremental.finish(data)
    dbt_seconds = time.perf_counter() - started
    if returncode != 0:
        raise BuildFailed(f"dbt build failed (exit {returncode}); nothing was published.\n" + "\n".join(tail))
    fault("build:after_dbt")
    ingest_runs = _ingest_run_count(data)
    con = duckdb.connect(str(building))
    try:
        con.execute(
            "create or replace table main.warehouse_version as select ?::varchar as version, ?::varchar as pipeline_run_id, "
            "now()::timestamp as built_at, ?::bigint as ingest_runs, ?::double as dbt_seconds",
            [version, run_id, ingest_runs, dbt_seconds],
        )
        incremental.record(con, plan, incremental.ingest_run_max(data))
        con.execute("checkpoint")
    finally:
        con.close()
    wal = building.with_name(building.name + ".wal")
    if wal.exists():
        raise BuildFailed(f"{wal} still exists after checkpoint; not publishing a file that needs its WAL")
    with timing.phase("build.publish"):
        published = publish(
            data,
            building,
            version,
            {
                "pipeline_run_id": run_id,
                "ingest_runs": ingest_runs,
                "dbt_seconds": round(dbt_seconds, 2),
                "build_kind": plan.kind,
                "build_reason": plan.reason,
                # the key keeps the name it had when the build copied the published file (D41)
                "copy_seconds": round(carry_over_seconds, 2),
            },
        )
    collect_garbage(data, retention)
    return published


def _run_dbt(args: list[str], env: dict[str, str], on_node: NodeProgress | None) -> tuple[int, list[str]]:
    """Run dbt, reporting each finished node as its log line arrives; its exit code and the last 40
    lines of its log as text (the error tail of a failed build)."""
    tail: collections.deque[str] = collections.deque(maxlen=40)
    with subprocess.Popen(
        dbt_command(args),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=_die_with_parent,
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            text = dbt_log.message(line)
            if text.strip():
                tail.append(text)
            if on_node is not None:
                done = dbt_log.node_done(line)
                if done is not None:
                    on_node(done)
        returncode = proc.wait()
    return returncode, list(tail)


def _ingest_run_count(data: DataDir) -> int:
    con = duckdb.connect(str(data.ingest_db), read_only=True)
    try:
        return int(con.execute("select count(*) from meta.ingest_run").fetchall()[0][0])
    finally:
        con.close()
