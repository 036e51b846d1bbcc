"""Incremental builds equal full builds (DECISIONLOG "Incremental builds").

A random (seeded; the seed is printed on failure, ``CHANGEBOARD_DELTA_SEED`` replays one) sequence
of delta exports — updates, new records, late arrivals for old periods, superseded versions and
CMDB relationship changes — goes through the real ingest into a copy of the suite's built sample,
which builds incrementally after each; after each, a full build of the same ingest database is compared with it
table by table (every public model: the marts and rpt_ models; order-insensitive, exact).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
from pathlib import Path

import duckdb
import pytest

from changeboard import resources
from changeboard.devtools.delta import write_delta
from changeboard.paths import DataDir
from changeboard.pipeline import build_run, incremental, ingest_run
from changeboard.warehouse.versions import publish

AS_OF_TEXT = "2026-11-26 00:00:00"
STEPS = 2
NOT_MODELS = ("warehouse_version", "warehouse_build_state")


def _public_tables(con: duckdb.DuckDBPyConnection, catalog: str) -> list[str]:
    return sorted(
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables where table_catalog = ? and table_schema = 'main' "
            "and table_type = 'BASE TABLE'",
            [catalog],
        ).fetchall()
        if r[0] not in NOT_MODELS
    )


def differences(incremental_file: Path, full_file: Path) -> dict[str, tuple[int, int]]:
    """Per public table: rows only in the incremental build, rows only in the full build (bags)."""
    con = duckdb.connect()
    try:
        con.execute(f"attach '{incremental_file}' as inc (read_only)")
        con.execute(f"attach '{full_file}' as full_build (read_only)")
        tables = _public_tables(con, "inc")
        assert tables == _public_tables(con, "full_build")
        assert any(t.startswith("rpt_") for t in tables)
        assert "fct_incident_change_candidates" in tables
        found: dict[str, tuple[int, int]] = {}
        for t in tables:
            only = [
                con.execute(
                    f"select count(*) from (from {a}.main.{t} except all from {b}.main.{t})"
                ).fetchall()[0][0]
                for a, b in (("inc", "full_build"), ("full_build", "inc"))
            ]
            if any(only):
                found[t] = (only[0], only[1])
        return found
    finally:
        con.close()


def _count(path: Path, sql: str) -> int:
    con = duckdb.connect()
    try:
        con.execute(f"attach '{path}' as v (read_only)")
        return int(con.execute(sql).fetchall()[0][0])
    finally:
        con.close()


@pytest.mark.slow
def test_incremental_builds_equal_full_builds(built_copy: DataDir, tmp_path: Path) -> None:
    seed = int(os.environ.get("CHANGEBOARD_DELTA_SEED") or random.randrange(1, 1 << 30))
    note = f"(delta seed {seed}: CHANGEBOARD_DELTA_SEED={seed} replays it)"
    data = built_copy  # the suite's sample, ingested and published by a full build as of AS_OF_TEXT
    # the tables an incremental build carries over are exactly the project's incremental models
    manifest = json.loads((data.root / "dbt" / "target" / "manifest.json").read_text(encoding="utf-8"))
    assert {
        (node["schema"], node["alias"])
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["config"]["materialized"] == "incremental"
    } == set(incremental.CARRIED_OVER)

    for step in range(1, STEPS + 1):
        delta = tmp_path / f"delta{step}"
        write_delta(data.samples, delta, seed=seed, step=step)
        report = ingest_run.ingest_paths(data, [delta], run_id=ingest_run.new_run_id())
        assert not report.failed, ([(r.path, r.error) for r in report.failed], note)
        pub = build_run.build(data, run_id=ingest_run.new_run_id(), as_of=AS_OF_TEXT, try_incremental=True)
        assert pub.meta["build_kind"] == "incremental", (pub.meta["build_reason"], note)
        affected = _count(
            pub.path, "select count(*) from v.intermediate.int_incidents_attributed_to_changes__affected"
        )
        incidents = _count(pub.path, "select count(*) from v.main.fct_incidents")
        # the delta touched some incidents, and not all of them were recomputed
        assert 0 < affected < incidents, (affected, incidents, note)

        full = DataDir(tmp_path / f"full{step}").ensure()
        shutil.copyfile(data.ingest_db, full.ingest_db)
        full_pub = build_run.build(full, run_id=ingest_run.new_run_id(), as_of=AS_OF_TEXT, full_refresh=True)
        assert full_pub.meta["build_reason"] == "full build asked for (--full-refresh)"
        assert differences(pub.path, full_pub.path) == {}, f"step {step} {note}"
        shutil.rmtree(full.root)


def test_the_build_says_when_only_a_full_build_is_right(tmp_path: Path) -> None:
    """No version, another project, other settings: a full build and why (no dbt run needed)."""
    data = DataDir(tmp_path / "d").ensure()
    plan = incremental.plan_build(data, {"targets": {}}, try_incremental=True)
    assert (plan.incremental, plan.reason) == (False, "no published version yet")
    assert (
        incremental.plan_build(data, {}, full_refresh=True).reason == "full build asked for (--full-refresh)"
    )

    project = tmp_path / "project"
    shutil.copytree(resources.dbt_project_dir(), project, ignore=shutil.ignore_patterns("target", "logs"))
    before = incremental.project_hash(project)
    assert incremental.project_hash(project) == before
    model = project / "models" / "marts" / "fct_changes.sql"
    model.write_text(model.read_text(encoding="utf-8") + "\n-- edited\n", encoding="utf-8")
    assert incremental.project_hash(project) != before
    assert incremental.settings_hash({"as_of": "2026-01-01"}) != incremental.settings_hash(
        {"as_of": "2026-01-02"}
    )

    # published versions whose state names another project, then other settings
    for n, (project_state, settings_state, reason) in enumerate(
        [
            ("other-project", incremental.settings_hash({"targets": {}}), "dbt project"),
            (incremental.project_hash(), incremental.settings_hash({"as_of": "x"}), "build settings"),
            (
                incremental.project_hash(),
                incremental.settings_hash({"targets": {}}),
                "incremental on version",
            ),
        ],
        start=1,
    ):
        building = data.versions / "next.duckdb.building"
        con = duckdb.connect(str(building))
        incremental.record(con, incremental.BuildPlan(False, "full", project_state, settings_state), 0)
        con.close()
        publish(data, building, f"20260101T000000Z_{n:04d}", {})
        assert reason in incremental.plan_build(data, {"targets": {}}, try_incremental=True).reason
        # without --incremental every build is full, and says so
        assert incremental.plan_build(data, {"targets": {}}).reason == incremental.OPT_IN_REASON


def test_an_incremental_build_starts_from_the_carried_over_tables_only(tmp_path: Path) -> None:
    """The build file holds the previous version's incremental tables and nothing else; the previous
    version is only read (not a byte of it changes)."""
    previous, building = tmp_path / "previous.duckdb", tmp_path / "next.duckdb.building"
    con = duckdb.connect(str(previous))
    for schema, table in incremental.CARRIED_OVER:
        con.execute(f"create schema {schema}")
        con.execute(
            f"create table {schema}.{table} as select range as incident_id, 'c' || range as change_id from range(1000)"
        )
    con.execute("create table main.fct_incidents as select range as incident_id from range(100000)")
    con.close()
    before = hashlib.sha256(previous.read_bytes()).hexdigest()
    building.write_bytes(b"a crashed build's leftovers")

    carried = incremental.carry_over(previous, building)

    assert carried == [f"{schema}.{table}" for schema, table in incremental.CARRIED_OVER]
    assert hashlib.sha256(previous.read_bytes()).hexdigest() == before
    con = duckdb.connect(str(building), read_only=True)
    try:
        tables = con.execute("select table_schema, table_name from information_schema.tables").fetchall()
        assert sorted(tables) == sorted(incremental.CARRIED_OVER)
        for schema, table in incremental.CARRIED_OVER:
            assert con.execute(f"select count(*), sum(incident_id) from {schema}.{table}").fetchall() == [
                (1000, 499500)
            ]
    finally:
        con.close()

    # a previous version without them: nothing is carried, dbt builds the models whole
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    assert incremental.carry_over(empty, building) == []
