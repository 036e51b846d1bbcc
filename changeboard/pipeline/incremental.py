"""Incremental builds: when a build may start from the published version, and how.

An incremental build starts a fresh build file holding only the incremental models' tables, carried
over from the published version (the published file is only read: it stays immutable and readers
keep reading it), links the published file read-only for dbt as the "previous version", and lets the
incremental models recompute only what differs from it (``dbt/macros/attribution_incremental.sql``).
Whatever dbt builds as a plain table is built whole, as in a full build. The build falls back to a
full build, and says why, whenever the previous version cannot be trusted to match this build's
project and settings (DECISIONLOG "Incremental builds").
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import duckdb

from changeboard import resources
from changeboard.paths import DataDir
from changeboard.warehouse.versions import NoWarehouse, read_pointer

# The table every version carries about how it was built (read by the next build's decision).
STATE_TABLE = "main.warehouse_build_state"
# dbt reads the previous version through this environment variable (empty: a full build).
ENV_PREVIOUS_VERSION = "CHANGEBOARD_PREVIOUS_VERSION"
# A fixed name (a hard link to the published file) so dbt's partial-parse cache survives builds;
# ".building" in it: the versions GC removes one a crashed build left behind.
PREVIOUS_LINK = "previous.duckdb.building-read"
# The tables an incremental build carries over from the published version: the models materialized
# "incremental" on DuckDB (tests/test_incremental_build.py checks this list against the project).
# A copy of the whole file made every replaced table's old blocks dead weight: the 1.9 GB version
# at 1M changes grew to 3.3 GB, and the models replaced in it ran slower than in a fresh file.
CARRIED_OVER = (("intermediate", "int_incidents_attributed_to_changes"),)

_SKIPPED_PARTS = {"target", "logs", "dbt_packages", "__pycache__"}


@dataclass(frozen=True)
class BuildPlan:
    """What a build does: incremental on ``previous`` or full, and why."""

    incremental: bool
    reason: str
    project_hash: str
    settings_hash: str
    previous: Path | None = None
    previous_version: str | None = None

    @property
    def kind(self) -> str:
        return "incremental" if self.incremental else "full"


def project_hash(project_dir: Path | None = None) -> str:
    """A hash of the dbt project (models, macros, seeds, tests, dbt_project.yml, profiles.yml) and
    of changeboard's version: any change to what dbt builds makes the next build a full one."""
    root = project_dir or resources.dbt_project_dir()
    digest = hashlib.sha256()
    try:
        digest.update(metadata.version("changeboard").encode())
    except metadata.PackageNotFoundError:
        digest.update(b"changeboard-unknown")
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if not path.is_file() or _SKIPPED_PARTS.intersection(rel.parts) or rel.name == ".user.yml":
            continue
        digest.update(str(rel).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def settings_hash(build_vars: dict[str, object]) -> str:
    """A hash of the vars a build passes to dbt (metric targets, an explicit as_of)."""
    return hashlib.sha256(json.dumps(build_vars, sort_keys=True, default=str).encode()).hexdigest()


def _previous_state(path: Path) -> dict[str, object] | None:
    """The build state recorded in a published version, or None when it has none."""
    con = duckdb.connect()  # a private instance: a reader of the same file elsewhere in the process
    try:
        con.execute(f"attach '{path}' as previous (read_only)")
        found = con.execute(
            "select count(*) from information_schema.tables where table_catalog = 'previous' "
            "and table_schema = 'main' and table_name = 'warehouse_build_state'"
        ).fetchall()[0][0]
        if not found:
            return None
        row = con.execute("select * from previous.main.warehouse_build_state").fetchone()
        names = [d[0] for d in con.description or []]
        return dict(zip(names, row, strict=True)) if row else None
    finally:
        con.close()


OPT_IN_REASON = (
    "the default (--incremental builds on the published version: opt-in while it measures slower "
    "than a full build, DECISIONLOG D41)"
)


def plan_build(
    data: DataDir, build_vars: dict[str, object], *, full_refresh: bool = False, try_incremental: bool = False
) -> BuildPlan:
    """Decide between an incremental and a full build (and say why). Incremental only when asked
    for (``try_incremental``) and sound; a full build otherwise."""
    project, settings = project_hash(), settings_hash(build_vars)

    def full(reason: str) -> BuildPlan:
        return BuildPlan(False, reason, project, settings)

    if full_refresh:
        return full("full build asked for (--full-refresh)")
    if not try_incremental:
        return full(OPT_IN_REASON)
    try:
        published = read_pointer(data)
    except NoWarehouse:
        return full("no published version yet")
    if published.warning:
        return full("the published version's pointer is damaged")
    try:
        state = _previous_state(published.path)
    except duckdb.Error as exc:
        return full(f"the published version {published.version} cannot be read ({type(exc).__name__})")
    if state is None:
        return full(
            f"the published version {published.version} records no build state (built before incremental builds)"
        )
    if state.get("project_hash") != project:
        return full(
            f"the dbt project (models, seeds, macros) or changeboard's version changed since {published.version}"
        )
    if state.get("settings_hash") != settings:
        return full(f"the build settings (metric targets, as_of) changed since {published.version}")
    return BuildPlan(
        True,
        f"incremental on version {published.version}",
        project,
        settings,
        previous=published.path,
        previous_version=published.version,
    )


def prepare(data: DataDir, plan: BuildPlan, building: Path) -> dict[str, str]:
    """Set up the build path for ``plan``; the environment dbt needs for it. An incremental build
    starts from a fresh file holding the published version's incremental tables (CARRIED_OVER) and
    reads the published file (never written to) through a read-only hard link with a fixed name."""
    link = data.versions / PREVIOUS_LINK
    link.unlink(missing_ok=True)
    if not plan.incremental or plan.previous is None:
        return {ENV_PREVIOUS_VERSION: ""}
    carry_over(plan.previous, building)
    try:
        os.link(plan.previous, link)
    except OSError:
        shutil.copyfile(plan.previous, link)
    return {ENV_PREVIOUS_VERSION: str(link)}


def carry_over(previous: Path, building: Path) -> list[str]:
    """Create ``building`` afresh with the CARRIED_OVER tables of the ``previous`` version (read-only);
    the names it carried. A table the previous version lacks is left out: dbt then builds it whole."""
    building.unlink(missing_ok=True)
    con = duckdb.connect(str(building))
    carried = []
    try:
        quoted = str(previous).replace("'", "''")
        con.execute(f"attach '{quoted}' as previous (read_only)")
        for schema, table in CARRIED_OVER:
            found = con.execute(
                "select count(*) from information_schema.tables where table_catalog = 'previous' "
                "and table_schema = ? and table_name = ? and table_type = 'BASE TABLE'",
                [schema, table],
            ).fetchall()[0][0]
            if not found:
                continue
            con.execute(f'create schema if not exists "{schema}"')
            con.execute(f'create table "{schema}"."{table}" as select * from previous."{schema}"."{table}"')
            carried.append(f"{schema}.{table}")
        con.execute("detach previous")
        con.execute("checkpoint")
    finally:
        con.close()
    return carried


def finish(data: DataDir) -> None:
    """Remove the previous version's link (the version itself is untouched)."""
    (data.versions / PREVIOUS_LINK).unlink(missing_ok=True)


def record(con: duckdb.DuckDBPyConnection, plan: BuildPlan, ingest_run_max: int) -> None:
    """Write the build state into the version being built (the next build's decision reads it)."""
    con.execute(
        f"create or replace table {STATE_TABLE} as select ?::varchar as build_kind, ?::varchar as build_reason, "
        "?::varchar as previous_version, ?::varchar as project_hash, ?::varchar as settings_hash, "
        "?::bigint as ingest_run_max",
        [
            plan.kind,
            plan.reason,
            plan.previous_version,
            plan.project_hash,
            plan.settings_hash,
            ingest_run_max,
        ],
    )


def ingest_run_max(data: DataDir) -> int:
    """The newest ingest run the build read (recorded for the record; the incremental models find
    what changed by comparing with the previous version, not by trusting this watermark)."""
    con = duckdb.connect(str(data.ingest_db), read_only=True)
    try:
        return int(con.execute("select coalesce(max(run_id), 0) from meta.ingest_run").fetchall()[0][0])
    finally:
        con.close()
