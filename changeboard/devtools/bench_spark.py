"""``changeboard bench --spark``: the dbt build on Apache Spark beside DuckDB's, on the same data.

Opt-in (never in CI: Spark takes a JDK 17, the spark extra, ~2-3 GB of memory and every core). One
Spark Thrift server is started for the whole run (pyspark's wheel carries the server's classes:
``spark-submit --class org.apache.spark.sql.hive.thriftserver.HiveThriftServer2``, a local master,
a Derby metastore and a warehouse folder under the bench's work dir), so Spark's start-up is paid
once, as on a cluster. Then, for each scale, after the DuckDB build of :mod:`changeboard.devtools.bench`:

1. **export** -- the ingest database's raw tables as Parquet (``parquet.export_raw``);
2. **register** -- ``dbt run-operation register_parquet_sources`` (target ``spark_thrift``);
3. **seeds**, **models**, **tests** -- ``dbt seed``, ``dbt run``, ``dbt test`` (data tests), each a
   dbt command of its own against the running server, so each phase has its own wall time; the
   as-of date is the DuckDB build's;
4. **publish** -- the public models copied from the server's warehouse folder into a warehouse
   version (``parquet.publish_from_parquet``);
5. **equality** -- every public model of that version against the DuckDB build's, table by table
   (:func:`changeboard.warehouse.compare.compare_versions`: the same columns, row count and rows;
   floating point within ``REL_TOL``/``ABS_TOL``), naming the first differing row of each differing table.

The fixed cost of one query on Spark is read from the data tests (each is one small query over a
built table): their median time. Every dbt command runs in a child process killed with its process
group past its timeout; a failed phase is recorded and the next scale still runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
from rich.console import Console
from rich.table import Table

Log = Callable[[str], None]

TARGET = "spark_thrift"
DBT_THREADS = 4
SERVER_START_TIMEOUT = 600.0
DBT_TIMEOUT = 3 * 3600.0
# Shuffle partitions of the local server: Spark's default (200) makes 200 tasks of every join on
# 2 cores; adaptive execution coalesces them, but 2 per core starts nearer what the data needs.
SHUFFLE_PARTITIONS = max(2, 2 * (os.cpu_count() or 1))
DRIVER_MEMORY = os.environ.get("CHANGEBOARD_SPARK_DRIVER_MEMORY", "2g")


class SparkUnavailable(RuntimeError):
    """No JDK or no spark extra: the Spark measurement cannot run here."""


def _spark_home() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("pyspark")
    if spec is None or spec.origin is None or importlib.util.find_spec("dbt.adapters.spark") is None:
        raise SparkUnavailable(
            "the spark extra is not installed (pyspark, dbt-spark[PyHive]):"
            " .venv/bin/python -m uv pip install -r requirements-spark.lock"
        )
    return Path(spec.origin).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


class ThriftServer:
    """A local Spark Thrift server (HiveServer2 protocol) in its own process group."""

    def __init__(self, work: Path, port: int | None = None) -> None:
        self.work = work
        self.port = port or _free_port()
        self.warehouse = work / "warehouse"
        self.log_file = work / "thriftserver.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.start_seconds = 0.0

    def command(self) -> list[str]:
        home = _spark_home()
        confs = {
            "spark.sql.warehouse.dir": str(self.warehouse),
            "spark.sql.session.timeZone": "UTC",
            "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
            "spark.sql.shuffle.partitions": str(SHUFFLE_PARTITIONS),
            "spark.ui.enabled": "false",
            "spark.hadoop.hive.server2.thrift.port": str(self.port),
            "spark.hadoop.hive.server2.thrift.bind.host": "127.0.0.1",
        }
        return [
            str(home / "bin" / "spark-submit"),
            "--master",
            f"local[{os.cpu_count() or 1}]",
            "--class",
            "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2",
            "--name",
            "changeboard-bench",
            "--driver-memory",
            DRIVER_MEMORY,
            "--driver-java-options",
            f"-Dderby.system.home={self.work / 'derby'}",
            *(arg for key, value in confs.items() for arg in ("--conf", f"{key}={value}")),
            "spark-internal",
        ]

    def start(self, timeout: float = SERVER_START_TIMEOUT) -> float:
        """Start the server; return the seconds until it accepted connections."""
        if shutil.which("java") is None:
            raise SparkUnavailable("no java on PATH (a JDK 17: apt-get install openjdk-17-jre-headless)")
        self.work.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "SPARK_HOME": str(_spark_home())}
        started = time.perf_counter()
        with self.log_file.open("wb") as out:
            self.proc = subprocess.Popen(
                self.command(),
                cwd=self.work,  # Derby's metastore_db and Spark's scratch files land here
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        while not _listening(self.port):
            if self.proc.poll() is not None:
                raise RuntimeError(f"the Thrift server exited ({self.proc.returncode}):\n{self._tail()}")
            if time.perf_counter() - started > timeout:
                self.stop()
                raise RuntimeError(
                    f"the Thrift server did not listen within {timeout:.0f} s:\n{self._tail()}"
                )
            time.sleep(1)
        self.start_seconds = time.perf_counter() - started
        return self.start_seconds

    def _tail(self) -> str:
        return self.log_file.read_text(encoding="utf-8", errors="replace")[-2000:]

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def env(self, dbt_work: Path) -> dict[str, str]:
        """The environment of a dbt command against this server (profiles.yml's spark_thrift)."""
        return {
            **os.environ,
            "CHANGEBOARD_SPARK_HOST": "127.0.0.1",
            "CHANGEBOARD_SPARK_PORT": str(self.port),
            "DBT_TARGET_PATH": str(dbt_work / "target"),
            "DBT_LOG_PATH": str(dbt_work / "logs"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }


@contextlib.contextmanager
def thrift_server(work: Path, log: Log) -> Iterator[ThriftServer]:
    """A started server for the ``with`` block; stopped after it, whatever happened."""
    server = ThriftServer(work)
    log(f"starting a Spark Thrift server on 127.0.0.1:{server.port} (once for every scale)")
    try:
        seconds = server.start()
        log(f"Spark Thrift server up in {seconds:.0f} s")
        yield server
    finally:
        server.stop()


# ------------------------------------------------------------------------------------------------
# one scale
# ------------------------------------------------------------------------------------------------


def _dbt(
    server: ThriftServer, args: list[str], dbt_work: Path, timeout: float = DBT_TIMEOUT
) -> dict[str, Any]:
    """One dbt command against the server in a child process: wall seconds, load, dbt's own summary."""
    from changeboard.pipeline import build_run

    target = dbt_work / "target"
    (target / "run_results.json").unlink(missing_ok=True)
    log_path = dbt_work / f"{args[0]}.log"
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            build_run.dbt_command([*args, *build_run.dbt_project_args(), "--target", TARGET]),
            env=server.env(dbt_work),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            code = None
    result: dict[str, Any] = {
        "seconds": round(time.perf_counter() - started, 2),
        "load_1m": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        "status": "ok" if code == 0 else ("timed out" if code is None else "failed"),
    }
    if (target / "run_results.json").exists():
        result.update(_run_results(target / "run_results.json"))
    if result["status"] != "ok":
        result["error"] = log_path.read_text(encoding="utf-8", errors="replace")[-1500:]
    return result


def _run_results(path: Path) -> dict[str, Any]:
    """dbt's own figures of one command: nodes by status, its elapsed time, the node times."""
    rr = json.loads(path.read_text(encoding="utf-8"))
    times = {r["unique_id"]: float(r.get("execution_time") or 0.0) for r in rr["results"]}
    statuses: dict[str, int] = {}
    failures = []
    for r in rr["results"]:
        statuses[str(r["status"])] = statuses.get(str(r["status"]), 0) + 1
        if str(r["status"]) not in ("success", "pass"):
            failures.append(f"{r['unique_id']}: {r['status']}: {(r.get('message') or '')[:200]}")
    return {
        "dbt_elapsed_seconds": round(float(rr.get("elapsed_time") or 0.0), 2),
        "nodes": len(times),
        "statuses": statuses,
        "failures": failures[:20],
        "node_seconds": times,
    }


def measure_scale(
    server: ThriftServer, scale_root: Path, as_of: str, log: Log, *, compare: bool = True
) -> dict[str, Any]:
    """The Spark build of one scale's data dir (``scale_root/data``, built and published by DuckDB
    just before): export, register, seeds, models, tests, publish, equality. Never raises for a
    failed phase: it is recorded with its error and the phases after it are not run."""
    from changeboard.paths import DataDir
    from changeboard.pipeline import parquet
    from changeboard.warehouse.compare import compare_versions
    from changeboard.warehouse.versions import read_pointer

    data = DataDir(scale_root / "data")
    work = scale_root / "spark"
    dbt_work = work / "dbt"
    dbt_work.mkdir(parents=True, exist_ok=True)
    res: dict[str, Any] = {
        "status": "ok",
        "server_start_seconds": round(server.start_seconds, 1),
        "shuffle_partitions": SHUFFLE_PARTITIONS,
        "driver_memory": DRIVER_MEMORY,
        "threads": DBT_THREADS,
    }

    def failed(phase: str, error: str) -> dict[str, Any]:
        log(f"[red]Spark {phase} failed[/]")
        res["status"] = "failed"
        res["failed_phase"] = phase
        res["error"] = error[-3000:]
        return res

    log("Spark: raw tables out as Parquet")
    started = time.perf_counter()
    raw = work / "raw-parquet"
    try:
        exported = parquet.export_raw(data, raw)
    except (parquet.ParquetError, duckdb.Error, OSError) as exc:  # recorded; the bench goes on
        return failed("export", f"{type(exc).__name__}: {exc}")
    res["export"] = {
        "seconds": round(time.perf_counter() - started, 2),
        "tables": len(exported),
        "rows": sum(t.rows for t in exported),
        "mb": round(sum(p.stat().st_size for p in raw.rglob("*.parquet")) / 2**20, 1),
    }
    vars_arg = ["--vars", json.dumps({"as_of": as_of})]
    phases: list[tuple[str, list[str]]] = [
        ("register", ["run-operation", "register_parquet_sources", "--args", json.dumps({"root": str(raw)})]),
        ("seeds", ["seed", "--threads", str(DBT_THREADS)]),
        ("models", ["run", "--threads", str(DBT_THREADS), *vars_arg]),
        ("tests", ["test", "--threads", str(DBT_THREADS), "--select", "test_type:data", *vars_arg]),
    ]
    for phase, args in phases:
        log(f"Spark: {phase} (dbt {args[0]})")
        step = _dbt(server, args, dbt_work)
        node_seconds: dict[str, float] = step.pop("node_seconds", {})
        if phase == "models":
            step["slowest"] = [
                {"model": uid.split(".")[-1], "seconds": round(t, 2)}
                for uid, t in sorted(node_seconds.items(), key=lambda kv: -kv[1])[:12]
            ]
            step["model_seconds"] = {uid.split(".")[-1]: round(t, 2) for uid, t in node_seconds.items()}
        if phase in ("tests", "seeds") and node_seconds:
            times = sorted(node_seconds.values())
            step["median_node_seconds"] = round(statistics.median(times), 2)
            step["min_node_seconds"] = round(times[0], 2)
        res[phase] = step
        if step["status"] != "ok":
            return failed(phase, step.get("error") or "; ".join(step.get("failures", [])))
    res["dbt_seconds"] = round(sum(res[p]["seconds"] for p, _ in phases), 1)
    res["per_query_fixed_seconds"] = res["tests"].get("median_node_seconds")

    log("Spark: publish the public models as a version")
    started = time.perf_counter()
    published = DataDir(work / "published").ensure()
    try:
        parquet.publish_from_parquet(
            published, server.warehouse / "main.db", run_id=f"bench-spark-{scale_root.name}"
        )
    except (parquet.ParquetError, duckdb.Error, OSError) as exc:  # recorded; the bench goes on
        return failed("publish", f"{type(exc).__name__}: {exc}")
    res["publish"] = {"seconds": round(time.perf_counter() - started, 2)}
    if compare:
        log("Spark: every public model against the DuckDB build")
        started = time.perf_counter()
        differences, rows = compare_versions(
            read_pointer(data).path, read_pointer(published).path, parquet.public_models()
        )
        res["equality"] = {
            "seconds": round(time.perf_counter() - started, 2),
            "tables": len(parquet.public_models()),
            "rows_compared": rows,
            "equal": not differences,
            "differences": differences,
        }
    return res


# ------------------------------------------------------------------------------------------------
# the report
# ------------------------------------------------------------------------------------------------


def section(per_scale: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The report's ``spark`` section ({} when Spark was not measured)."""
    found = {scale: res["spark"] for scale, res in per_scale.items() if "spark" in res}
    return {"spark": found} if found else {}


def _n(value: Any, fmt: str = "{:,.1f}") -> str:
    return "-" if value is None else fmt.format(value)


def comparison_rows(result: dict[str, Any]) -> list[list[str]]:
    """One row per scale: DuckDB's build beside Spark's phases."""
    rows = []
    for scale, sp in (result.get("spark") or {}).items():
        duck = (result.get("build") or {}).get(scale) or {}
        eq = sp.get("equality") or {}
        if sp.get("status") != "ok":
            verdict = f"{sp.get('status')} at {sp.get('failed_phase')}"
        elif eq:
            verdict = "equal" if eq["equal"] else f"{len(eq['differences'])} tables differ"
        else:
            verdict = "not compared"
        rows.append(
            [
                f"{int(scale):,}",
                _n(duck.get("seconds")),
                _n(duck.get("dbt_seconds")),
                _n(sp.get("server_start_seconds"), "{:,.0f}"),
                _n((sp.get("export") or {}).get("seconds")),
                _n((sp.get("register") or {}).get("seconds")),
                _n((sp.get("seeds") or {}).get("seconds")),
                _n((sp.get("models") or {}).get("seconds")),
                _n((sp.get("tests") or {}).get("seconds")),
                _n((sp.get("publish") or {}).get("seconds")),
                _n(sp.get("per_query_fixed_seconds"), "{:,.2f}"),
                verdict,
            ]
        )
    return rows


HEADERS = [
    "changes",
    "DuckDB build s",
    "of it dbt s",
    "Spark start s (once)",
    "export s",
    "register s",
    "seeds s",
    "models s",
    "tests s",
    "publish s",
    "s per test query (median)",
    "equality",
]


def print_report(result: dict[str, Any], console: Console) -> None:
    if not result.get("spark"):
        return
    t = Table(title="Spark (Thrift server, local) beside DuckDB, same data; dbt commands' wall seconds")
    for i, col in enumerate(HEADERS):
        t.add_column(col, justify="left" if i == len(HEADERS) - 1 else "right")
    for row in comparison_rows(result):
        t.add_row(*row)
    console.print(t)
    for scale, sp in result["spark"].items():
        for table, difference in ((sp.get("equality") or {}).get("differences") or {}).items():
            console.print(f"[red]{int(scale):,}: {table} differs:[/] {difference[:400]}")
        if sp.get("status") != "ok":
            console.print(
                f"[red]{int(scale):,}: Spark {sp.get('failed_phase')} failed:[/] {sp.get('error', '')[-600:]}"
            )


def markdown_lines(result: dict[str, Any]) -> list[str]:
    if not result.get("spark"):
        return []
    lines = ["**Spark** (a local Thrift server started once; each phase one dbt command against it):", ""]
    lines.append("| " + " | ".join(HEADERS) + " |")
    lines.append(
        "|" + "|".join("---" if i == len(HEADERS) - 1 else "---:" for i in range(len(HEADERS))) + "|"
    )
    lines.extend("| " + " | ".join(row) + " |" for row in comparison_rows(result))
    lines.append("")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Measure the Spark build of data dirs the bench already built:
    ``python -m changeboard.devtools.bench_spark AS_OF SCALE_ROOT...`` (each holding ``data/``)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 2:
        print(main.__doc__, file=sys.stderr)
        return 2
    as_of, roots = args[0], [Path(a).resolve() for a in args[1:]]
    console = Console()
    results: dict[str, Any] = {}
    with thrift_server(roots[0].parent / "spark-server", console.log) as server:
        for root in roots:
            results[root.name] = measure_scale(server, root, as_of, console.log)
            (root / "spark" / "result.json").write_text(
                json.dumps(results[root.name], indent=2), encoding="utf-8"
            )
    console.print_json(
        json.dumps({k: {x: y for x, y in v.items() if x != "models"} for k, v in results.items()})
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
