"""Targets (DECISIONLOG D37): the [targets] table of the data directory's changeboard.toml reaches
rpt_metric_definitions through the build's ``targets`` var; defaults come from the declarations.

Runs dbt on rpt_metric_definitions alone (it reads the project's graph, not data), in a scratch
data directory, with the vars ``build_run.build`` passes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import duckdb
import pytest
from changeboard.ingest import load

from changeboard.paths import DataDir
from changeboard.pipeline.build_run import dbt_command, dbt_env, dbt_project_args
from changeboard.pipeline.settings import SettingsError, read_display, read_targets


def _build_definitions(tmp_path: Path, toml: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    data = DataDir(tmp_path / "data").ensure()
    data.config_file.write_text(toml, encoding="utf-8")
    load.connect_ingest(data.ingest_db).close()  # the profile attaches it (empty here)
    out = data.versions / "defs.duckdb"
    args = [
        "build",
        *dbt_project_args(),
        "--select",
        "rpt_metric_definitions",
        "--exclude",
        "test_type:singular",
        "--threads",
        "1",
    ]
    args += [
        "--vars",
        json.dumps({"targets": read_targets(data.config_file), **read_display(data.config_file)}),
    ]
    env = dbt_env(data, out, tmp_path / "dbt")
    env["DBT_PARTIAL_PARSE"] = "false"
    proc = subprocess.run(dbt_command(args), env=env, capture_output=True, text=True, check=False)
    return proc, out


def _definitions(path: Path) -> dict[str, dict[str, object]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute(
            "select metric, direction, unit, target_value, amber_value, target_source, base_column, min_base "
            "from rpt_metric_definitions"
        ).fetchall()
    finally:
        con.close()
    return {
        r[0]: {
            "direction": r[1],
            "unit": r[2],
            "target": r[3],
            "amber": r[4],
            "source": r[5],
            "base": r[6],
            "min_base": r[7],
        }
        for r in rows
    }


def test_targets_from_changeboard_toml_override_the_declared_defaults(tmp_path: Path) -> None:
    proc, out = _build_definitions(
        tmp_path,
        "[targets]\nchange_success_rate = { target = 0.97, amber = 0.93 }\nemergency_ratio = 0.2\n",
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    defs = _definitions(out)
    assert defs["change_success_rate"] == {
        "direction": "higher_is_better",
        "unit": "pct",
        "target": 0.97,
        "amber": 0.93,
        "source": "changeboard.toml",
        "base": "completed_count",
        "min_base": 20,  # the default: no [display] table
    }
    # a bare number is the target with no amber band
    assert (defs["emergency_ratio"]["target"], defs["emergency_ratio"]["amber"]) == (0.2, 0.2)
    # the rest keep their declared defaults from common practice
    assert (defs["failed_rate"]["target"], defs["failed_rate"]["amber"], defs["failed_rate"]["source"]) == (
        0.05,
        0.10,
        "default",
    )
    assert (defs["unauthorized_ratio"]["target"], defs["unauthorized_ratio"]["source"]) == (0.0, "default")
    # volumes have no target; every target sits on the right side of its amber threshold
    assert defs["changes_opened"]["target"] is None
    assert defs["changes_opened"]["source"] is None
    for metric, d in defs.items():
        if d["target"] is None:
            continue
        assert d["direction"] != "neutral", metric
        if d["direction"] == "higher_is_better":
            assert d["amber"] <= d["target"], metric
        else:
            assert d["amber"] >= d["target"], metric


def test_an_unknown_metric_in_targets_fails_the_build_naming_it(tmp_path: Path) -> None:
    proc, _ = _build_definitions(tmp_path, "[targets]\nchange_sucess_rate = 0.97\n")
    assert proc.returncode != 0
    assert "change_sucess_rate, which is not a declared metric" in proc.stdout


def test_an_amber_on_the_better_side_of_the_target_fails_a_data_test(tmp_path: Path) -> None:
    proc, _ = _build_definitions(tmp_path, "[targets]\nfailed_rate = { target = 0.05, amber = 0.01 }\n")
    assert proc.returncode != 0
    assert "expression_is_true" in proc.stdout
    assert "FAIL" in proc.stdout


def test_read_targets_checks_the_file_shape(tmp_path: Path) -> None:
    path = tmp_path / "changeboard.toml"
    assert read_targets(path) == {}
    path.write_text("[targets]\nfailed_rate = 0.04\nbackout_rate = { target = 0.01, amber = 0.03 }\n")
    assert read_targets(path) == {
        "failed_rate": {"target": 0.04, "amber": 0.04},
        "backout_rate": {"target": 0.01, "amber": 0.03},
    }
    for bad, message in (
        ('[targets]\nfailed_rate = "5 %"\n', "is not a number"),
        ("[targets]\nfailed_rate = { amber = 0.1 }\n", "(no target)"),
        ("[targets]\nfailed_rate = { target = 0.05, red = 0.2 }\n", "unknown keys: red"),
        ("targets = 3\n", "must be a table"),
        ("[targets\n", "not valid TOML"),
    ):
        path.write_text(bad)
        with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
            read_targets(path)


def test_min_base_from_changeboard_toml_is_published_for_every_metric_with_a_base(tmp_path: Path) -> None:
    """[display] min_base reaches rpt_metric_definitions (DECISIONLOG D44): every rate and median carries
    it with the column its base is in; counts carry none."""
    proc, out = _build_definitions(tmp_path, "[display]\nmin_base = 35\n")
    assert proc.returncode == 0, proc.stdout[-3000:]
    defs = _definitions(out)
    assert (defs["failed_rate"]["base"], defs["failed_rate"]["min_base"]) == ("completed_count", 35)
    assert (defs["lead_time_to_production"]["base"], defs["lead_time_to_production"]["min_base"]) == (
        "lead_time_to_production_count",
        35,
    )
    assert (defs["changes_opened"]["base"], defs["changes_opened"]["min_base"]) == (None, None)
    for metric, d in defs.items():
        assert (d["base"] is None) == (d["min_base"] is None), metric
        if d["unit"] == "pct":
            assert d["min_base"] == 35, metric


def test_read_display_checks_the_file_shape(tmp_path: Path) -> None:
    path = tmp_path / "changeboard.toml"
    assert read_display(path) == {}
    path.write_text("[targets]\nfailed_rate = 0.04\n")
    assert read_display(path) == {}  # no [display] table: dbt's default (20) applies
    path.write_text("[display]\nmin_base = 30\n")
    assert read_display(path) == {"min_base": 30}
    for bad, message in (
        ("[display]\nmin_base = 2.5\n", "not a whole number"),
        ("[display]\nmin_base = -1\n", "not a whole number"),
        ("[display]\nmin_base = true\n", "not a whole number"),
        ("[display]\nminbase = 20\n", "unknown keys: minbase"),
        ("display = 3\n", "must be a table"),
    ):
        path.write_text(bad)
        with pytest.raises(SettingsError, match=message):
            read_display(path)
