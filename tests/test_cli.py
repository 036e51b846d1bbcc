"""The command line over a built sample: status, sql, export, docs, and ingest's error handling."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import polars as pl
import pytest
from typer.testing import CliRunner

from changeboard.cli import app
from changeboard.paths import DataDir
from changeboard.warehouse.versions import read_pointer

runner = CliRunner()


def test_status_shows_runs_counts_quarantine_and_version(built_data: DataDir) -> None:
    result = runner.invoke(app, ["status", "--data-dir", str(built_data.root)])
    assert result.exit_code == 0, result.output
    version = read_pointer(built_data).version
    assert version in result.output
    assert "change_request.csv" in result.output
    assert "quarantined rows" in result.output


def test_sql_prints_a_query_result_read_only(built_data: DataDir) -> None:
    result = runner.invoke(
        app, ["sql", "--data-dir", str(built_data.root), "select count(*) as n from fct_changes"]
    )
    assert result.exit_code == 0, result.output
    con = duckdb.connect(str(read_pointer(built_data).path), read_only=True)
    n = con.execute("select count(*) from fct_changes").fetchall()[0][0]
    con.close()
    assert f"{n}" in result.output
    refused = runner.invoke(app, ["sql", "--data-dir", str(built_data.root), "create table x as select 1"])
    assert refused.exit_code != 0
    assert "read-only" in refused.output.lower() or "read only" in refused.output.lower()


def test_export_parquet_writes_every_public_model(built_data: DataDir, tmp_path: Path) -> None:
    result = runner.invoke(app, ["export", str(tmp_path), "--data-dir", str(built_data.root)])
    assert result.exit_code == 0, result.output
    files = {p.stem: p for p in tmp_path.glob("*.parquet")}
    assert {"fct_changes", "fct_incidents", "rpt_change_kpis", "rpt_cab_agenda"} <= set(files)
    con = duckdb.connect(str(read_pointer(built_data).path), read_only=True)
    for name, path in files.items():
        assert pl.read_parquet(path).height == con.execute(f"select count(*) from {name}").fetchall()[0][0], (
            name
        )
    con.close()


def test_ingest_of_garbage_names_the_file_and_loads_the_rest(tmp_path: Path) -> None:
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "garbage.csv").write_bytes(b"\x00\x01\x02binary\xff")
    (exports / "change_windows.csv").write_text(
        "window_id,kind,name,scope,start_at,end_at\nW1,blackout,Freeze,,2026-12-20T00:00:00Z,2027-01-02T00:00:00Z\n"
    )
    result = runner.invoke(app, ["ingest", str(exports), "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 2
    assert "garbage.csv" in result.output
    con = duckdb.connect(str(tmp_path / "data" / "ingest" / "ingest.duckdb"), read_only=True)
    assert con.execute("select count(*) from raw.change_window").fetchall() == [(1,)]
    statuses = dict(con.execute("select file_name, status from meta.ingest_run").fetchall())
    con.close()
    assert statuses == {"garbage.csv": "failed", "change_windows.csv": "succeeded"}


@pytest.mark.slow
def test_docs_generate_the_catalog_of_the_published_version(built_data: DataDir) -> None:
    result = runner.invoke(app, ["docs", "--data-dir", str(built_data.root), "--no-serve"])
    assert result.exit_code == 0, result.output
    site = built_data.root / "docs" / read_pointer(built_data).version
    catalog = json.loads((site / "catalog.json").read_text())
    assert "model.changeboard.fct_changes" in catalog["nodes"]
    assert (site / "index.html").exists()
