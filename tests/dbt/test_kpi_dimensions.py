"""The dimensions of the change KPIs (var kpi_dimensions, DECISIONLOG D55): each one is a grouping set
of the change KPIs; a name the macro does not know stops the compile naming it, instead of grouping
every change under '(none)', and so does one listed twice. Compiles rpt_change_kpis alone in a scratch data directory."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from changeboard.ingest import load

from changeboard.paths import DataDir
from changeboard.pipeline.build_run import dbt_command, dbt_env, dbt_project_args


def _compile_kpis(tmp_path: Path, dimensions: list[str]) -> tuple[subprocess.CompletedProcess[str], Path]:
    data = DataDir(tmp_path / "data").ensure()
    load.connect_ingest(data.ingest_db).close()  # the profile attaches it (empty here)
    target = tmp_path / "dbt"
    args = [
        "compile",
        *dbt_project_args(),
        "--select",
        "rpt_change_kpis",
        "--vars",
        json.dumps({"kpi_dimensions": dimensions}),
    ]
    env = dbt_env(data, data.versions / "kpis.duckdb", target)
    env["DBT_PARTIAL_PARSE"] = "false"
    proc = subprocess.run(dbt_command(args), env=env, capture_output=True, text=True, check=False)
    return proc, target / "target"


def test_each_dimension_is_a_grouping_set_and_an_unknown_one_stops_the_compile(tmp_path: Path) -> None:
    proc, target = _compile_kpis(tmp_path / "known", ["all", "risk", "service"])
    assert proc.returncode == 0, proc.stdout
    [compiled] = target.glob("compiled/**/rpt_change_kpis.sql")
    sql = compiled.read_text(encoding="utf-8")
    assert "coalesce(changes.service_name, '(none)') as dimension__service" in sql
    # one grouping set per dimension in each KPI family, the empty one for 'all'
    sets = re.findall(r"grouping sets \(  -- noqa: PRS\n(.*?)\n\s*\)", sql, flags=re.DOTALL)
    assert len(sets) == 4
    for found in sets:
        assert re.sub(r"\s+", "", found) == "(),(dimension__risk),(dimension__service)"
    assert "dimension__change_type" not in sql

    proc, _ = _compile_kpis(tmp_path / "unknown", ["all", "priorty"])
    assert proc.returncode != 0
    assert "unknown dimension 'priorty'" in proc.stdout
    assert "known: all, change_type, risk, service, assignment_group, source_system" in proc.stdout

    proc, _ = _compile_kpis(tmp_path / "twice", ["all", "risk", "risk"])
    assert proc.returncode != 0
    assert "dimension 'risk' is listed twice" in proc.stdout
