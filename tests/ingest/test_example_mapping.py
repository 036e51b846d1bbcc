"""The documented example mapping (docs/examples/itop.toml, the one README and ingest/sources/mapped.py
point to) is loaded with the product's defaults AND built by dbt: every value it writes is one the
build accepts (before issue 17, the docstring's example passed ingest and failed the build's
accepted-values test, publishing nothing)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from changeboard.ingest.registry import ExportSettings
from typer.testing import CliRunner

from changeboard.cli import app
from changeboard.paths import DataDir
from changeboard.pipeline import build_run, ingest_run

from .conftest import REPO

EXAMPLES = REPO / "docs" / "examples"


def test_example_mapping_dry_run_is_clean() -> None:
    result = CliRunner().invoke(
        app,
        ["ingest", "--mapping", str(EXAMPLES / "itop.toml"), str(EXAMPLES / "itop_changes.csv"), "--dry-run"],
    )
    assert result.exit_code == 0, result.output
    assert "0 quarantined" in result.output
    assert "✗" not in result.output
    assert "WARNING: value map" not in result.output


@pytest.mark.slow
def test_example_mapping_loads_and_builds(tmp_path: Path) -> None:
    data = DataDir(tmp_path / "data").ensure()
    settings = ExportSettings(system="mapped", extra={"mapping": str(EXAMPLES / "itop.toml")})
    report = ingest_run.ingest_paths(data, [EXAMPLES / "itop_changes.csv"], settings=settings)
    (r,) = report.results
    assert r.status == "succeeded", r.error
    assert (r.file_rows, r.file_rows_quarantined, r.counts.quarantined) == (7, 0, 0)
    published = build_run.build(data, run_id="example")
    con = duckdb.connect(str(published.path), read_only=True)
    try:
        changes = con.execute(
            "select number, change_type, outcome, risk from fct_changes order by 1"
        ).fetchall()
        cis = dict(con.execute("select name, ci_class from dim_configuration_items").fetchall())
        services = {row[0] for row in con.execute("select service_name from dim_services").fetchall()}
    finally:
        con.close()
    assert changes == [
        ("C-000123", "normal", "successful", "high"),  # NormalChangeCAB by prefix, High by pattern
        ("C-000124", "standard", "successful_with_issues", "low"),
        ("C-000125", "emergency", "unsuccessful", "high"),  # Critical by pattern
        ("C-000126", "other", "successful", "moderate"),  # ObsoleteChange: the default
    ]
    assert [cis[n] for n in ("lnx-gw-01", "win-dns-01", "vpn-01")] == ["server"] * 3  # by prefix
    assert (cis["portal-db"], cis["sw-core-01"]) == ("database", "network_gear")
    assert {"Corporate Network", "Customer Portal"} <= services
