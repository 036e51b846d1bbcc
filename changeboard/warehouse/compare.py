"""Two warehouse versions compared table by table: the Spark equality check (issue #21, DECISIONLOG
D34/D35) as ``./run spark-check`` and ``changeboard bench --spark`` both run it.

Two versions are equal when every table has the same columns (names and types, in order), the same
row count and the same rows: exact for keys, text, booleans, integers, dates and timestamps; floating
point within ``REL_TOL`` / ``ABS_TOL``. A difference names its table and its first differing row.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import duckdb

# Floating point: both engines compute in doubles but not in the same order (sums, averages,
# interpolated percentiles): a relative 1e-9 (and 1e-9 absolute near 0) is rounding, not a difference.
REL_TOL = 1e-9
ABS_TOL = 1e-9
_FLOAT_TYPES = {"DOUBLE", "FLOAT", "REAL"}


def columns(con: duckdb.DuckDBPyConnection, catalog: str, table: str) -> list[tuple[str, str]]:
    """(name, type) of ``<catalog>.main.<table>``'s columns, in order; empty when there is no such table."""
    return [
        (str(name), str(kind))
        for name, kind in con.execute(
            "select column_name, data_type from information_schema.columns"
            " where table_catalog = ? and table_schema = 'main' and table_name = ? order by ordinal_position",
            [catalog, table],
        ).fetchall()
    ]


def first_difference(
    con: duckdb.DuckDBPyConnection, table: str, table_columns: list[tuple[str, str]]
) -> str | None:
    """None when ``duck.main.<table>`` and ``spark.main.<table>`` hold the same rows, else the first
    differing row (in key order: every exact column, then the floats rounded)."""
    floats = [name for name, kind in table_columns if kind in _FLOAT_TYPES]
    exact = [name for name, kind in table_columns if kind not in _FLOAT_TYPES]
    order = ", ".join([*(f'"{c}"' for c in exact), *(f'round("{c}", 6)' for c in floats)]) or "1"
    rows = {
        side: con.execute(f'select * from {side}.main."{table}" order by {order}').fetchall()
        for side in ("duck", "spark")
    }
    names = [name for name, _ in table_columns]
    if len(rows["duck"]) != len(rows["spark"]):
        return f"{len(rows['duck'])} rows on DuckDB, {len(rows['spark'])} on Spark"
    for number, (duck_row, spark_row) in enumerate(zip(rows["duck"], rows["spark"], strict=True)):
        for name, duck_value, spark_value in zip(names, duck_row, spark_row, strict=True):
            if name in floats and duck_value is not None and spark_value is not None:
                same = math.isclose(duck_value, spark_value, rel_tol=REL_TOL, abs_tol=ABS_TOL) or (
                    math.isnan(duck_value) and math.isnan(spark_value)
                )
            else:
                same = duck_value == spark_value and type(duck_value) is type(spark_value)
            if not same:
                return (
                    f"row {number + 1} (in key order) differs first in column {name}: DuckDB {duck_value!r},"
                    f" Spark {spark_value!r}\n  DuckDB row: {dict(zip(names, duck_row, strict=True))}"
                    f"\n  Spark row:  {dict(zip(names, spark_row, strict=True))}"
                )
    return None


def compare_versions(duck_path: Path, spark_path: Path, tables: Sequence[str]) -> tuple[dict[str, str], int]:
    """``tables`` of two warehouse versions, table by table: the differing tables (each with its first
    difference) and the number of rows compared."""
    con = duckdb.connect()  # a private instance: a reader of the same files elsewhere in the process
    differences: dict[str, str] = {}
    compared = 0
    try:
        con.execute(f"attach '{duck_path}' as duck (read_only)")
        con.execute(f"attach '{spark_path}' as spark (read_only)")
        for table in tables:
            duck_columns = columns(con, "duck", table)
            spark_columns = columns(con, "spark", table)
            if not duck_columns:
                differences[table] = "not in the DuckDB build"
                continue
            if duck_columns != spark_columns:
                differences[table] = f"columns differ:\n  DuckDB {duck_columns}\n  Spark  {spark_columns}"
                continue
            if (difference := first_difference(con, table, duck_columns)) is not None:
                differences[table] = difference
            row = con.execute(f'select count(*) from duck.main."{table}"').fetchone()
            compared += int(row[0]) if row else 0
    finally:
        con.close()
    return differences, compared
