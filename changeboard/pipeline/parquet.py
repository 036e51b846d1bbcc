"""Beyond one machine (issue #21): the raw tables out as Parquet, an engine's models back as a version.

- :func:`export_raw` writes the ingest database's tables (schemas ``raw`` and ``meta``: the
  canonical raw tables and the ledger the dbt sources read) as a Parquet dataset, one folder per
  table (``DIR/raw/change/data.parquet``), the layout a Spark or Databricks table ``location``
  points at. The dbt project then builds on that engine (target ``spark`` in dbt/profiles.yml;
  macro ``register_parquet_sources`` declares the tables there).
- :func:`publish_from_parquet` reads the public models (the ``marts`` and ``reports`` models of the
  dbt project) from the engine's Parquet output, one folder per table, copies them into a new
  DuckDB file and publishes it as a warehouse version like a local build: the app, the CAB pack and
  ``changeboard sql`` read it unchanged. A public model missing from the folder fails the publish
  (nothing is published, the previous version keeps serving): a partial warehouse would show
  empty pages as if there were no data.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from changeboard import resources
from changeboard.paths import DataDir
from changeboard.pipeline.settings import SettingsError, read_retention
from changeboard.warehouse.versions import Published, collect_garbage, new_version_id, publish

# The ingest database's schemas the dbt sources read (models/staging/*/_*__sources.yml).
EXPORTED_SCHEMAS = ("raw", "meta")
EXPORT_MANIFEST = "_changeboard_export.json"
# The dbt model folders whose models are public (schema main; fct_*, dim_*, rpt_*).
PUBLIC_MODEL_FOLDERS = ("marts", "reports")


class ParquetError(RuntimeError):
    """An export or publish that cannot be done as asked; nothing was replaced or published."""


@dataclass(frozen=True)
class ExportedTable:
    schema: str
    name: str
    rows: int
    path: Path


def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def export_raw(data: DataDir, out_dir: Path) -> list[ExportedTable]:
    """Write every table of the ingest database's raw and meta schemas to ``out_dir/<schema>/<table>/``
    as one Parquet file (zstd); return what was written. Each table is written next to its folder
    and renamed into place, so a reader never sees half a file; a manifest with the row counts and
    column types is written last."""
    if not data.ingest_db.exists():
        raise ParquetError(f"no ingest database at {data.ingest_db}: run `changeboard ingest` first")
    out_dir.mkdir(parents=True, exist_ok=True)
    exported: list[ExportedTable] = []
    manifest: dict[str, object] = {
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "tables": {},
    }
    with duckdb.connect(str(data.ingest_db), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables"
            " where table_type = 'BASE TABLE' and table_schema in (select unnest(?)) order by 1, 2",
            [list(EXPORTED_SCHEMAS)],
        ).fetchall()
        for schema, name in tables:
            folder = out_dir / schema / name
            part = out_dir / schema / f".{name}.part"
            shutil.rmtree(part, ignore_errors=True)
            part.mkdir(parents=True)
            con.execute(
                f'copy (select * from "{schema}"."{name}") to {_quote(part / "data.parquet")}'
                " (format parquet, compression zstd)"
            )
            rows = _count(con, f'select count(*) from "{schema}"."{name}"')
            columns = con.execute(
                "select column_name, data_type from information_schema.columns"
                " where table_schema = ? and table_name = ? order by ordinal_position",
                [schema, name],
            ).fetchall()
            shutil.rmtree(folder, ignore_errors=True)
            part.replace(folder)
            exported.append(ExportedTable(schema, name, int(rows), folder))
            manifest["tables"][f"{schema}.{name}"] = {"rows": int(rows), "columns": dict(columns)}  # type: ignore[index]
    (out_dir / EXPORT_MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return exported


def public_models() -> list[str]:
    """The names of the dbt project's public models (its marts and reports)."""
    models = resources.dbt_project_dir() / "models"
    return sorted(path.stem for folder in PUBLIC_MODEL_FOLDERS for path in (models / folder).rglob("*.sql"))


def _table_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.parquet") if not p.name.startswith((".", "_")))


def _published_column(name: str, kind: str) -> str:
    """A column as the version holds it. Spark writes its timestamps (instants, shown in the session
    time zone, UTC) as Parquet timestamps adjusted to UTC, which DuckDB reads as TIMESTAMP WITH TIME
    ZONE; the warehouse's timestamps are plain UTC timestamps (DECISIONLOG D35), so they become the
    same UTC wall time without a zone. Every other column is kept as it is."""
    quoted = '"' + name.replace('"', '""') + '"'
    if kind == "TIMESTAMP WITH TIME ZONE":
        return f"timezone('UTC', {quoted}) as {quoted}"
    return quoted


def publish_from_parquet(
    data: DataDir, models_dir: Path, *, run_id: str, engine: str = "spark", keep: int | None = None
) -> Published:
    """Copy the public models from ``models_dir/<model>/*.parquet`` (an engine's output: Spark's
    ``<warehouse>/main.db`` or a ``location_root``) into a new warehouse version and publish it."""
    data.ensure()
    try:
        retention = read_retention(data.config_file, keep=keep)
    except SettingsError as exc:
        raise ParquetError(f"{exc}; nothing was published") from exc
    names = public_models()
    missing = [name for name in names if not _table_files(models_dir / name)]
    if missing:
        raise ParquetError(
            f"{len(missing)} public models have no Parquet files under {models_dir}: {', '.join(missing)}"
            " (build them on the engine first); nothing was published"
        )
    collect_garbage(data, retention)
    version = new_version_id(data.versions)
    building = data.versions / "next.duckdb.building"
    building.unlink(missing_ok=True)
    started = time.perf_counter()
    # the ingest runs the raw tables came from, where this data directory holds the ingest database
    ingest_runs = 0
    if data.ingest_db.exists():
        with duckdb.connect(str(data.ingest_db), read_only=True) as ingest:
            ingest_runs = _count(ingest, "select count(*) from meta.ingest_run")
    con = duckdb.connect(str(building))
    try:
        for name in names:
            files = "[" + ", ".join(_quote(p) for p in _table_files(models_dir / name)) + "]"
            columns = con.execute(f"describe select * from read_parquet({files})").fetchall()
            con.execute(
                f'create table main."{name}" as select {", ".join(_published_column(c[0], c[1]) for c in columns)}'
                f" from read_parquet({files})"
            )
        con.execute(
            "create or replace table main.warehouse_version as select ?::varchar as version,"
            " ?::varchar as pipeline_run_id, now()::timestamp as built_at, ?::bigint as ingest_runs,"
            " ?::double as dbt_seconds",
            [version, run_id, ingest_runs, None],
        )
        con.execute("checkpoint")
    finally:
        con.close()
    seconds = time.perf_counter() - started
    published = publish(
        data,
        building,
        version,
        {
            "pipeline_run_id": run_id,
            "ingest_runs": int(ingest_runs),
            "engine": engine,
            "source": str(models_dir),
            "copy_seconds": round(seconds, 2),
        },
    )
    collect_garbage(data, retention)
    return published


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    """The one number a count query returns."""
    row = con.execute(sql).fetchone()
    return int(row[0]) if row is not None else 0
