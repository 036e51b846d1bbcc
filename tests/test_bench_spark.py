"""The Spark side of the bench without Spark: the version comparison and the report rows.

The Spark build itself (`changeboard bench --spark`) needs a JDK 17 and the spark extra and takes
minutes; it is never run in CI. These tests keep the parts around it honest."""

from __future__ import annotations

from pathlib import Path

import duckdb

from changeboard.devtools import bench_spark
from changeboard.warehouse import compare


def _version(path: Path, rows: str) -> Path:
    con = duckdb.connect(str(path))
    con.execute("create table main.t (id varchar, n bigint, rate double, seen_at timestamp)")
    con.execute(f"insert into main.t values {rows}")
    con.close()
    return path


def _attached(tmp_path: Path, duck_rows: str, spark_rows: str) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(f"attach '{_version(tmp_path / 'duck.duckdb', duck_rows)}' as duck (read_only)")
    con.execute(f"attach '{_version(tmp_path / 'spark.duckdb', spark_rows)}' as spark (read_only)")
    return con


def test_equal_tables_and_floats_within_the_tolerance_pass(tmp_path: Path) -> None:
    con = _attached(
        tmp_path,
        "('a', 1, 0.1, '2026-01-01 10:00:00'), ('b', 2, 1e6, null)",
        "('b', 2, 1e6 * (1 + 1e-12), null), ('a', 1, 0.1 + 1e-12, '2026-01-01 10:00:00')",
    )
    columns = compare.columns(con, "duck", "t")
    assert [name for name, _ in columns] == ["id", "n", "rate", "seen_at"]
    assert compare.first_difference(con, "t", columns) is None


def test_a_difference_names_its_row_and_column(tmp_path: Path) -> None:
    con = _attached(
        tmp_path,
        "('a', 1, 0.1, '2026-01-01 10:00:00'), ('b', 2, 1e6, null)",
        "('a', 1, 0.1, '2026-01-01 10:00:00'), ('b', 2, 1e6 * (1 + 1e-6), null)",
    )
    difference = compare.first_difference(con, "t", compare.columns(con, "duck", "t"))
    assert difference is not None
    assert difference.startswith("row 2 (in key order) differs first in column rate")


def test_a_missing_row_is_a_count_difference(tmp_path: Path) -> None:
    con = _attached(tmp_path, "('a', 1, null, null), ('b', 2, null, null)", "('a', 1, null, null)")
    assert (
        compare.first_difference(con, "t", compare.columns(con, "duck", "t"))
        == "2 rows on DuckDB, 1 on Spark"
    )


def test_the_report_puts_duckdbs_build_beside_sparks_phases() -> None:
    result = {
        "build": {"10000": {"seconds": 30.0, "dbt_seconds": 25.0}},
        "spark": {
            "10000": {
                "status": "ok",
                "server_start_seconds": 60.0,
                "export": {"seconds": 1.0},
                "register": {"seconds": 20.0},
                "seeds": {"seconds": 50.0},
                "models": {"seconds": 600.0},
                "tests": {"seconds": 400.0},
                "publish": {"seconds": 2.0},
                "per_query_fixed_seconds": 1.5,
                "equality": {"equal": False, "differences": {"fct_changes": "row 1 ..."}},
            }
        },
    }
    (row,) = bench_spark.comparison_rows(result)
    assert len(row) == len(bench_spark.HEADERS)
    assert row[0] == "10,000"
    assert row[1] == "30.0"
    assert row[7] == "600.0"
    assert row[-1] == "1 tables differ"
    assert "| 10,000 | 30.0 |" in "\n".join(bench_spark.markdown_lines(result))
    failed = {"spark": {"100000": {"status": "failed", "failed_phase": "models"}}}
    assert bench_spark.comparison_rows(failed)[0][-1] == "failed at models"
    assert bench_spark.section({"10000": {"build": {}}}) == {}
