"""The dbt project on Apache Spark gives DuckDB's results (issue #21; DECISIONLOG D34, D35).

One small sample is generated and ingested once; DuckDB builds it (the pipeline's build), and its raw
tables go out as Parquet (``changeboard parquet export``). One local SparkSession, started once
for the whole check, then runs dbt in this process (target ``spark``, ``method: session``: dbt-spark
takes the session that is already running): ``register_parquet_sources`` declares the raw tables
over the Parquet folders, ``dbt build`` builds every seed and model and runs every data test on
Spark. The public models come back through ``changeboard parquet publish`` as a warehouse version,
and every public model must equal the DuckDB build's, table by table: the same columns, the same
row count, every row equal (exact for keys, text, booleans, integers, dates and timestamps; floating
point within ``compare.REL_TOL`` / ``ABS_TOL``: :mod:`changeboard.warehouse.compare`). A difference
names the table and its first differing row.

Runs with ``./run spark-check`` (and at the end of ``./run test``), which installs the spark extra
and a JDK 17 and sets CHANGEBOARD_SPARK_REQUIRED=1: without it a missing JDK or pyspark skips with
the reason; with it, it fails.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from changeboard import resources
from changeboard.paths import DataDir
from changeboard.pipeline import build_run, ingest_run, parquet
from changeboard.warehouse import compare
from changeboard.warehouse.versions import read_pointer

pytestmark = [
    pytest.mark.slow,
    pytest.mark.spark,
    # pyspark warns about pandas 3 on import; dbt-spark's session emits Spark's own warnings
    pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning"),
]

AS_OF = datetime(2026, 11, 26, tzinfo=UTC)
AS_OF_TEXT = "2026-11-26 00:00:00"
# The generator's smallest sample (100 changes, 150 CIs, 300 incidents): Spark's cost here is per
# query (~1-3 s each for ~480 models and tests), not per row.
SAMPLE_CHANGES = 100
DBT_THREADS = 4


def _require_spark() -> None:
    missing = []
    if shutil.which("java") is None:
        missing.append("java (a JDK 17: apt-get install openjdk-17-jre-headless)")
    if importlib.util.find_spec("pyspark") is None or importlib.util.find_spec("dbt.adapters.spark") is None:
        missing.append("pyspark and dbt-spark (the spark extra: requirements-spark.lock)")
    if missing:
        message = "the Spark check needs " + " and ".join(missing) + "; `./run spark-check` installs them"
        if os.environ.get("CHANGEBOARD_SPARK_REQUIRED"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def duckdb_built(tmp_path_factory: pytest.TempPathFactory) -> DataDir:
    """The small sample, ingested and built on DuckDB by the pipeline (as_of pinned)."""
    _require_spark()
    from changeboard.devtools.generate import generate

    data = DataDir(tmp_path_factory.mktemp("duckdb-data")).ensure()
    generate(data.samples, seed=7, changes=SAMPLE_CHANGES, as_of=AS_OF)
    run_id = ingest_run.new_run_id()
    report = ingest_run.ingest_paths(data, [data.samples], run_id=run_id)
    assert not report.failed, [(r.path, r.error) for r in report.failed]
    build_run.build(data, run_id=run_id, as_of=AS_OF_TEXT)
    return data


@pytest.fixture(scope="module")
def spark_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """One local SparkSession (Hive metastore in Derby, warehouse in a temporary folder) for the
    whole check; dbt-spark's `session` method picks it up instead of starting its own."""
    _require_spark()
    from pyspark.sql import SparkSession

    root = tmp_path_factory.mktemp("spark")
    started = time.perf_counter()
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("changeboard-spark-check")
        .config("spark.sql.warehouse.dir", str(root / "warehouse"))
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={root / 'derby'}")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        # a tiny sample: two partitions per shuffle (the default 200 would be 200 tasks per join)
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "2g")
        .enableHiveSupport()
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    print(f"Spark session started in {time.perf_counter() - started:.0f} s")
    try:
        yield spark
    finally:
        spark.stop()


@contextlib.contextmanager
def _dbt_environment(work: Path, extra: dict[str, str] | None = None) -> Iterator[None]:
    """dbt's target and log folders under ``work`` (and ``extra``) in this process's environment."""
    settings = {
        "DBT_TARGET_PATH": str(work / "target"),
        "DBT_LOG_PATH": str(work / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        **(extra or {}),
    }
    old = {key: os.environ.get(key) for key in settings}
    os.environ.update(settings)
    try:
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _dbt(args: list[str], work: Path) -> None:
    """dbt in this process (so on the running SparkSession), against the project's spark target."""
    from dbt.cli.main import dbtRunner

    with _dbt_environment(work):
        result = dbtRunner().invoke([*args, *build_run.dbt_project_args(), "--target", "spark"])
    if not result.success:
        failures = []
        if result.result is not None and hasattr(result.result, "results"):
            failures = [
                f"{r.node.unique_id}: {r.status}: {(r.message or '')[:400]}"
                for r in result.result.results
                if str(r.status) not in ("success", "pass")
            ]
        pytest.fail(f"dbt {args[0]} on Spark failed: {result.exception}\n" + "\n".join(failures[:30]))


@pytest.fixture(scope="module")
def spark_work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """dbt's target and log folders of the Spark build, and the exported raw Parquet."""
    return tmp_path_factory.mktemp("spark-dbt")


@pytest.fixture(scope="module")
def spark_published(
    duckdb_built: DataDir, spark_session: object, spark_work: Path, tmp_path_factory: pytest.TempPathFactory
) -> DataDir:
    """The same raw tables, exported as Parquet, built on Spark and published as a version."""
    work = spark_work
    exported = parquet.export_raw(duckdb_built, work / "raw-parquet")
    assert any(t.name == "change" and t.rows > 0 for t in exported), exported
    started = time.perf_counter()
    _dbt(
        [
            "run-operation",
            "register_parquet_sources",
            "--args",
            json.dumps({"root": str(work / "raw-parquet")}),
        ],
        work,
    )
    _dbt(
        [
            "build",
            "--threads",
            str(DBT_THREADS),
            "--vars",
            json.dumps({"as_of": AS_OF_TEXT}),
            "--exclude-resource-type",
            "unit_test",
        ],
        work,
    )
    print(f"dbt build on Spark: {time.perf_counter() - started:.0f} s")
    warehouse = Path(spark_session.conf.get("spark.sql.warehouse.dir").removeprefix("file:"))  # type: ignore[attr-defined]
    published = DataDir(tmp_path_factory.mktemp("spark-data")).ensure()
    parquet.publish_from_parquet(published, warehouse / "main.db", run_id="spark-check")
    return published


def test_every_model_seed_and_data_test_ran_on_spark(spark_published: DataDir, spark_work: Path) -> None:
    work = spark_work
    results = json.loads((work / "target" / "run_results.json").read_text(encoding="utf-8"))["results"]
    manifest = json.loads((work / "target" / "manifest.json").read_text(encoding="utf-8"))
    declared = {
        uid
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] in ("model", "seed", "snapshot", "test")
        and node["config"].get("enabled", True)
    }
    # exposures (the app's pages) are only declared: dbt reports them as no-op
    ran = {r["unique_id"]: r["status"] for r in results if not r["unique_id"].startswith("exposure.")}
    assert declared - set(ran) == set(), "not run on Spark"
    assert {uid: status for uid, status in ran.items() if status not in ("success", "pass")} == {}
    assert sum(uid.startswith("test.") for uid in ran) > 300
    assert sum(uid.startswith("model.") for uid in ran) >= 50


def test_every_public_model_equals_the_duckdb_build(duckdb_built: DataDir, spark_published: DataDir) -> None:
    models = parquet.public_models()
    assert len(models) >= 20, models
    differences, compared_rows = compare.compare_versions(
        read_pointer(duckdb_built).path, read_pointer(spark_published).path, models
    )
    assert not differences, "\n".join(f"{table}: {text}" for table, text in differences.items())
    assert compared_rows > 1000  # the sample really has rows in the public models


def test_the_spark_version_serves_the_cli(spark_published: DataDir) -> None:
    """`changeboard sql` reads the version published from Spark's output like any other."""
    from typer.testing import CliRunner

    from changeboard.cli import app

    result = CliRunner().invoke(
        app, ["sql", "select count(*) as changes from fct_changes", "--data-dir", str(spark_published.root)]
    )
    assert result.exit_code == 0, result.output
    assert "changes" in result.output
    pointer = json.loads(spark_published.current_pointer.read_text(encoding="utf-8"))
    assert pointer["engine"] == "spark"
    assert resources.dbt_project_dir().exists()


def test_the_comparison_names_the_first_differing_row() -> None:
    """The comparison itself (no Spark needed): equal tables pass, floats within the tolerance are
    equal, and a difference names the row and column."""
    con = duckdb.connect()
    for side in ("duck", "spark"):
        con.execute(f"attach ':memory:' as {side}")
        con.execute(f"create table {side}.main.t (id varchar, n bigint, rate double, seen_at timestamp)")
    con.execute(
        "insert into duck.main.t values ('a', 1, 0.1, '2026-01-01 10:00:00'), ('b', 2, 1e6, null), ('c', 3, null, null)"
    )
    con.execute(
        "insert into spark.main.t values ('c', 3, null, null), ('a', 1, 0.1 + 1e-12, '2026-01-01 10:00:00'),"
        " ('b', 2, 1e6 * (1 + 1e-12), null)"
    )
    columns = compare.columns(con, "duck", "t")
    assert compare.first_difference(con, "t", columns) is None
    con.execute("update spark.main.t set seen_at = '2026-01-01 10:00:01' where id = 'a'")
    difference = compare.first_difference(con, "t", columns)
    assert difference is not None
    assert "row 1" in difference
    assert "column seen_at" in difference
    assert "'a'" in difference
    con.execute("update spark.main.t set seen_at = '2026-01-01 10:00:00' where id = 'a'")
    con.execute("update spark.main.t set rate = 1e6 * (1 + 1e-6) where id = 'b'")
    difference = compare.first_difference(con, "t", columns)
    assert difference is not None
    assert "column rate" in difference
    con.execute("delete from spark.main.t where id = 'c'")
    assert compare.first_difference(con, "t", columns) == "3 rows on DuckDB, 2 on Spark"


def test_the_cab_pack_from_the_spark_version_equals_duckdbs(
    duckdb_built: DataDir, spark_published: DataDir, tmp_path: Path
) -> None:
    """The CAB pack reads the Spark version unchanged: the same Markdown pack as from DuckDB's, but
    for the version id and the time it was generated."""
    import re

    from typer.testing import CliRunner

    from changeboard.cli import app

    packs = {}
    for side, data in (("duckdb", duckdb_built), ("spark", spark_published)):
        out = tmp_path / f"cab-{side}.md"
        result = CliRunner().invoke(
            app,
            [
                "report",
                "cab",
                "--format",
                "md",
                "--at",
                "2026-11-27",
                "--out",
                str(out),
                "--data-dir",
                str(data.root),
            ],
        )
        assert result.exit_code == 0, result.output
        text = out.read_text(encoding="utf-8")
        packs[side] = re.sub(r"warehouse \S+ · generated [^\n]*", "warehouse V · generated T", text)
    assert packs["duckdb"].count("\n") > 50
    assert packs["spark"] == packs["duckdb"]


# Exact halves in their decimal value, stored a hair below or above it as doubles: the confidence
# 0.9 x (1 - 0.5 x 3/72) = 0.88125, a same-service candidate 31.08 h after its change
# (0.3 x (1 - 0.5 x 31.08/72) = 0.23525, found different at 10k changes: README "Spark or DuckDB")
# and 19.45 h (70,020 s) printed with one decimal.
# Computed in doubles as the models compute them (a decimal literal alone would round exactly anyway).
_HALVES = (
    "select {{ round_half_up('0.9 * (1 - 0.5 * cast(3 as double) / 72.0)', 4) }} as confidence,"
    " {{ round_half_up('0.3 * (1 - 0.5 * (cast(111888 as double) / 3600.0) / 72.0)', 4) }} as service_confidence,"
    " {{ round_half_up('cast(12.5 as double)') }} as points,"
    " {{ number_to_text('cast(70020 as double) / 3600.0', 1) }} as hours_text"
)
_HALVES_ROUNDED = (0.8813, 0.2353, 13.0, "19.5")


def test_an_exact_half_rounds_up_on_both_engines(
    spark_session: object, spark_work: Path, duckdb_built: DataDir
) -> None:
    """The models round through one macro (round_half_up): an exact decimal half gives the same
    digit on Spark as on DuckDB (round() of a double did not: 0.8812 / 0.8813, "19.4" / "19.5")."""
    from dbt.cli.main import dbtRunner

    compiled = {}
    duckdb_env = {
        "CHANGEBOARD_BUILD_PATH": str(spark_work / "halves.duckdb"),
        "CHANGEBOARD_INGEST_DB": str(duckdb_built.ingest_db),
    }
    for target in ("spark", "build"):
        with _dbt_environment(spark_work, duckdb_env):
            result = dbtRunner().invoke(
                ["compile", "--inline", _HALVES, "--quiet", *build_run.dbt_project_args(), "--target", target]
            )
        assert result.success, result.exception
        compiled[target] = result.result.results[0].node.compiled_code  # type: ignore[union-attr]
    spark_row = tuple(spark_session.sql(compiled["spark"]).collect()[0])  # type: ignore[attr-defined]
    duckdb_row = duckdb.connect().execute(compiled["build"]).fetchone()
    assert spark_row == _HALVES_ROUNDED, compiled["spark"]
    assert duckdb_row == _HALVES_ROUNDED, compiled["build"]
