"""The SQL stays portable (issue #4): DuckDB-only constructs live in dispatched macros only, and the
portable fallbacks of those macros give DuckDB's results.

Every dispatched macro of the project (dbt/macros) has a ``duckdb__`` implementation, today's SQL,
and a ``default__`` one, the portable fallback Spark or Trino will run. The dbt var
``portable_fallbacks`` (true, or a list of macro names) makes a DuckDB build use the fallbacks
(macro ``portable_fallback``), so here:

- the sample is built once more with every fallback DuckDB can execute, and every table model
  (the public marts and reports, and the intermediate models) must equal the normal build's, row
  for row; the build also runs the unit and data tests against the fallbacks;
- the models are compiled with every fallback, and their SQL must hold none of the DuckDB-only
  constructs below (dbt's own cross-database macros compile to markers, see ``_DBT_MARKERS``:
  their adapter implementations are dbt-spark's and dbt-trino's business).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest
import yaml
from changeboard.ingest import load

from changeboard import resources
from changeboard.paths import DataDir
from changeboard.pipeline import build_run
from changeboard.warehouse.versions import read_pointer

pytestmark = pytest.mark.slow

MACROS = resources.dbt_project_dir() / "macros"

# Fallbacks DuckDB cannot execute: left out of the fallback build, each with the reason.
NOT_RUNNABLE_ON_DUCKDB = {
    "list_to_text": "default__ is array_join (Spark, Trino); DuckDB has no array_join (array_to_string)",
    "regex_matches": "default__ is regexp_like (Trino, Spark 3.2+); DuckDB has no regexp_like (regexp_matches)",
}

# Models that exist only on DuckDB, enabled by `target.type == 'duckdb'`: the incremental build's
# fingerprints of the attribution's inputs (DECISIONLOG D41); every other engine builds the
# attribution whole and never compiles them, so they may use DuckDB's own functions.
DUCKDB_ONLY_MODELS = {"int_attribution_change_fingerprints", "int_attribution_incident_fingerprints"}

# DuckDB-only constructs: (name, pattern), searched in compiled SQL without comments and string
# literals (so "'Depends on::Used by'" is no cast).
CONSTRUCTS = [
    ("'::' cast", r"::"),
    ("qualify", r"\bqualify\b"),
    ("select * replace / exclude", r"\*\s*(replace|exclude)\s*\("),
    ("list function", r"\blist_\w+\s*\(|\blist\s*\(|\barray_to_string\s*\("),
    ("lambda or arrow", r"->|\blambda\b"),
    ("list literal or subscript", r"\["),
    ("struct literal", r"\{|\bstruct_\w+\s*\(|\bstruct\s*\("),
    ("regexp_matches", r"\bregexp_matches\s*\("),
    ("strftime / strptime", r"\bstr[fp]time\s*\("),
    ("epoch", r"\bepoch(_ms|_us|_ns)?\b"),
    ("date_diff / datediff (use dbt.datediff)", r"\bdate_?diff\s*\("),
    ("interval literal (use dbt.dateadd)", r"\binterval\b"),
    ("integer division //", r"//"),
    ("string_agg / listagg (use dbt.listagg)", r"\bstring_agg\s*\(|\blistagg\s*\(|\bgroup_concat\s*\("),
    ("hash()", r"\bhash\s*\("),
    ("asof / positional join", r"\basof\b|\bpositional\s+join\b"),
    ("generate_series / unnest / range", r"\bgenerate_series\b|\bunnest\b|\brange\s*\("),
    ("arg_min / arg_max", r"\barg_(min|max)\s*\("),
    ("quantile / median", r"\bquantile\w*\s*\(|\bmedian\s*\("),
    ("any_value / arbitrary", r"\bany_value\s*\(|\barbitrary\s*\("),
    ("isodow / dayofweek", r"\bisodow\b|\bdayofweek\b"),
    ("now()", r"\bnow\s*\(\s*\)"),
    ("varchar (use dbt.type_string)", r"\bvarchar\b"),
    ("DuckDB-only type", r"\b(hugeint|uhugeint|ubigint|uinteger|usmallint|utinyint)\b"),
    ("group / order by all", r"\b(group|order)\s+by\s+all\b"),
    ("union by name", r"\bunion\s+(all\s+)?by\s+name\b"),
    ("columns(*)", r"\bcolumns\s*\("),
    ("ilike / glob", r"\bilike\b|\bglob\b"),
    ("pivot / unpivot", r"\b(un)?pivot\b"),
    ("date_part", r"\bdate_part\s*\("),
]

# dbt's cross-database macros that dbt-duckdb renders with DuckDB syntax: compiled as markers here.
_DBT_MARKERS = """
{% macro duckdb__dateadd(datepart, interval, from_date_or_timestamp) -%}
    dbt_dateadd({{ datepart }}, {{ interval }}, {{ from_date_or_timestamp }})
{%- endmacro %}
{% macro duckdb__datediff(first_date, second_date, datepart) -%}
    dbt_datediff({{ datepart }}, {{ first_date }}, {{ second_date }})
{%- endmacro %}
{% macro duckdb__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
    dbt_listagg({{ measure }}, {{ delimiter_text }}{{ ', ' ~ order_by_clause if order_by_clause }})
{%- endmacro %}
{% macro duckdb__type_string() -%}
    dbt_type_string
{%- endmacro %}
"""


def _default_macros() -> set[str]:
    """The macros of the project that have a portable default__ implementation."""
    names = set()
    for path in MACROS.glob("*.sql"):
        names |= set(re.findall(r"{%-?\s*macro\s+default__(\w+)\s*\(", path.read_text()))
    return names


def _dbt(args: list[str], env: dict[str, str]) -> None:
    proc = subprocess.run(build_run.dbt_command(args), env=env, capture_output=True, text=True, check=False)
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    errors = [line for line in lines if re.search(r"Failure in|Error in|error:|ERROR", line)]
    assert proc.returncode == 0, f"dbt {args[0]} failed:\n" + "\n".join([*errors[:20], "...", *lines[-15:]])


def _without_comments_and_strings(sql: str) -> str:
    """The SQL with its comments removed and every string literal emptied ('')."""
    out: list[str] = []
    i = 0
    while i < len(sql):
        if sql.startswith("--", i):
            i = sql.find("\n", i) if "\n" in sql[i:] else len(sql)
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = len(sql) if end < 0 else end + 2
        elif sql[i] == "'":
            i += 1
            while i < len(sql):
                if sql.startswith("''", i):
                    i += 2
                elif sql[i] == "'":
                    break
                else:
                    i += 1
            out.append("''")
            i += 1
        else:
            out.append(sql[i])
            i += 1
    return "".join(out)


def _unordered_row_numbers(sql: str) -> int:
    """How many row_number() windows have no order by (the row each row gets is arbitrary)."""
    count = 0
    for match in re.finditer(r"\brow_number\s*\(\s*\)\s*over\s*\(", sql, re.IGNORECASE):
        depth, i = 1, match.end()
        while i < len(sql) and depth:
            depth += {"(": 1, ")": -1}.get(sql[i], 0)
            i += 1
        if not re.search(r"\border\s+by\b", sql[match.end() : i], re.IGNORECASE):
            count += 1
    return count


def test_every_not_runnable_fallback_is_a_dispatched_macro() -> None:
    assert set(NOT_RUNNABLE_ON_DUCKDB) <= _default_macros()


def test_the_duckdb_only_models_are_the_ones_enabled_on_duckdb_alone() -> None:
    """A model may skip the portable fallbacks only if no other engine builds it."""
    enabled_on_duckdb_alone = {
        path.stem
        for path in (resources.dbt_project_dir() / "models").rglob("*.sql")
        if re.search(r"enabled\s*=\s*\(?\s*target\.type\s*==\s*'duckdb'\s*\)?", path.read_text())
    }
    assert enabled_on_duckdb_alone == DUCKDB_ONLY_MODELS


def test_fallback_build_equals_the_normal_build(built_data: DataDir, tmp_path: Path) -> None:
    fallbacks = sorted(_default_macros() - set(NOT_RUNNABLE_ON_DUCKDB))
    assert len(fallbacks) >= 10, fallbacks
    normal = read_pointer(built_data).path
    with duckdb.connect(str(normal), read_only=True) as con:
        (as_of,) = con.execute(
            "select value from rpt_attribution_settings where setting = 'as_of'"
        ).fetchone()
    built = tmp_path / "fallbacks.duckdb"
    env = build_run.dbt_env(built_data, built, tmp_path / "dbt")
    variables = {"as_of": as_of, "portable_fallbacks": fallbacks}
    threads = str(build_run.default_threads())
    _dbt(["build", *build_run.dbt_project_args(), "--threads", threads, "--vars", json.dumps(variables)], env)

    # The fallbacks were compiled in: none of DuckDB's own implementations is left in the models.
    compiled = tmp_path / "dbt" / "target" / "compiled" / "changeboard" / "models"
    leftovers = [
        path.name
        for path in compiled.rglob("*.sql")
        if path.stem not in DUCKDB_ONLY_MODELS
        and re.search(
            r"\basof\b|quantile_cont|arg_min|\bhash\(|qualify|strftime|isodow|generate_series",
            path.read_text(),
        )
    ]
    assert not leftovers, leftovers

    manifest = json.loads((tmp_path / "dbt" / "target" / "manifest.json").read_text())
    tables = sorted(
        f"{node['schema']}.{node['name']}"
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["config"]["materialized"] == "table"
    )
    assert sum(name.startswith("main.") for name in tables) >= 20, tables
    con = duckdb.connect()
    try:
        con.execute(f"attach '{normal}' as normal (read_only)")
        con.execute(f"attach '{built}' as fallback (read_only)")
        differences = {}
        for table in tables:
            schema, name = table.split(".")
            columns = {
                side: con.execute(
                    "select column_name, data_type from information_schema.columns"
                    " where table_catalog = ? and table_schema = ? and table_name = ? order by ordinal_position",
                    [side, schema, name],
                ).fetchall()
                for side in ("normal", "fallback")
            }
            assert columns["normal"], f"{table} is not in the normal build"
            if columns["normal"] != columns["fallback"]:
                differences[table] = f"columns {columns['normal']} != {columns['fallback']}"
                continue
            only = {
                (a, b): con.execute(
                    f"select count(*) from (select * from {a}.{table} except all select * from {b}.{table})"
                ).fetchone()[0]
                for a, b in (("normal", "fallback"), ("fallback", "normal"))
            }
            if any(only.values()):
                differences[table] = (
                    f"{only[('normal', 'fallback')]} rows only normal, {only[('fallback', 'normal')]} only fallback"
                )
    finally:
        con.close()
    assert not differences, differences


def test_compiled_models_hold_no_duckdb_only_construct(tmp_path: Path) -> None:
    # A copy of the project whose dbt cross-database macros compile to markers; an empty ingest
    # database gives deduplicate's fallback the source columns it reads.
    project = tmp_path / "project"
    shutil.copytree(
        resources.dbt_project_dir(), project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages")
    )
    (project / "macros" / "zz_dbt_markers.sql").write_text(_DBT_MARKERS)
    config = yaml.safe_load((project / "dbt_project.yml").read_text())
    config["dispatch"] = [{"macro_namespace": "dbt", "search_order": ["changeboard", "dbt"]}]
    (project / "dbt_project.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    data = DataDir(tmp_path / "data").ensure()
    load.connect_ingest(data.ingest_db).close()
    env = build_run.dbt_env(data, tmp_path / "compile.duckdb", tmp_path / "dbt")
    variables = {"as_of": "2026-11-26 00:00:00", "portable_fallbacks": True}
    args = ["--project-dir", str(project), "--profiles-dir", str(project)]
    _dbt(["compile", *args, "--select", "resource_type:model", "--vars", json.dumps(variables)], env)

    compiled = tmp_path / "dbt" / "target" / "compiled" / "changeboard" / "models"
    paths = sorted(compiled.rglob("*.sql"))
    assert len(paths) >= 50, paths
    found = []
    for path in paths:
        if path.stem in DUCKDB_ONLY_MODELS:
            continue
        sql = _without_comments_and_strings(path.read_text())
        found += [
            f"{path.stem}: {name}" for name, pattern in CONSTRUCTS if re.search(pattern, sql, re.IGNORECASE)
        ]
        if _unordered_row_numbers(sql):
            found.append(f"{path.stem}: row_number() over () without order by")
    assert "dbt_dateadd(" in (compiled / "marts" / "fct_changes.sql").read_text(), (
        "the dbt markers were not used"
    )
    assert not found, "\n".join(found)
