"""``changeboard bench``: the whole platform at scale, measured against the DuckDB floor in one run.

For each scale (default 10k, 100k and the requested number of changes) the sample generator writes
the exports once, and on those same files the benchmark measures:

1. **ingest** -- per file, changeboard's connector path (``ingest_run.ingest_paths`` on that one file
   into a fresh data dir) beside the floor: DuckDB's own ``read_csv`` of the same file with an
   explicit all-VARCHAR schema into a table of a new database file. ServiceNow exports are
   Windows-1252, which DuckDB does not read, so the floor first transcodes them to UTF-8 (streamed
   in Python, timed separately); ``floor / connector`` uses the ``read_csv`` time alone. Then the
   whole folder is ingested in one run into the data dir the build uses.
2. **build** -- ``build_run.build`` (dbt build with its tests, then publish) beside the same models'
   compiled SQL (``target/run/**.sql``, the ``create table ... as`` statements dbt ran) executed
   directly in DuckDB in DAG order against a fresh file with the ingest db attached read-only and
   the seeds loaded from ``dbt/seeds/*.csv``; dbt's overhead is
   ``(sum of dbt's model + seed node times - direct SQL time) / dbt's model + seed node time``.
3. **serving** -- every dashboard page run with Streamlit's ``AppTest`` against the published
   warehouse, ``st.cache_data`` cleared before each run, every query the page makes timed: p50 / p95
   per query and of the page's total.
4. **CAB pack** -- the time to generate it in each format, when a CAB pack module exists.
5. **scaling** -- each figure's growth per 10x more data between scales.
6. **machine** -- cores, memory and the versions that matter.

Every measurement runs in a child process (a fresh interpreter) that reports its own peak RSS
(``getrusage``: itself and its waited-for children, e.g. dbt). A child that runs past its timeout,
or while the disk the work dir is on falls below a safety margin, is killed with its process group
and the measurement is recorded as failed; the benchmark goes on with what it can still measure.

Goals (issues 3, 4, 5 and 9; reported, never asserted): ingest at least half the floor's speed;
dbt overhead under 20 %; each page query under 100 ms p95 and each page's queries under 300 ms
(p95 of their sum) at 1M changes; the CAB pack under 5 s; peak memory under 4 GB.
"""

from __future__ import annotations

import ast
import contextlib
import csv
import importlib
import importlib.metadata
import itertools
import json
import math
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import traceback
import types
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from changeboard import resources, timing
from changeboard.devtools import bench_incremental, bench_spark
from changeboard.devtools.bench_incremental import _incremental_child  # noqa: F401  (a child runs it by name)

DEFAULT_CHANGES = 1_000_000
DEFAULT_INCIDENTS = 5_000_000
DEFAULT_CIS = 100_000
DEFAULT_SCALES = (10_000, 100_000)
DEFAULT_PAGE_RUNS = 20
SEED = 7
MIN_CIS = 150

GOALS = {
    "ingest_floor_ratio_min": 0.7,
    "dbt_overhead_max": 0.20,
    "query_p95_ms_max": 100.0,
    "page_total_p95_ms_max": 300.0,
    "cab_seconds_max": 5.0,
    "peak_memory_mb_max": 4096.0,
    "json_peak_memory_mb_max": 2048.0,  # a 1 GB Table API export loads in bounded memory
    "growth_per_10x_max": 12.0,  # "no worse than linear" (10x), with a little room for noise
}
GOAL_SCALE = 1_000_000  # the serving goals are stated at this many changes

# Generous per-child limits: a hung or runaway step is killed and reported, never waited on forever.
TIMEOUTS = {
    "generate": 3600,
    "ingest": 2 * 3600,
    "floor": 3600,
    "build": 3600,
    "serve": 3 * 3600,
    "cab": 1800,
}
# Kill the running child when the work dir's disk has less free space than this (DuckDB spills to
# disk; other work shares this disk).
MIN_FREE_DISK = 10 * 2**30

# The checkout the bench measures (git state); the app and dbt project come from the package.
REPO = Path(__file__).resolve().parents[2]
APP_ENTRY = resources.app_dir() / "streamlit_app.py"
CHUNK = 1 << 20

Log = Callable[[str], None]


# ------------------------------------------------------------------------------------------------
# child processes
# ------------------------------------------------------------------------------------------------


class ChildFailed(RuntimeError):
    """A measurement's child process failed, timed out or was stopped to protect the disk."""


def _peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, kids) / 1024, 1)  # Linux reports KiB


def _child_entry(job_file: str) -> None:
    """The child's side: run the job named in ``job_file`` and write its result beside it."""
    job = json.loads(Path(job_file).read_text(encoding="utf-8"))
    try:
        result = globals()[job["fn"]](*job["args"], **job["kwargs"])
        result["peak_rss_mb"] = _peak_rss_mb()
        outcome: dict[str, Any] = {"ok": True, "result": result}
    except BaseException as exc:
        outcome = {
            "ok": False,
            "error": f"{type(exc).__name__}: {exc}",
            "trace": traceback.format_exc(limit=8),
        }
    tmp = Path(job["result"] + ".part")
    tmp.write_text(json.dumps(outcome, default=str), encoding="utf-8")
    tmp.replace(job["result"])


def _free_disk(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def _in_child(
    fn: Callable[..., dict[str, Any]], *args: Any, timeout: float, watch: Path, **kwargs: Any
) -> dict:
    """Run ``fn(*args, **kwargs)`` in a fresh interpreter in its own process group (so a timeout
    stops its children too, e.g. dbt); return its dict plus its peak_rss_mb. Its output goes to
    ``<watch>/logs/``."""
    logs = watch / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    stem = logs / f"{datetime.now(UTC).strftime('%H%M%S%f')}-{fn.__name__}"
    job = {"fn": fn.__name__, "args": list(args), "kwargs": kwargs, "result": f"{stem}.result.json"}
    Path(f"{stem}.job.json").write_text(json.dumps(job), encoding="utf-8")
    code = "import sys; from changeboard.devtools.bench import _child_entry; _child_entry(sys.argv[1])"
    with Path(f"{stem}.log").open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", code, f"{stem}.job.json"],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=REPO,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        stop_reason = None
        loads = [os.getloadavg()[0]]
        next_sample = time.monotonic() + 5
        try:
            while proc.poll() is None:
                if time.monotonic() >= next_sample:
                    loads.append(os.getloadavg()[0])
                    next_sample += 5
                if time.monotonic() > deadline:
                    stop_reason = f"timed out after {timeout:.0f} s"
                elif _free_disk(watch) < MIN_FREE_DISK:
                    stop_reason = (
                        f"stopped: less than {MIN_FREE_DISK // 2**30} GiB free on the disk of {watch}"
                    )
                if stop_reason:
                    break
                time.sleep(0.2)
        finally:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    if stop_reason:
        raise ChildFailed(stop_reason)
    result_file = Path(job["result"])
    if not result_file.exists():
        tail = Path(f"{stem}.log").read_text(encoding="utf-8", errors="replace")[-1500:]
        raise ChildFailed(f"child process died (exit code {proc.returncode}; the OOM killer?)\n{tail}")
    outcome = json.loads(result_file.read_text(encoding="utf-8"))
    if not outcome["ok"]:
        raise ChildFailed(f"{outcome['error']}\n{outcome['trace']}")
    result = outcome["result"]
    # The machine's 1-minute load average while the child ran: other work on a shared machine
    # slows every figure, so each one says how busy the machine was.
    loads.append(os.getloadavg()[0])
    result["load_1m_mean"] = round(statistics.mean(loads), 2)
    result["load_1m_max"] = round(max(loads), 2)
    return result


def _attempt(log: Log, what: str, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run one measurement; a failure is recorded (status, error), never raised."""
    started = time.perf_counter()
    try:
        result = fn()
        result.setdefault("status", "ok")
        return result
    except ChildFailed as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "failed"
        log(f"[red]{what} failed:[/] {first}")
        return {"status": "failed", "error": str(exc)[-4000:], "seconds": time.perf_counter() - started}


# ------------------------------------------------------------------------------------------------
# measurements (each runs in a child)
# ------------------------------------------------------------------------------------------------


def _generate_child(out: str, changes: int, incidents: int, cis: int, as_of: str) -> dict[str, Any]:
    from changeboard.devtools.generate import generate

    started = time.perf_counter()
    written = generate(
        Path(out),
        seed=SEED,
        changes=changes,
        incidents=incidents,
        cis=cis,
        as_of=datetime.fromisoformat(as_of),
    )
    return {"seconds": time.perf_counter() - started, "files": written}


def _ingest_child(files: list[str], data_root: str) -> dict[str, Any]:
    from changeboard.paths import DataDir
    from changeboard.pipeline import ingest_run

    # Where the connector's time goes: the phases the code marks (changeboard.timing), summed. Hashing
    # and the landing copy run on threads of their own: the sums are updated under a lock.
    spent: dict[str, float] = {}
    lock = threading.Lock()

    def heard(name: str, seconds: float, _details: Mapping[str, object]) -> None:
        with lock:
            spent[name] = spent.get(name, 0.0) + seconds

    data = DataDir(Path(data_root)).ensure()
    started = time.perf_counter()
    with timing.listening(heard):
        report = ingest_run.ingest_paths(data, [Path(f) for f in files], force=True)
    seconds = time.perf_counter() - started
    waited = sum(r.timings.get("waited_for_read", 0.0) for r in report.results)
    # On the file's own path: open (detect, first batch; a whole reader reads everything here),
    # load (the loader's own work) and the loader waiting for the next batch. Beside it, on threads
    # of their own: hashing, the landing copy, and reading + mapping the batches after the first.
    phases = {
        "open": spent.get("ingest.open", 0.0),
        "load": spent.get("ingest.load", 0.0) - waited,
        "waiting": waited,
        "read_map": sum(r.timings.get("read_map", 0.0) for r in report.results),
        "hash": spent.get("ingest.hash", 0.0),
        "land": spent.get("ingest.land", 0.0),
    }
    phases["other"] = max(0.0, seconds - phases["open"] - phases["load"] - phases["waiting"])
    results = [
        {
            "file": r.path.name,
            "status": r.status,
            "error": r.error,
            "source": f"{r.source_system} {r.source_table}",
            "rows_read": r.counts.rows_read,
            "inserted": r.counts.inserted,
            "quarantined": r.counts.quarantined,
            "seconds": r.duration_seconds,
        }
        for r in report.results
    ]
    size = data.ingest_db.stat().st_size if data.ingest_db.exists() else 0
    return {"seconds": seconds, "phases": phases, "results": results, "ingest_db_mb": round(size / 2**20, 1)}


def _table_api_json_child(csv_path: str, out: str) -> dict[str, Any]:
    """A ServiceNow Table API export of a CSV's records: ``{"result": [{field: "text"}, ...]}``."""
    import duckdb

    src, dst = Path(csv_path), Path(out)
    dst.parent.mkdir(parents=True, exist_ok=True)
    array = dst.with_suffix(".array.json")
    utf8 = src
    if _encoding_of(src).lower().replace("-", "") not in ("utf8", "utf8sig"):
        utf8 = dst.with_suffix(".utf8.csv")
        _transcode(src, _encoding_of(src), utf8)
    con = duckdb.connect()
    try:
        con.execute(
            f"copy (select * from read_csv('{utf8}', all_varchar = true, header = true)) "
            f"to '{array}' (format json, array true)"
        )
        records = con.execute(
            f"select count(*) from read_csv('{utf8}', all_varchar = true, header = true)"
        ).fetchall()[0][0]
    finally:
        con.close()
    with dst.open("wb") as f, array.open("rb") as body:
        f.write(b'{"result": ')
        shutil.copyfileobj(body, f, CHUNK)
        f.write(b"}")
    array.unlink()
    if utf8 != src:
        utf8.unlink()
    return {"mb": round(dst.stat().st_size / 2**20, 1), "records": records}


def _table_api_json_lines(result: dict[str, Any]) -> list[str]:
    """One sentence per scale whose Table API JSON export was ingested."""
    lines = []
    for scale, ing in result["ingest"].items():
        js = ing.get("table_api_json") or {}
        c = js.get("connector") or {}
        if c.get("status") == "ok":
            lines.append(
                f"Table API JSON at {int(scale):,} changes: {js['mb']:,.0f} MiB, {js['records']:,} records in one "
                f'{{"result": [...]}}: ingested in {c["seconds"]:,.1f} s, peak {c["peak_rss_mb"]:,.0f} MiB'
            )
    return lines


# The connector's phases as the reports show them: the file's own path, then the threads beside it.
PHASES = ("open", "load", "waiting", "other", "read_map", "hash", "land")
PHASE_COLUMNS = (
    "file",
    "open",
    "load",
    "waiting for read",
    "other",
    "read + map (beside)",
    "hash (beside)",
    "land (beside)",
    "total",
)


def _transcode(src: Path, encoding: str, dst: Path) -> None:
    with (
        src.open("r", encoding=encoding, errors="replace", newline="") as fin,
        dst.open("w", encoding="utf-8", newline="") as fout,
    ):
        shutil.copyfileobj(fin, fout, CHUNK)


def _floor_ingest_child(path: str, encoding: str, workdir: str) -> dict[str, Any]:
    """DuckDB's own read_csv of one export, all VARCHAR, into a table of a fresh database file."""
    import duckdb

    from changeboard.ingest.readers import sniff_delimiter, unique_headers

    src, tmp = Path(path), Path(workdir)
    tmp.mkdir(parents=True, exist_ok=True)
    transcode_s = 0.0
    if encoding.lower().replace("-", "").replace("_", "") not in ("utf8", "utf8sig"):
        started = time.perf_counter()
        utf8 = tmp / (src.name + ".utf8.csv")
        _transcode(src, encoding, utf8)
        transcode_s = time.perf_counter() - started
        src = utf8
    with src.open("r", encoding="utf-8-sig", newline="") as f:
        first = f.readline()
    delimiter = sniff_delimiter(first)
    headers = unique_headers(next(csv.reader([first], delimiter=delimiter)))
    columns = "{" + ", ".join("'" + h.replace("'", "''") + "': 'VARCHAR'" for h in headers) + "}"
    db = tmp / "floor.duckdb"
    started = time.perf_counter()
    con = duckdb.connect(str(db))
    try:
        con.execute(
            f"create table t as select * from read_csv(?, header = true, delim = ?, quote = '\"', "
            f"escape = '\"', columns = {columns})",
            [str(src), delimiter],
        )
        rows = con.execute("select count(*) from t").fetchall()[0][0]
        con.execute("checkpoint")
    finally:
        con.close()
    read_s = time.perf_counter() - started
    return {
        "read_csv_seconds": read_s,
        "transcode_seconds": transcode_s,
        "rows": rows,
        "columns": len(headers),
    }


def _build_child(data_root: str, as_of: str, run_id: str) -> dict[str, Any]:
    from changeboard.paths import DataDir
    from changeboard.pipeline import build_run, ingest_run

    data = DataDir(Path(data_root)).ensure()
    started = time.perf_counter()
    ingest_run.sync_forms(data, run_id=run_id)
    forms_s = time.perf_counter() - started
    started = time.perf_counter()
    pub = build_run.build(data, run_id=run_id, as_of=as_of)
    seconds = time.perf_counter() - started
    from changeboard.warehouse.versions import version_files

    return {
        "versions": [
            {"file": f.path.name, "mb": round(f.bytes / 2**20, 1), "published": f.current}
            for f in version_files(data)
        ],
        "seconds": seconds,
        "sync_forms_seconds": forms_s,
        "dbt_seconds": float(pub.meta.get("dbt_seconds", 0.0)),  # type: ignore[arg-type]
        "version": pub.version,
        "warehouse_mb": round(pub.path.stat().st_size / 2**20, 1),
    }


def _serial_run_child(data_root: str, as_of: str, scratch: str) -> dict[str, Any]:
    """`dbt run --threads 1` (seeds and models, no tests) into a scratch file: dbt's own cost per model
    without other models running beside it, to set against the same SQL run directly. (The build's
    per-model times run several models at once on the machine's cores: their sum is not comparable.)"""
    from changeboard.paths import DataDir
    from changeboard.pipeline import build_run

    data = DataDir(Path(data_root))
    out = Path(scratch)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    env = build_run.dbt_env(data, out / "serial.duckdb", out)
    args = [*build_run.dbt_project_args(), "--threads", "1", "--vars", f"{{as_of: '{as_of}'}}"]

    def node_times(command: str) -> dict[str, float]:
        proc = subprocess.run(
            build_run.dbt_command([command, *args]), env=env, capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"dbt {command} --threads 1 failed: {_first_line(proc.stdout[-2000:] + proc.stderr[-2000:])}"
            )
        results = json.loads((out / "target" / "run_results.json").read_text(encoding="utf-8"))["results"]
        return {r["unique_id"]: float(r.get("execution_time") or 0.0) for r in results}

    started = time.perf_counter()
    per_node = {**node_times("seed"), **node_times("run")}
    wall = time.perf_counter() - started
    shutil.rmtree(out, ignore_errors=True)
    return {"seconds": wall, "node_seconds": sum(per_node.values()), "nodes": per_node}


def _dag_order(nodes: dict[str, dict[str, Any]]) -> list[str]:
    """Model and seed ids in dependency order (Kahn's algorithm, ties by id for a stable order)."""
    deps = {uid: [d for d in n["depends_on"].get("nodes", []) if d in nodes] for uid, n in nodes.items()}
    done: list[str] = []
    placed: set[str] = set()
    while len(done) < len(deps):
        ready = sorted(u for u, ds in deps.items() if u not in placed and all(d in placed for d in ds))
        if not ready:
            raise RuntimeError(f"cycle among {sorted(set(deps) - placed)}")
        done.extend(ready)
        placed.update(ready)
    return done


def _floor_build_child(data_root: str, dbt_dir: str, floor_dir: str) -> dict[str, Any]:
    """The same models' compiled SQL run directly in DuckDB, in DAG order, into a fresh file."""
    import duckdb

    from changeboard.paths import DataDir
    from changeboard.pipeline import build_run

    data = DataDir(Path(data_root))
    target = data.root / "dbt" / "target"
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    project = manifest["metadata"].get("project_name") or "changeboard"
    nodes = {
        uid: n
        for uid, n in manifest["nodes"].items()
        if n["resource_type"] in ("model", "seed") and n["package_name"] == project
    }
    order = _dag_order(nodes)
    databases = {n["database"] for n in nodes.values()}
    if len(databases) != 1:
        raise RuntimeError(f"expected one database in the manifest, found {sorted(databases)}")
    database = databases.pop()
    out = Path(floor_dir)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    # The compiled SQL names the build file's catalog (its stem): a fresh file of the same stem.
    db_file = out / f"{database}.duckdb"
    published = os.path.realpath(data.warehouse_link)
    started_all = time.perf_counter()
    con = duckdb.connect(str(db_file))
    timings: dict[str, float] = {}
    try:
        con.execute(f"set memory_limit = '{build_run.build_memory_limit()}'")
        con.execute("attach ? as ingest (read_only)", [str(data.ingest_db)])
        con.execute("attach ? as published (read_only)", [published])
        for schema in sorted({n["schema"] for n in nodes.values()}):
            con.execute(f'create schema if not exists "{schema}"')
        for uid in order:
            node = nodes[uid]
            relation = f'"{node["schema"]}"."{node["alias"]}"'
            if node["resource_type"] == "seed":
                cols = con.execute(
                    "select column_name, data_type from duckdb_columns() where database_name = 'published' "
                    "and schema_name = ? and table_name = ? order by column_index",
                    [node["schema"], node["alias"]],
                ).fetchall()
                spec = "{" + ", ".join(f"'{c}': '{t}'" for c, t in cols) + "}"
                csv_path = Path(dbt_dir) / node["original_file_path"]
                started = time.perf_counter()
                con.execute(
                    f"create table {relation} as select * from read_csv(?, header = true, columns = {spec})",
                    [str(csv_path)],
                )
                timings[uid] = time.perf_counter() - started
                continue
            run_sql = target / "run" / project / node["original_file_path"]
            if not run_sql.exists():  # ephemeral models are inlined into their dependants
                continue
            sql = re.sub(r"__dbt_tmp(?=\")", "", run_sql.read_text(encoding="utf-8"))
            started = time.perf_counter()
            con.execute(sql)
            timings[uid] = time.perf_counter() - started
        con.execute("detach published")
        con.execute("checkpoint")
    finally:
        con.close()
    total = time.perf_counter() - started_all
    size = db_file.stat().st_size
    shutil.rmtree(out, ignore_errors=True)
    return {
        "seconds": total,
        "sql_seconds": sum(timings.values()),
        "nodes": timings,
        "file_mb": round(size / 2**20, 1),
    }


def _pages() -> list[tuple[str, str]]:
    """(file under app/, title) of every dashboard page, read from the entrypoint's SECTIONS."""
    tree = ast.parse(APP_ENTRY.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        target = None
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            target, value = node.target.id, node.value
        elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            target, value = node.targets[0].id, node.value
        if target == "SECTIONS" and value is not None:
            sections = ast.literal_eval(value)
            return [(f"views/{file}", title) for pages in sections.values() for file, title, _icon in pages]
    raise RuntimeError(f"no SECTIONS in {APP_ENTRY}")


def _percentile(values: list[float], q: float) -> float:
    """Nearest-rank-interpolated percentile (q in 0..100)."""
    if not values:
        return 0.0
    s = sorted(values)
    if len(s) == 1:
        return s[0]
    k = (len(s) - 1) * q / 100
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def _serve_child(data_root: str, runs: int, timeout: float) -> dict[str, Any]:
    """Every page with AppTest, ``runs`` times each with a cold query cache, every query timed."""
    from changeboard.paths import ENV_DATA_DIR

    os.environ[ENV_DATA_DIR] = data_root
    import changeboard.app.db as appdb

    calls: list[tuple[str, str, float]] = []  # (asking function, query key, seconds)
    views = str(resources.app_dir() / "views")

    def context() -> str:
        """The asking function (a data function, or a Records count / page) and the page line that asked:
        the caller of ``app.db.query``, whose frame is still on the stack when its phase ends."""
        frame: types.FrameType | None = sys._getframe(1)
        while frame is not None and frame.f_code is not appdb.query.__code__:
            frame = frame.f_back
        if frame is None or frame.f_back is None:
            return "?"
        frame = frame.f_back
        name = frame.f_code.co_name
        while frame is not None:
            file = frame.f_code.co_filename
            if file.startswith(views):
                return f"{name}@{Path(file).stem}:{frame.f_lineno}"
            if file == str(APP_ENTRY):
                return f"sidebar:{name}"
            frame = frame.f_back  # type: ignore[assignment]
        return name

    def heard(name: str, seconds: float, details: Mapping[str, object]) -> None:
        # The app's one door to the warehouse is app.db.query (cached per version): its phase.
        if name == "app.query":
            calls.append((context(), repr([details.get("sql"), details.get("params")])[:2000], seconds))

    pages: dict[str, Any] = {}
    with timing.listening(heard):
        for page, title in _pages():
            pages[title] = _serve_page(page, runs, timeout, calls)
    return {"pages": pages}


def _serve_page(page: str, runs: int, timeout: float, calls: list[tuple[str, str, float]]) -> dict[str, Any]:
    """One page ``runs`` times with a cold query cache; ``calls`` fills with its queries as they end."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    import changeboard.app.db as appdb

    at = AppTest.from_file(str(APP_ENTRY), default_timeout=timeout)
    at.run()  # the default page; opens the reader
    at.switch_page(page)
    at.run()  # warm-up on this page (imports, first render)
    per_query: dict[str, list[float]] = {}
    totals: list[float] = []
    walls: list[float] = []
    errors: list[str] = []
    counts: list[int] = []
    for _ in range(runs):
        st.cache_data.clear()
        appdb._cached.clear()  # the query cache (a shared resource cache, not cache_data)
        calls.clear()
        started = time.perf_counter()
        at.run()
        walls.append(time.perf_counter() - started)
        errors.extend(str(e.value)[:500] for e in at.exception)
        seen: dict[str, str] = {}
        per_fn: dict[str, int] = {}
        for label, key, seconds in calls:
            if key not in seen:
                per_fn[label] = per_fn.get(label, 0) + 1
                seen[key] = label if per_fn[label] == 1 else f"{label}#{per_fn[label]}"
            per_query.setdefault(seen[key], []).append(seconds)
        totals.append(sum(s for _l, _k, s in calls))
        counts.append(len(calls))
    queries = {
        label: {
            "calls": len(v),
            "p50_ms": _percentile(v, 50) * 1000,
            "p95_ms": _percentile(v, 95) * 1000,
            "max_ms": max(v) * 1000,
        }
        for label, v in per_query.items()
    }
    return {
        "page": page,
        "runs": runs,
        "queries_per_run": round(statistics.mean(counts), 1) if counts else 0,
        "total_p50_ms": _percentile(totals, 50) * 1000,
        "total_p95_ms": _percentile(totals, 95) * 1000,
        "script_p50_ms": _percentile(walls, 50) * 1000,
        "script_p95_ms": _percentile(walls, 95) * 1000,
        "queries": queries,
        "errors": sorted(set(errors)),
    }


# ------------------------------------------------------------------------------------------------
# the CAB pack
# ------------------------------------------------------------------------------------------------


def _cab_module() -> Any | None:
    """The module that generates the CAB pack (``changeboard report cab``), if one exists yet."""
    for name in ("changeboard.reports.cab",):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if hasattr(module, "FORMATS"):
            return module
    return None


def _cab_child(data_root: str, out_dir: str) -> dict[str, Any]:
    """``changeboard report cab --format F`` for every format, as a user runs it.

    ``seconds`` is the whole command (interpreter start and imports included); ``reported_seconds``
    is what the command itself reports (connect, query, render, write).
    """
    from changeboard.paths import ENV_DATA_DIR

    module = _cab_module()
    formats = list(getattr(module, "FORMATS", ()))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, ENV_DATA_DIR: data_root}
    cli = [sys.executable, "-c", "from changeboard.cli import app; app()", "report", "cab"]
    results: dict[str, Any] = {}
    for fmt in formats:
        target = out / f"cab.{fmt}"
        started = time.perf_counter()
        proc = subprocess.run(
            [*cli, "--format", fmt, "--out", str(target)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - started
        said = " ".join(proc.stdout.split())
        reported = re.search(r"([\d.]+) s$", said)
        ok = proc.returncode == 0 and target.exists()
        results[fmt] = {
            "seconds": seconds,
            "reported_seconds": float(reported.group(1)) if reported else None,
            "bytes": target.stat().st_size if target.exists() else 0,
            "status": "ok" if ok else "failed",
            "error": None if ok else (proc.stdout + proc.stderr)[-1500:],
        }
    if not results:
        raise RuntimeError("the CAB pack module declares no FORMATS")
    return {"formats": results}


# ------------------------------------------------------------------------------------------------
# the run
# ------------------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """Cores, memory and the versions that matter."""
    import duckdb

    def version(dist: str) -> str:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    mem = 0
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(mem / 2**30, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "dbt_core": version("dbt-core"),
        "dbt_duckdb": version("dbt-duckdb"),
        "streamlit": version("streamlit"),
        "polars": version("polars"),
    }


def _code_state() -> dict[str, Any]:
    """The commit measured and the files that differed from it (the work tree may be ahead)."""

    def git(*args: str) -> str:
        try:
            proc = subprocess.run(
                ["git", *args], cwd=REPO, capture_output=True, text=True, check=False, timeout=30
            )
        except (OSError, subprocess.SubprocessError):
            return ""
        return proc.stdout if proc.returncode == 0 else ""

    status = git("status", "--porcelain", "--", "changeboard", "ingest", "dbt", "app")
    dirty = [line[3:] for line in status.splitlines() if line.strip()]
    return {"commit": git("rev-parse", "--short", "HEAD").strip() or None, "modified": dirty}


def _scales(changes: int, scales: list[int] | None) -> list[int]:
    chosen = list(scales) if scales else [s for s in DEFAULT_SCALES if s < changes] + [changes]
    return sorted({int(s) for s in chosen if int(s) > 0})


def _sizes(scale: int, changes: int, incidents: int, cis: int) -> tuple[int, int]:
    """Incidents and CIs at a scale: the requested ratios to changes, kept at every scale."""
    factor = scale / changes
    return round(incidents * factor), max(MIN_CIS, round(cis * factor))


def _growth(a: tuple[int, float], b: tuple[int, float]) -> float | None:
    """Growth of a cost per 10x more data between two scales (10.0 = linear)."""
    (sa, ta), (sb, tb) = a, b
    if sa == sb or ta <= 0 or tb <= 0:
        return None
    return (tb / ta) ** (1 / math.log10(sb / sa))


def _encoding_of(path: Path) -> str:
    from changeboard.ingest.readers import detect_encoding

    return detect_encoding(path)


def _measure_scale(
    scale: int,
    incidents: int,
    cis: int,
    root: Path,
    as_of: datetime,
    page_runs: int,
    log: Log,
    watch: Path,
) -> dict[str, Any]:
    res: dict[str, Any] = {"changes": scale, "incidents": incidents, "cis": cis}
    samples = root / "samples"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)

    log(f"generating {scale:,} changes, {incidents:,} incidents, {cis:,} CIs")
    res["generate"] = _attempt(
        log,
        "generate",
        lambda: _in_child(
            _generate_child,
            str(samples),
            scale,
            incidents,
            cis,
            as_of.isoformat(),
            timeout=TIMEOUTS["generate"],
            watch=watch,
        ),
    )
    if res["generate"]["status"] != "ok":
        return res
    files = sorted(p for p in samples.rglob("*.csv") if p.is_file())
    res["generate"]["mb"] = round(sum(p.stat().st_size for p in files) / 2**20, 1)

    # 1. ingest, file by file (each into a fresh data dir), each beside its floor
    rows: list[dict[str, Any]] = []
    for path in files:
        rel = str(path.relative_to(samples))
        log(f"ingest {rel} ({path.stat().st_size / 2**20:,.0f} MiB)")
        fresh = root / "fresh"
        shutil.rmtree(fresh, ignore_errors=True)
        conn = _attempt(
            log,
            f"ingest {rel}",
            lambda p=path, d=fresh: _in_child(
                _ingest_child, [str(p)], str(d), timeout=TIMEOUTS["ingest"], watch=watch
            ),
        )
        shutil.rmtree(fresh, ignore_errors=True)
        encoding = _encoding_of(path)
        floor = _attempt(
            log,
            f"floor {rel}",
            lambda p=path, e=encoding, d=fresh: _in_child(
                _floor_ingest_child, str(p), e, str(d), timeout=TIMEOUTS["floor"], watch=watch
            ),
        )
        shutil.rmtree(fresh, ignore_errors=True)
        row: dict[str, Any] = {
            "file": rel,
            "mb": round(path.stat().st_size / 2**20, 1),
            "encoding": encoding,
            "connector": conn,
            "floor": floor,
        }
        # rows/s counts the file's data rows (the floor's count) for both; the connector's
        # canonical rows (one file can give several entities: changes, CI links, approvals) are kept too.
        row["rows"] = floor.get("rows")
        if conn["status"] == "ok":
            r = conn["results"][0]
            conn["canonical_rows"] = r["rows_read"]
            conn["load_status"] = r["status"]
            if r["status"] != "succeeded":
                conn["status"] = "failed"
                conn["error"] = r["error"]
            if row["rows"] is None:
                row["rows"] = r["rows_read"]
            conn["rows_per_s"] = row["rows"] / conn["seconds"] if conn["seconds"] else 0.0
        if floor["status"] == "ok":
            floor["rows_per_s"] = (
                floor["rows"] / floor["read_csv_seconds"] if floor["read_csv_seconds"] else 0.0
            )
            floor["seconds_with_transcode"] = floor["read_csv_seconds"] + floor["transcode_seconds"]
        if conn["status"] == "ok" and floor["status"] == "ok":
            row["floor_ratio"] = floor["read_csv_seconds"] / conn["seconds"]
            row["floor_ratio_with_transcode"] = floor["seconds_with_transcode"] / conn["seconds"]
        rows.append(row)

    # then the whole folder in one run (what `changeboard ingest DIR` does) into the build's data dir
    data_root = root / "data"
    log("ingest every file in one run (the data the build uses)")
    all_files = _attempt(
        log,
        "ingest (all files)",
        lambda: _in_child(
            _ingest_child, [str(samples)], str(data_root), timeout=TIMEOUTS["ingest"], watch=watch
        ),
    )
    if all_files["status"] == "ok":
        failed = [r for r in all_files["results"] if r["status"] not in ("succeeded",)]
        all_files["canonical_rows"] = sum(r["rows_read"] for r in all_files["results"])
        all_files["rows"] = sum(row.get("rows") or 0 for row in rows) or all_files["canonical_rows"]
        all_files["rows_per_s"] = all_files["rows"] / all_files["seconds"] if all_files["seconds"] else 0.0
        if failed:
            all_files["status"] = "failed"
            all_files["error"] = "; ".join(f"{r['file']}: {r['error']}" for r in failed)
        shutil.rmtree(data_root / "landing", ignore_errors=True)  # the landed copies are not needed again
    res["ingest"] = {"files": rows, "all_files": all_files}

    # the same changes as a ServiceNow Table API export (one {"result": [...]} object), streamed
    source = samples / "servicenow" / "change_request.csv"
    if source.exists():
        log("ingest the changes as one Table API JSON export")
        exported = root / "json" / "change_request.json"
        made = _attempt(
            log,
            "Table API JSON export",
            lambda: _in_child(
                _table_api_json_child, str(source), str(exported), timeout=TIMEOUTS["floor"], watch=watch
            ),
        )
        if made["status"] == "ok":
            fresh = root / "fresh"
            shutil.rmtree(fresh, ignore_errors=True)
            conn = _attempt(
                log,
                "ingest Table API JSON",
                lambda: _in_child(
                    _ingest_child, [str(exported)], str(fresh), timeout=TIMEOUTS["ingest"], watch=watch
                ),
            )
            shutil.rmtree(fresh, ignore_errors=True)
            if conn["status"] == "ok" and conn["results"][0]["status"] != "succeeded":
                conn["status"], conn["error"] = "failed", conn["results"][0]["error"]
            res["ingest"]["table_api_json"] = {
                "mb": made["mb"],
                "records": made["records"],
                "connector": conn,
            }
        shutil.rmtree(root / "json", ignore_errors=True)
    if all_files["status"] != "ok":
        return res

    # 2. build, beside the same SQL run directly
    log("build (dbt build with tests, publish)")
    build = _attempt(
        log,
        "build",
        lambda: _in_child(
            _build_child,
            str(data_root),
            as_of.strftime("%Y-%m-%d %H:%M:%S"),
            f"bench-{scale}",
            timeout=TIMEOUTS["build"],
            watch=watch,
        ),
    )
    res["build"] = build
    run_results = data_root / "dbt" / "target" / "run_results.json"
    per_node: dict[str, float] = {}
    if run_results.exists():
        build["dbt_nodes"] = _dbt_phases(run_results)
        per_node = build["dbt_nodes"].pop("per_node")
        # every model's and test's time in the build itself (dbt's run_results.json), slowest first
        build["nodes_by_time"] = [
            {"node": uid.split(".")[-1], "kind": uid.split(".")[0], "seconds": round(t, 3)}
            for uid, t in sorted(per_node.items(), key=lambda kv: -kv[1])
        ]
        if build["status"] == "ok":
            build["dbt_fixed_seconds"] = max(0.0, build["dbt_seconds"] - build["dbt_nodes"]["span_seconds"])
    if build["status"] != "ok":
        return res
    log("build floor (the compiled model SQL directly in DuckDB)")
    floor_build = _attempt(
        log,
        "build floor",
        lambda: _in_child(
            _floor_build_child,
            str(data_root),
            str(resources.dbt_project_dir()),
            str(root / "floor_build"),
            timeout=TIMEOUTS["build"],
            watch=watch,
        ),
    )
    build["floor"] = floor_build
    log("dbt run --threads 1 (dbt's own cost per model, nothing beside it)")
    serial = _attempt(
        log,
        "dbt serial run",
        lambda: _in_child(
            _serial_run_child,
            str(data_root),
            as_of.strftime("%Y-%m-%d %H:%M:%S"),
            str(root / "serial_run"),
            timeout=TIMEOUTS["build"],
            watch=watch,
        ),
    )
    build["serial"] = serial
    if floor_build["status"] == "ok":
        nodes = build["dbt_nodes"]
        # the build's models run side by side: their summed times are reported, not compared
        build["dbt_model_seconds_concurrent"] = nodes["model_seconds"] + nodes["seed_seconds"]
        build["direct_sql_seconds"] = floor_build["sql_seconds"]
        serial_nodes: dict[str, float] = serial.pop("nodes", {}) if serial["status"] == "ok" else {}
        floor_nodes: dict[str, float] = floor_build.pop("nodes")
        if serial_nodes:
            dbt_models = sum(serial_nodes.get(uid, 0.0) for uid in floor_nodes)
            build["dbt_model_seconds"] = dbt_models
            build["dbt_overhead"] = (
                (dbt_models - floor_build["sql_seconds"]) / dbt_models if dbt_models else None
            )
        per_model = []
        for uid, direct in floor_nodes.items():
            per_model.append(
                {
                    "node": uid.split(".")[-1],
                    "dbt_seconds": serial_nodes.get(uid),
                    "dbt_build_seconds": per_node.get(uid),
                    "direct_seconds": direct,
                }
            )
        build["per_model"] = sorted(
            per_model, key=lambda m: -(m["dbt_seconds"] or m["dbt_build_seconds"] or 0)
        )

    # 3. serving
    log(f"serving: every page x {page_runs} runs")
    res["serving"] = _attempt(
        log,
        "serving",
        lambda: _in_child(
            _serve_child, str(data_root), page_runs, 600.0, timeout=TIMEOUTS["serve"], watch=watch
        ),
    )

    # 4. the CAB pack
    if _cab_module() is None:
        res["cab"] = {
            "status": "not available",
            "reason": "no CAB pack module (`changeboard report cab`) yet",
        }
    else:
        log("CAB pack")
        res["cab"] = _attempt(
            log,
            "CAB pack",
            lambda: _in_child(
                _cab_child, str(data_root), str(root / "cab"), timeout=TIMEOUTS["cab"], watch=watch
            ),
        )
    return res


def _dbt_phases(path: Path) -> dict[str, Any]:
    """Per-phase sums and the node span from dbt's run_results.json."""
    rr = json.loads(path.read_text(encoding="utf-8"))
    sums = {"model": 0.0, "seed": 0.0, "test": 0.0, "unit_test": 0.0}
    counts = dict.fromkeys(sums, 0)
    per_node: dict[str, float] = {}
    starts, ends, slow_tests = [], [], []
    errors: list[dict[str, Any]] = []
    skipped = 0
    for r in rr["results"]:
        kind = r["unique_id"].split(".")[0]
        t = float(r.get("execution_time") or 0.0)
        if kind in sums:
            sums[kind] += t
            counts[kind] += 1
        per_node[r["unique_id"]] = t
        if kind in ("test", "unit_test"):
            parts = r["unique_id"].split(".")
            slow_tests.append((t, parts[3] if kind == "unit_test" else parts[2]))
        if r.get("status") == "skipped":
            skipped += 1
        elif r.get("status") not in ("success", "pass", "no-op"):
            errors.append(
                {
                    "node": r["unique_id"],
                    "status": r.get("status"),
                    "seconds": t,
                    "message": re.sub(
                        r"^(Runtime|Database) Error in \w+ \S+ \([^)]*\)\s*",
                        "",
                        " ".join((r.get("message") or "").split()),
                    )[:400],
                }
            )
        for step in r.get("timing") or []:
            with contextlib.suppress(KeyError, ValueError, TypeError):
                starts.append(datetime.fromisoformat(step["started_at"].replace("Z", "+00:00")))
                ends.append(datetime.fromisoformat(step["completed_at"].replace("Z", "+00:00")))
    span = (max(ends) - min(starts)).total_seconds() if starts and ends else 0.0
    return {
        "model_seconds": sums["model"],
        "seed_seconds": sums["seed"],
        "test_seconds": sums["test"] + sums["unit_test"],
        "models": counts["model"],
        "seeds": counts["seed"],
        "tests": counts["test"] + counts["unit_test"],
        "span_seconds": span,
        "elapsed_seconds": float(rr.get("elapsed_time") or 0.0),
        "slowest_tests": [{"test": n, "seconds": t} for t, n in sorted(slow_tests, reverse=True)[:5]],
        "errors": errors[:20],
        "skipped": skipped,
        "per_node": per_node,
    }


def _scaling(scales: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Growth per 10x of each cost between consecutive scales (and first to last)."""
    series: dict[str, list[tuple[int, float]]] = {}

    def add(name: str, scale: int, value: Any) -> None:
        if isinstance(value, int | float) and value > 0:
            series.setdefault(name, []).append((scale, float(value)))

    for res in scales.values():
        s = res["changes"]
        ingest = res.get("ingest") or {}
        for row in ingest.get("files", []):
            if row["connector"].get("status") == "ok":
                add(f"ingest {row['file']}", s, row["connector"]["seconds"])
            if row["floor"].get("status") == "ok":
                add(f"floor {row['file']}", s, row["floor"]["read_csv_seconds"])
        if (ingest.get("all_files") or {}).get("status") == "ok":
            add("ingest (all files, one run)", s, ingest["all_files"]["seconds"])
        build = res.get("build") or {}
        if build.get("status") == "ok":
            add("build (build_run.build)", s, build["seconds"])
            add("dbt model + seed nodes", s, build.get("dbt_model_seconds"))
            add("dbt tests", s, build["dbt_nodes"]["test_seconds"])
            add("direct SQL", s, build.get("direct_sql_seconds"))
        serving = res.get("serving") or {}
        for title, page in (serving.get("pages") or {}).items():
            add(f"page {title} (queries p50)", s, page["total_p50_ms"] / 1000)
    out: dict[str, Any] = {}
    for name, points in series.items():
        points.sort()
        steps = [
            {"from": a[0], "to": b[0], "growth_per_10x": _growth(a, b)} for a, b in itertools.pairwise(points)
        ]
        overall = _growth(points[0], points[-1]) if len(points) > 1 else None
        out[name] = {"points": points, "steps": steps, "growth_per_10x": overall}
    return out


def _goals(scales: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Each goal judged at the largest scale measured. A section that could not run there (say the
    build failed) is a miss at that scale, and is judged as well at the largest scale it ran at."""
    if not scales:
        return []
    ordered = sorted(scales.values(), key=lambda r: r["changes"])
    top = ordered[-1]
    checks: list[dict[str, Any]] = []

    def check(
        res: dict[str, Any], goal: str, value: float | None, met: bool | None, detail: str = ""
    ) -> None:
        at = f"{res['changes']:,} changes"
        checks.append({"goal": goal, "at": at, "value": value, "met": met, "detail": detail})

    def ok(res: dict[str, Any], section: str) -> bool:
        return (res.get(section) or {}).get("status") == "ok"

    def why_not(res: dict[str, Any], section: str) -> str:
        build = res.get("build") or {}
        if section != "build" and not ok(res, "build"):
            section = "build"
        errs = (build.get("dbt_nodes") or {}).get("errors") or [] if section == "build" else []
        status = (res.get(section) or {}).get("status", "not run")
        detail = f": {errs[0]['node'].split('.')[-1]}: {errs[0]['message'][:100]}" if errs else ""
        return f"{section} {status}{detail}"

    def fallback(section: str) -> dict[str, Any] | None:
        return next((r for r in reversed(ordered[:-1]) if ok(r, section)), None)

    ingest = top.get("ingest") or {}
    for row in ingest.get("files", []):
        ratio = row.get("floor_ratio")
        check(
            top,
            f"ingest {row['file']}: floor/connector >= {GOALS['ingest_floor_ratio_min']}",
            ratio,
            None if ratio is None else ratio >= GOALS["ingest_floor_ratio_min"],
        )
    peaks = [
        ("ingest " + r["file"], r["connector"].get("peak_rss_mb"))
        for r in ingest.get("files", [])
        if r["connector"].get("status") == "ok"
    ]
    if (ingest.get("all_files") or {}).get("status") == "ok":
        peaks.append(("ingest (all files, one run)", ingest["all_files"]["peak_rss_mb"]))
    for name, mb in peaks:
        check(top, f"peak memory < 4 GB: {name}", mb, mb < GOALS["peak_memory_mb_max"])
    as_json = (ingest.get("table_api_json") or {}).get("connector") or {}
    if as_json.get("status") == "ok":
        mb = as_json["peak_rss_mb"]
        size = ingest["table_api_json"]["mb"]
        check(
            top,
            "peak memory < 2 GB: ingest the changes as one Table API JSON export",
            mb,
            mb < GOALS["json_peak_memory_mb_max"],
            f"{size:,.0f} MiB, {ingest['table_api_json']['records']:,} records, {as_json['seconds']:,.1f} s",
        )
    if ok(top, "build"):
        check(
            top,
            "peak memory < 4 GB: build (incl. dbt)",
            top["build"]["peak_rss_mb"],
            top["build"]["peak_rss_mb"] < GOALS["peak_memory_mb_max"],
        )

    def build_checks(res: dict[str, Any]) -> None:
        ov = res["build"].get("dbt_overhead")
        check(res, "dbt overhead < 20 %", ov, None if ov is None else ov < GOALS["dbt_overhead_max"])

    def serving_checks(res: dict[str, Any]) -> None:
        for title, page in res["serving"]["pages"].items():
            worst = max(
                page["queries"].items(), key=lambda kv: kv[1]["p95_ms"], default=(None, {"p95_ms": 0.0})
            )
            check(
                res,
                f"page {title}: each query p95 < 100 ms",
                worst[1]["p95_ms"],
                worst[1]["p95_ms"] < GOALS["query_p95_ms_max"] and not page["errors"],
                f"slowest: {worst[0]}"
                + (f"; page errors: {page['errors'][0][:120]}" if page["errors"] else ""),
            )
            check(
                res,
                f"page {title}: queries together p95 < 300 ms",
                page["total_p95_ms"],
                page["total_p95_ms"] < GOALS["page_total_p95_ms_max"],
            )

    def cab_checks(res: dict[str, Any]) -> None:
        for fmt, r in res["cab"]["formats"].items():
            check(res, f"CAB pack ({fmt}) < 5 s", r["seconds"], r["status"] == "ok" and r["seconds"] < 5.0)

    for section, goal, judge in (
        ("build", "dbt overhead < 20 %", build_checks),
        ("serving", "dashboard page queries", serving_checks),
        ("cab", "CAB pack < 5 s", cab_checks),
    ):
        if ok(top, section):
            judge(top)
            continue
        if section == "cab" and (top.get("cab") or {}).get("status") == "not available":
            check(top, goal, None, None, "not available: no CAB pack module yet")
            continue
        check(top, goal, None, False, f"not measured: {why_not(top, section)}")
        if (lower := fallback(section)) is not None:
            judge(lower)
    return checks


def run_bench(
    changes: int = DEFAULT_CHANGES,
    incidents: int | None = None,
    cis: int | None = None,
    out: Path | None = None,
    scales: list[int] | None = None,
    workdir: Path | None = None,
    *,
    page_runs: int = DEFAULT_PAGE_RUNS,
    console: Console | None = None,
    spark: bool = False,
) -> dict[str, Any]:
    """Run the benchmark; print a table per section; write and return the JSON.

    Args:
        changes: ServiceNow change requests at the largest scale (default 1M).
        incidents: Incidents at the largest scale (default 5 per change: 5M at 1M).
        cis: Configuration items at the largest scale (default 1 per 10 changes: 100k at 1M).
        out: The JSON file (default ``<workdir>/bench.json``).
        scales: Numbers of changes to measure at (default 10k, 100k and ``changes``); incidents
            and CIs keep their ratio to changes at every scale.
        workdir: Where the generated files and data dirs go (default ``<data dir>/bench``).
        page_runs: Runs of each dashboard page (each with a cold query cache).
        console: Where the tables go (default stdout).
        spark: Also build each scale on Apache Spark (``bench_spark``: one local Thrift server).
    """
    from changeboard.paths import DataDir

    console = console or Console()
    changes = int(changes)
    incidents = (
        int(incidents) if incidents is not None else round(changes * DEFAULT_INCIDENTS / DEFAULT_CHANGES)
    )
    cis = int(cis) if cis is not None else max(MIN_CIS, round(changes * DEFAULT_CIS / DEFAULT_CHANGES))
    workdir = Path(workdir) if workdir else DataDir.resolve(None).root / "bench"
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    out = Path(out) if out else workdir / "bench.json"
    chosen = _scales(changes, scales)
    as_of = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    started = time.perf_counter()

    def log(msg: str) -> None:
        console.log(msg)

    report: dict[str, Any] = {
        "command": " ".join(["changeboard", *sys.argv[1:]])
        if Path(sys.argv[0]).name == "changeboard"
        else None,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "params": {
            "changes": changes,
            "incidents": incidents,
            "cis": cis,
            "scales": chosen,
            "seed": SEED,
            "as_of": as_of.date().isoformat(),
            "page_runs": page_runs,
            "workdir": str(workdir),
        },
        "goals": GOALS,
        "machine": machine(),
        "code": _code_state(),
    }
    per_scale: dict[str, dict[str, Any]] = {}
    with contextlib.ExitStack() as stack:
        server = (
            stack.enter_context(bench_spark.thrift_server(workdir / "spark-server", log)) if spark else None
        )
        for scale in chosen:
            inc, ci = _sizes(scale, changes, incidents, cis)
            per_scale[str(scale)] = res = _measure_scale(
                scale, inc, ci, workdir / f"scale_{scale}", as_of, page_runs, log, workdir
            )
            if scale == chosen[-1] and isinstance(res.get("build"), dict):
                res["build"]["incremental"] = bench_incremental.measure(
                    workdir / f"scale_{scale}", as_of, log, workdir
                )
            if server is not None and res.get("build", {}).get("status") == "ok":
                res["spark"] = bench_spark.measure_scale(
                    server, workdir / f"scale_{scale}", as_of.strftime("%Y-%m-%d %H:%M:%S"), log
                )
            _write(out, _assemble(report, per_scale, started))  # partial results survive an interrupted run
    result = _assemble(report, per_scale, started)
    _write(out, result)
    print_report(result, console)
    bench_incremental.print_incremental(result, console)
    console.print(f"[bold]JSON:[/] {out}")
    return result


def _assemble(report: dict[str, Any], per_scale: dict[str, dict[str, Any]], started: float) -> dict[str, Any]:
    sections: dict[str, Any] = {k: {} for k in ("generate", "ingest", "build", "serving", "cab")}
    for scale, res in per_scale.items():
        for k in sections:
            sections[k][scale] = res.get(k, {"status": "not run"})
    return {
        **report,
        **sections,
        **bench_spark.section(per_scale),
        "scaling": _scaling(per_scale),
        "checks": _goals(per_scale),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": time.perf_counter() - started,
    }


def _write(out: Path, result: dict[str, Any]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    tmp.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    tmp.replace(out)


# ------------------------------------------------------------------------------------------------
# printing
# ------------------------------------------------------------------------------------------------


def _f(v: Any, fmt: str = "{:,.2f}") -> str:
    if v is None:
        return "-"
    if isinstance(v, int | float):
        return fmt.format(v)
    return str(v)


def _met(met: bool | None) -> str:
    return {True: "[green]yes[/]", False: "[bold red]NO[/]", None: "[dim]n/a[/]"}[met]


def _first_line(text: object) -> str:
    """The first line of an error text ("" for none)."""
    lines = str(text or "").strip().splitlines()
    return lines[0] if lines else ""


def print_report(result: dict[str, Any], console: Console) -> None:
    """A rich table per section."""
    m = result["machine"]
    t = Table(title="machine", show_header=False)
    for k, v in m.items():
        t.add_row(k, str(v))
    console.print(t)

    t = Table(
        title="ingest: connector (ingest_paths, one file, fresh data dir) vs DuckDB read_csv floor "
        "(load: the machine's 1-minute load average meanwhile)"
    )
    for col in (
        "changes",
        "file",
        "MiB",
        "rows",
        "connector s",
        "rows/s",
        "peak MiB",
        "transcode s",
        "read_csv s",
        "floor rows/s",
        "floor peak MiB",
        "floor/connector",
        "load",
    ):
        t.add_column(col, justify="left" if col == "file" else "right")
    for scale, ing in result["ingest"].items():
        if "files" not in ing:
            continue
        for row in ing["files"]:
            c, f = row["connector"], row["floor"]
            ratio = row.get("floor_ratio")
            t.add_row(
                f"{int(scale):,}",
                row["file"],
                _f(row["mb"], "{:,.1f}"),
                _f(row.get("rows"), "{:,}"),
                _f(c.get("seconds")) if c["status"] == "ok" else f"[red]{c['status']}[/]",
                _f(c.get("rows_per_s"), "{:,.0f}"),
                _f(c.get("peak_rss_mb"), "{:,.0f}"),
                _f(f.get("transcode_seconds")),
                _f(f.get("read_csv_seconds")) if f["status"] == "ok" else f"[red]{f['status']}[/]",
                _f(f.get("rows_per_s"), "{:,.0f}"),
                _f(f.get("peak_rss_mb"), "{:,.0f}"),
                "-" if ratio is None else (f"[red]{ratio:.3f}[/]" if ratio < 0.5 else f"{ratio:.3f}"),
                _f(c.get("load_1m_mean"), "{:,.1f}"),
            )
        a = ing["all_files"]
        t.add_row(
            f"{int(scale):,}",
            "[bold]all files, one run[/]",
            "",
            _f(a.get("rows"), "{:,}"),
            _f(a.get("seconds")) if a["status"] == "ok" else f"[red]{a['status']}[/]",
            _f(a.get("rows_per_s"), "{:,.0f}"),
            _f(a.get("peak_rss_mb"), "{:,.0f}"),
            *[""] * 5,
            _f(a.get("load_1m_mean"), "{:,.1f}"),
        )
    console.print(t)

    for line in _table_api_json_lines(result):
        console.print(line)
    top_ingest = max((k for k, v in result["ingest"].items() if "files" in v), key=int, default=None)
    if top_ingest:
        t = Table(title=f"ingest at {int(top_ingest):,} changes: where the connector's time goes (s)")
        for col in PHASE_COLUMNS:
            t.add_column(col, justify="left" if col == "file" else "right")
        for row in result["ingest"][top_ingest]["files"]:
            ph = row["connector"].get("phases")
            if not ph:
                continue
            t.add_row(
                row["file"],
                *(_f(ph.get(k)) for k in PHASES),
                _f(row["connector"]["seconds"]),
            )
        console.print(t)

    t = Table(title="build: build_run.build (dbt build + publish) vs the compiled model SQL run directly")
    for col in (
        "changes",
        "build s",
        "dbt s",
        "dbt start-up s",
        "dbt nodes, 1 thread s",
        "direct SQL s",
        "dbt overhead",
        "tests s (n)",
        "peak MiB",
        "warehouse MiB",
        "load",
    ):
        t.add_column(col, justify="right")
    for scale, b in result["build"].items():
        if b.get("status") != "ok":
            errs = (b.get("dbt_nodes") or {}).get("errors") or []
            why = (
                f"{errs[0]['node'].split('.')[-1]} after {errs[0]['seconds']:,.0f} s: {errs[0]['message'][:90]}"
                if errs
                else _first_line(b.get("error"))[:120]
            )
            t.add_row(f"{int(scale):,}", f"[red]{b.get('status')}[/]", "", "", "", "", why)
            continue
        n = b["dbt_nodes"]
        ov = b.get("dbt_overhead")
        t.add_row(
            f"{int(scale):,}",
            _f(b["seconds"]),
            _f(b["dbt_seconds"]),
            _f(b.get("dbt_fixed_seconds")),
            _f(b.get("dbt_model_seconds")),
            _f(b.get("direct_sql_seconds")),
            f"[red]floor {b.get('floor', {}).get('status', 'not run')}[/]"
            if ov is None
            else (f"[red]{ov:.1%}[/]" if ov >= 0.2 else f"{ov:.1%}"),
            f"{n['test_seconds']:,.2f} ({n['tests']})",
            _f(b.get("peak_rss_mb"), "{:,.0f}"),
            _f(b.get("warehouse_mb"), "{:,.1f}")
            + (
                f" ({len(b['versions'])} on disk: {sum(v['mb'] for v in b['versions']):,.1f})"
                if b.get("versions")
                else ""
            ),
            _f(b.get("load_1m_mean"), "{:,.1f}"),
        )
    console.print(t)
    top = max(result["build"], key=int, default=None)
    nodes = result["build"][top].get("nodes_by_time") if top else None
    if top and nodes:
        models = [n for n in nodes if n["kind"] in ("model", "seed")]
        tests = [n for n in nodes if n["kind"] in ("test", "unit_test")]
        t = Table(
            title=f"build at {int(top):,} changes: every model's time in the build (dbt's run_results.json; "
            f"{len(models)} models and seeds {sum(n['seconds'] for n in models):,.1f} s, "
            f"{len(tests)} tests {sum(n['seconds'] for n in tests):,.1f} s; nodes run side by side)"
        )
        for col in ("model", "s", "share"):
            t.add_column(col, justify="left" if col == "model" else "right")
        total = sum(n["seconds"] for n in models) or 1.0
        for n in models:
            t.add_row(n["node"], _f(n["seconds"]), f"{n['seconds'] / total:.1%}")
        for n in tests[:10]:
            t.add_row(f"[dim]test {n['node'][:70]}[/]", _f(n["seconds"]), "")
        console.print(t)
    if top and result["build"][top].get("per_model"):
        t = Table(
            title=f"build at {int(top):,} changes: slowest models (dbt, 1 thread / in the build vs direct SQL)"
        )
        for col in ("model", "dbt 1 thread s", "in the build s", "direct s"):
            t.add_column(col, justify="left" if col == "model" else "right")
        for pm in result["build"][top]["per_model"][:8]:
            t.add_row(
                pm["node"], _f(pm["dbt_seconds"]), _f(pm.get("dbt_build_seconds")), _f(pm["direct_seconds"])
            )
        console.print(t)

    t = Table(title="serving: each page's queries against the published warehouse (cold cache, ms)")
    for col in (
        "changes",
        "page",
        "queries",
        "total p50",
        "total p95",
        "slowest query",
        "its p50",
        "its p95",
        "script p50",
        "load",
    ):
        t.add_column(col, justify="left" if col in ("page", "slowest query") else "right")
    for scale, s in result["serving"].items():
        if s.get("status") != "ok":
            t.add_row(f"{int(scale):,}", f"[red]{s.get('status')}[/]")
            continue
        for title, p in s["pages"].items():
            name, q = max(p["queries"].items(), key=lambda kv: kv[1]["p95_ms"], default=("-", {}))
            red = p["total_p95_ms"] >= 300
            t.add_row(
                f"{int(scale):,}",
                title + (" [red](errors)[/]" if p["errors"] else ""),
                _f(p["queries_per_run"], "{:,.0f}"),
                _f(p["total_p50_ms"], "{:,.1f}"),
                f"[red]{p['total_p95_ms']:,.1f}[/]" if red else _f(p["total_p95_ms"], "{:,.1f}"),
                name,
                _f(q.get("p50_ms"), "{:,.1f}"),
                f"[red]{q['p95_ms']:,.1f}[/]" if q and q["p95_ms"] >= 100 else _f(q.get("p95_ms"), "{:,.1f}"),
                _f(p["script_p50_ms"], "{:,.0f}"),
                _f(s.get("load_1m_mean"), "{:,.1f}"),
            )
    console.print(t)

    t = Table(title="CAB pack: `changeboard report cab --format F` (command wall; as the command reports)")
    for col in ("changes", "format", "command s", "reported s", "KiB"):
        t.add_column(col, justify="left" if col == "format" else "right")
    for scale, c in result["cab"].items():
        if c.get("status") != "ok":
            why = c.get("reason") or _first_line(c.get("error"))
            t.add_row(f"{int(scale):,}", f"{c.get('status')}: {why}"[:120])
            continue
        for fmt, r in c["formats"].items():
            t.add_row(
                f"{int(scale):,}",
                fmt,
                _f(r["seconds"]) if r["status"] == "ok" else f"[red]{r['status']}[/]",
                _f(r.get("reported_seconds"), "{:,.1f}"),
                _f(r.get("bytes", 0) / 1024, "{:,.0f}"),
            )
    console.print(t)

    t = Table(title="scaling: growth per 10x more data (10 = linear)")
    t.add_column("cost")
    t.add_column("seconds by changes", justify="right")
    t.add_column("growth / 10x", justify="right")
    for name, s in result["scaling"].items():
        g = s["growth_per_10x"]
        pts = ", ".join(f"{sc:,}: {v:,.2f}" for sc, v in s["points"])
        t.add_row(
            name,
            pts,
            "-" if g is None else (f"[red]{g:.1f}x[/]" if g > GOALS["growth_per_10x_max"] else f"{g:.1f}x"),
        )
    console.print(t)

    t = Table(title="goals")
    for col in ("goal", "at", "value", "met", "detail"):
        t.add_column(col)
    for c in result["checks"]:
        t.add_row(c["goal"], c["at"], _f(c["value"], "{:,.3f}"), _met(c["met"]), c["detail"])
    console.print(t)
    bench_spark.print_report(result, console)


def markdown_report(result: dict[str, Any]) -> str:
    """The figures as Markdown tables (for the README's Benchmark section)."""
    lines: list[str] = []
    m = result["machine"]

    def table(headers: list[str], rows: list[list[str]], right: set[int] | None = None) -> None:
        right = right if right is not None else set(range(1, len(headers)))
        lines.append("| " + " | ".join(headers) + " |")
        lines.append("|" + "|".join("---:" if i in right else "---" for i in range(len(headers))) + "|")
        lines.extend("| " + " | ".join(r) + " |" for r in rows)
        lines.append("")

    def n(v: Any, fmt: str = "{:,.2f}") -> str:
        return _f(v, fmt)

    def miss(text: str, bad: bool) -> str:
        return f"**{text}**" if bad else text

    p = result["params"]
    lines.append(
        f"Machine: {m['cores']} cores ({m['cpu']}), {m['memory_gb']} GB RAM; Python {m['python']}, DuckDB "
        f"{m['duckdb']}, dbt-core {m['dbt_core']} / dbt-duckdb {m['dbt_duckdb']}, Streamlit {m['streamlit']}, "
        f"polars {m['polars']}. Load average at start: {', '.join(str(x) for x in m.get('load_average_at_start', []))}."
    )
    code = result.get("code") or {}
    lines.append(
        f"Code: commit {code.get('commit')}"
        + (f" plus uncommitted changes to {', '.join(code['modified'])}" if code.get("modified") else "")
        + f". Data: seed {p['seed']}, as of {p['as_of']}; incidents and CIs keep the ratio of "
        f"{p['incidents']:,} / {p['cis']:,} to {p['changes']:,} changes at every scale. Run took "
        f"{result.get('seconds', 0) / 60:,.0f} min."
    )
    lines.append("")

    lines.append(
        "**Ingest** (`ingest_paths` on one file into a fresh data dir, vs DuckDB `read_csv` all-VARCHAR into a new file):"
    )
    lines.append("")
    rows = []
    for scale, ing in result["ingest"].items():
        for r in ing.get("files", []):
            c, f = r["connector"], r["floor"]
            ratio = r.get("floor_ratio")
            rows.append(
                [
                    f"{int(scale):,}",
                    r["file"],
                    n(r.get("rows"), "{:,}"),
                    n(c.get("seconds")) if c["status"] == "ok" else c["status"],
                    n(c.get("rows_per_s"), "{:,.0f}"),
                    n(c.get("peak_rss_mb"), "{:,.0f}"),
                    (n(f.get("read_csv_seconds")) if f["status"] == "ok" else f["status"])
                    + (f" (+{f['transcode_seconds']:.2f})" if f.get("transcode_seconds") else ""),
                    n(f.get("rows_per_s"), "{:,.0f}"),
                    miss(n(ratio, "{:.3f}"), ratio is not None and ratio < GOALS["ingest_floor_ratio_min"]),
                    n(c.get("load_1m_mean"), "{:,.1f}"),
                ]
            )
        a = ing.get("all_files") or {}
        if a:
            rows.append(
                [
                    f"{int(scale):,}",
                    "*all files, one run*",
                    n(a.get("rows"), "{:,}"),
                    n(a.get("seconds")) if a.get("status") == "ok" else str(a.get("status")),
                    n(a.get("rows_per_s"), "{:,.0f}"),
                    n(a.get("peak_rss_mb"), "{:,.0f}"),
                    "",
                    "",
                    "",
                    n(a.get("load_1m_mean"), "{:,.1f}"),
                ]
            )
    table(
        [
            "changes",
            "file",
            "rows",
            "connector s",
            "rows/s",
            "peak MiB",
            "read_csv s (+transcode)",
            "floor rows/s",
            "floor/connector",
            "load",
        ],
        rows,
        right={0, 2, 3, 4, 5, 6, 7, 8, 9},
    )
    for line in _table_api_json_lines(result):
        lines.extend([line, ""])
    top_ingest = max((k for k, v in result["ingest"].items() if "files" in v), key=int, default=None)
    if top_ingest:
        lines.append(f"Where the connector's time goes at {int(top_ingest):,} changes (seconds):")
        lines.append("")
        rows = []
        for r in result["ingest"][top_ingest]["files"]:
            ph = r["connector"].get("phases")
            if ph:
                rows.append(
                    [
                        r["file"],
                        *(n(ph.get(k)) for k in PHASES),
                        n(r["connector"]["seconds"]),
                    ]
                )
        table(list(PHASE_COLUMNS), rows)

    lines.append(
        "**Build** (`build_run.build`: dbt build with tests + publish, vs the compiled model SQL run directly):"
    )
    lines.append("")
    rows = []
    for scale, b in result["build"].items():
        if b.get("status") != "ok":
            errs = (b.get("dbt_nodes") or {}).get("errors") or []
            why = (
                f"`{errs[0]['node'].split('.')[-1]}` after {errs[0]['seconds']:,.0f} s: {errs[0]['message'][:110]}"
                if errs
                else str(b.get("error") or b.get("status"))[:110]
            )
            rows.append([f"{int(scale):,}", f"**{b.get('status')}**: {why}", *[""] * 8])
            continue
        nd = b["dbt_nodes"]
        ov = b.get("dbt_overhead")
        rows.append(
            [
                f"{int(scale):,}",
                n(b["seconds"]),
                n(b["dbt_seconds"]),
                n(b.get("dbt_fixed_seconds")),
                n(b.get("dbt_model_seconds")),
                n(b.get("direct_sql_seconds")),
                miss(n(ov, "{:.1%}"), ov is not None and ov >= GOALS["dbt_overhead_max"]),
                f"{nd['test_seconds']:,.2f} ({nd['tests']})",
                n(b.get("peak_rss_mb"), "{:,.0f}"),
                n(b.get("load_1m_mean"), "{:,.1f}"),
            ]
        )
    table(
        [
            "changes",
            "build s",
            "dbt s",
            "dbt start-up s",
            "dbt nodes, 1 thread s",
            "direct SQL s",
            "dbt overhead",
            "tests s (n)",
            "peak MiB",
            "load",
        ],
        rows,
    )

    served = [k for k, v in result["serving"].items() if v.get("status") == "ok"]
    if served:
        top = max(served, key=int)
        s = result["serving"][top]
        lines.append(
            f"**Serving** at {int(top):,} changes (every page with AppTest, cold query cache, "
            f"{result['params']['page_runs']} runs; ms; load {n(s.get('load_1m_mean'), '{:,.1f}')}):"
        )
        lines.append("")
        rows = []
        for title, pg in s["pages"].items():
            name, q = max(pg["queries"].items(), key=lambda kv: kv[1]["p95_ms"], default=("-", {}))
            rows.append(
                [
                    title + (" (errors)" if pg["errors"] else ""),
                    n(pg["queries_per_run"], "{:,.0f}"),
                    n(pg["total_p50_ms"], "{:,.1f}"),
                    miss(
                        n(pg["total_p95_ms"], "{:,.1f}"), pg["total_p95_ms"] >= GOALS["page_total_p95_ms_max"]
                    ),
                    f"`{name}`",
                    n(q.get("p50_ms"), "{:,.1f}"),
                    miss(n(q.get("p95_ms"), "{:,.1f}"), bool(q) and q["p95_ms"] >= GOALS["query_p95_ms_max"]),
                ]
            )
        table(
            ["page", "queries", "total p50", "total p95", "slowest query", "its p50", "its p95"],
            rows,
            right={1, 2, 3, 5, 6},
        )
    cab_rows = []
    for scale, c in result["cab"].items():
        if c.get("status") != "ok":
            cab_rows.append([f"{int(scale):,}", str(c.get("status")), "", ""])
            continue
        for fmt, r in c["formats"].items():
            cab_rows.append(
                [
                    f"{int(scale):,}",
                    fmt,
                    miss(n(r["seconds"]), r["status"] != "ok" or r["seconds"] >= GOALS["cab_seconds_max"])
                    if r["status"] == "ok"
                    else f"**{r['status']}**",
                    n(r.get("reported_seconds"), "{:,.1f}"),
                ]
            )
    lines.append(
        "**CAB pack** (`changeboard report cab --format F`: whole command; what the command reports):"
    )
    lines.append("")
    table(["changes", "format", "command s", "reported s"], cab_rows, right={0, 2, 3})

    rows = []
    for name, sc in result["scaling"].items():
        if len(sc["points"]) < 2:
            continue
        g = sc["growth_per_10x"]
        rows.append(
            [
                name,
                ", ".join(f"{pt[0]:,}: {pt[1]:,.2f}" for pt in sc["points"]),
                miss(n(g, "{:.1f}x"), g is not None and g > GOALS["growth_per_10x_max"]),
            ]
        )
    if rows:
        lines.append("**Scaling** (seconds by number of changes; growth per 10x more data, 10x = linear):")
        lines.append("")
        table(["cost", "seconds", "growth / 10x"], rows, right={2})

    misses = [c for c in result["checks"] if c["met"] is False]
    lines.append(f"**Goals missed** ({len(misses)} of {len(result['checks'])} checks):")
    lines.append("")
    for c in misses:
        value = "" if c["value"] is None else f" ({_f(c['value'], '{:,.3f}')})"
        detail = f": {c['detail']}" if c["detail"] else ""
        lines.append(f"- {c['goal']} at {c['at']}{value}{detail}")
    lines.append("")
    lines.extend(bench_spark.markdown_lines(result))
    return "\n".join(lines)


__all__ = ["GOALS", "machine", "markdown_report", "print_report", "run_bench"]
