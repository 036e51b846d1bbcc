"""The ``changeboard`` command."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import duckdb
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from changeboard import resources
from changeboard.ingest.readers import ReadError
from changeboard.ingest.registry import ExportSettings
from changeboard.paths import ENV_DATA_DIR, DataDir
from changeboard.pipeline import run as pipeline
from changeboard.pipeline.lock import PipelineBusy, PipelineLock
from changeboard.reports import cab as cab_defaults
from changeboard.warehouse.versions import NoWarehouse, connect_published, read_pointer

app = typer.Typer(
    help="changeboard: change & release analytics for IT service management.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 160)

DataDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help=f"Data directory (default: ${ENV_DATA_DIR}, then ./data).", show_default=False
    ),
]
WaitOpt = Annotated[float, typer.Option("--wait", help="Seconds to wait for another pipeline run to finish.")]


def _data(data_dir: Path | None) -> DataDir:
    return DataDir.resolve(data_dir).ensure()


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False, markup=True)
    return typer.Exit(code)


def _results_table(report: pipeline.IngestReport) -> Table:
    t = Table(title="ingest summary", show_lines=False)
    for col in (
        "file",
        "source",
        "status",
        "read",
        "inserted",
        "updated",
        "unchanged",
        "superseded",
        "quarantined",
        "s",
    ):
        t.add_column(col, justify="right" if col not in ("file", "source", "status") else "left")
    for r in report.results:
        c = r.counts
        style = {"failed": "red", "skipped_duplicate": "dim"}.get(r.status, "")
        t.add_row(
            r.path.name,
            f"{r.source_system or '-'} {r.source_table or ''}",
            f"[{style}]{r.status}[/]" if style else r.status,
            *(
                f"{v:,}"
                for v in (c.rows_read, c.inserted, c.updated, c.unchanged, c.superseded, c.quarantined)
            ),
            f"{r.duration_seconds:.1f}",
        )
    return t


def _run_ingest(
    data: DataDir, paths: list[Path], settings: ExportSettings | None, force: bool, run_id: str
) -> pipeline.IngestReport:
    from changeboard.ingest.registry import expand_paths

    files = expand_paths(paths)
    with Progress(
        TextColumn("[bold]ingest[/]"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} files"),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task("", total=len(files))
        report = pipeline.ingest_paths(
            data,
            paths,
            settings=settings,
            force=force,
            run_id=run_id,
            on_start=lambda p: bar.update(task, description=p.name),
            progress=lambda r: bar.advance(task),
        )
    console.print(_results_table(report))
    for r in report.results:
        for w in r.warnings:
            if w.startswith("WARNING"):
                err.print(f"[bold yellow]{r.path.name}: {w}[/]")
            else:
                console.print(f"[dim]{r.path.name}: {w}[/]")
        if r.error:
            err.print(f"[red]{r.path.name}: {r.error}[/]")
    if report.aborted_runs:
        err.print(
            f"[yellow]{report.aborted_runs} earlier run(s) had died mid-file and were marked aborted (nothing partial was kept)[/]"
        )
    return report


@app.command()
def generate(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the sample exports into.")] = Path(
        "data/samples"
    ),
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same files.")] = 7,
    changes: Annotated[int, typer.Option(help="Number of change requests.")] = 4000,
    incidents: Annotated[int | None, typer.Option(help="Number of incidents (default 3 per change).")] = None,
    cis: Annotated[int | None, typer.Option(help="Number of configuration items.")] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="'Today' of the sample (ISO date, default today).")
    ] = None,
) -> None:
    """Write realistic ServiceNow and Jira sample exports."""
    from changeboard.devtools.generate import generate as gen

    when = datetime.fromisoformat(as_of).replace(tzinfo=UTC) if as_of else None
    with console.status("generating sample exports..."):
        written = gen(out, seed=seed, changes=changes, incidents=incidents, cis=cis, as_of=when)
    t = Table(title=f"sample exports in {out}")
    t.add_column("file")
    t.add_column("rows", justify="right")
    for name, n in written.items():
        t.add_row(name, f"{n:,}")
    console.print(t)


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Export files or folders.")],
    data_dir: DataDirOpt = None,
    source: Annotated[
        str | None, typer.Option(help="Source system (servicenow, jira, ...); default: detected.")
    ] = None,
    table: Annotated[
        str | None, typer.Option(help="Source table (change_request, incident, ...); default: detected.")
    ] = None,
    timezone: Annotated[str | None, typer.Option(help="Time zone of the export's display values.")] = None,
    force: Annotated[bool, typer.Option(help="Reprocess files whose content was already loaded.")] = False,
    mapping: Annotated[
        Path | None,
        typer.Option("--mapping", help="Declarative mapping file (TOML) for another tool's export."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would be loaded and every problem; load nothing.")
    ] = False,
    wait: WaitOpt = 0.0,
) -> None:
    """Load exports into the ingest database (idempotent; bad rows are quarantined)."""
    extra: dict[str, object] = {"mapping": str(mapping.resolve())} if mapping else {}
    settings = ExportSettings(
        system=source or ("mapped" if mapping else None), table=table, timezone=timezone, extra=extra
    )
    if dry_run:
        from changeboard.ingest.sources.mapped import dry_run_report

        try:
            text, ok = dry_run_report(paths, settings)
        except ReadError as exc:
            raise _fail(str(exc)) from None
        console.print(text, highlight=False, markup=False)
        raise typer.Exit(0 if ok else 2)
    data = _data(None if data_dir is None else data_dir)
    run_id = pipeline.new_run_id()
    try:
        with PipelineLock(data.lock_file, run_id=run_id, command="ingest", wait_seconds=wait):
            report = _run_ingest(data, paths, settings, force, run_id)
    except PipelineBusy as exc:
        raise _fail(str(exc), 75) from None
    except ReadError as exc:
        raise _fail(str(exc)) from None
    if report.failed:
        raise typer.Exit(2)


@app.command()
def build(
    data_dir: DataDirOpt = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Pin 'now' for ages and schedules (ISO timestamp).")
    ] = None,
    keep: Annotated[int, typer.Option(help="Published versions to keep.")] = 3,
    wait: WaitOpt = 0.0,
    unit_tests: Annotated[
        bool,
        typer.Option(
            "--unit-tests",
            help="Also run the dbt unit tests (the models' SQL on fixed inputs): after changing the models.",
        ),
    ] = False,
) -> None:
    """Run dbt build (models and data tests) into a new warehouse version and publish it atomically."""
    data = _data(data_dir)
    run_id = pipeline.new_run_id()
    try:
        with PipelineLock(data.lock_file, run_id=run_id, command="build", wait_seconds=wait):
            _build(data, run_id, as_of, keep, unit_tests=unit_tests)
    except PipelineBusy as exc:
        raise _fail(str(exc), 75) from None


def _build(data: DataDir, run_id: str, as_of: str | None, keep: int, *, unit_tests: bool = False) -> None:
    form = pipeline.sync_forms(data, run_id=run_id)
    if form:
        c = form.counts
        console.print(f"form requests: {c.rows_read:,} read, {c.inserted:,} new, {c.updated:,} updated")
    try:
        with console.status("dbt build (models and tests)..."):
            pub = pipeline.build(data, run_id=run_id, as_of=as_of, keep=keep, unit_tests=unit_tests)
    except pipeline.BuildFailed as exc:
        raise _fail(str(exc)) from None
    console.print(f"[green]published[/] warehouse version [bold]{pub.version}[/] → {data.warehouse_link}")


@app.command()
def serve(
    data_dir: DataDirOpt = None,
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8501,
    address: Annotated[
        str, typer.Option(help="Address to bind (localhost by default; see README to expose).")
    ] = "localhost",
) -> None:
    """Serve the dashboards (Streamlit)."""
    data = _data(data_dir)
    env = {**os.environ, ENV_DATA_DIR: str(data.root)}
    console.print(f"changeboard is serving at [bold]http://{address}:{port}[/] (Ctrl+C to stop)")
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(resources.app_dir() / "streamlit_app.py"),
        "--server.port",
        str(port),
        "--server.address",
        address,
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    raise typer.Exit(subprocess.call(cmd, env=env, cwd=resources.app_dir()))


@app.command()
def demo(
    data_dir: DataDirOpt = None,
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8501,
    changes: Annotated[int, typer.Option(help="Changes in the generated sample.")] = 4000,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Stop after publishing.")] = False,
) -> None:
    """Generate sample exports if absent, ingest them, build, and serve the dashboards."""
    data = _data(data_dir)
    samples = data.samples
    if not any(samples.rglob("*.csv")) if samples.exists() else True:
        generate(out=samples, changes=changes, seed=7, incidents=None, cis=None, as_of=None)
    run_id = pipeline.new_run_id()
    try:
        with PipelineLock(data.lock_file, run_id=run_id, command="demo"):
            _run_ingest(data, [samples], None, False, run_id)
            _build(data, run_id, None, 3)
    except PipelineBusy as exc:
        raise _fail(str(exc), 75) from None
    if not no_serve:
        serve(data_dir=data.root, port=port, address="localhost")


@app.command()
def status(data_dir: DataDirOpt = None) -> None:
    """What is loaded: ingest runs, row counts, quarantined rows, the published version."""
    data = _data(data_dir)
    try:
        pub = read_pointer(data)
        console.print(
            f"published warehouse: version [bold]{pub.version}[/] at {pub.published_at} ({data.warehouse_link})"
        )
    except NoWarehouse as exc:
        console.print(f"[yellow]{exc}[/]")
    lock = PipelineLock(data.lock_file, run_id="status", command="status")
    try:
        lock.acquire()
    except PipelineBusy as exc:
        console.print(f"[yellow]a pipeline run is in progress; ledger not readable until it ends:[/] {exc}")
        return
    try:
        if not data.ingest_db.exists():
            console.print("nothing ingested yet")
            return
        con = duckdb.connect(str(data.ingest_db), read_only=True)
        try:
            _print_status(con)
        finally:
            con.close()
    finally:
        lock.release()


def _print_status(con: duckdb.DuckDBPyConnection) -> None:
    from changeboard.ingest.canonical import ENTITIES

    counts = Table(title="raw rows")
    counts.add_column("entity")
    counts.add_column("rows", justify="right")
    for name in ENTITIES:
        n = con.execute(f"select count(*) from raw.{name}").fetchall()[0][0]
        counts.add_row(name, f"{n:,}")
    console.print(counts)
    runs = Table(title="last ingest runs")
    cols = [
        "run_id",
        "file_name",
        "source_system",
        "source_table",
        "status",
        "rows_read",
        "inserted",
        "updated",
        "unchanged",
        "superseded",
        "quarantined",
        "started_at",
    ]
    for c in cols:
        runs.add_column(c, no_wrap=c in ("file_name", "started_at"))
    for row in con.execute(
        f"select {', '.join(cols)} from meta.ingest_run order by run_id desc limit 15"
    ).fetchall():
        runs.add_row(*("" if v is None else str(v) for v in row))
    console.print(runs)
    q = con.execute("select count(*) from meta.quarantine").fetchall()[0][0]
    console.print(f"quarantined rows: [bold]{q:,}[/]")
    if q:
        qt = Table(title="latest quarantined rows")
        for c in ("file", "row", "entity", "reason"):
            qt.add_column(c)
        for row in con.execute(
            "select file_name, source_row, entity, reason from meta.quarantine order by quarantined_at desc, source_row limit 10"
        ).fetchall():
            qt.add_row(*(str(v) for v in row))
        console.print(qt)


@app.command()
def sql(
    query: Annotated[
        str | None, typer.Argument(help="A query; without one, an interactive read-only shell.")
    ] = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Run a query against the published warehouse (read-only), or open a shell."""
    data = _data(data_dir)
    try:
        con, pub = connect_published(data)
    except NoWarehouse as exc:
        raise _fail(str(exc)) from None
    try:
        if query is not None:
            _print_query(con, query)
            return
        console.print(
            f"read-only shell on warehouse version {pub.version}; end with Ctrl+D. Public models: fct_*, dim_*, rpt_*"
        )
        buf = ""
        while True:
            try:
                line = input("changeboard> " if not buf else "         ...> ")
            except EOFError:
                break
            buf += line + "\n"
            if buf.strip().endswith(";") or (line.strip() == "" and buf.strip()):
                _print_query(con, buf.strip().rstrip(";"))
                buf = ""
    finally:
        con.close()


def _print_query(con: duckdb.DuckDBPyConnection, query: str) -> None:
    try:
        cur = con.cursor()
        res = cur.execute(query)
        cols = [d[0] for d in res.description] if res.description else []
        rows = res.fetchmany(200)
    except duckdb.Error as exc:
        raise _fail(f"query failed: {exc}") from None
    t = Table()
    for c in cols:
        t.add_column(c)
    for row in rows:
        t.add_row(*("" if v is None else str(v) for v in row))
    console.print(t)


PUBLIC_PREFIXES = ("fct_", "dim_", "rpt_")


@app.command()
def export(
    out: Annotated[Path, typer.Argument(help="Folder to write one file per public model into.")],
    data_dir: DataDirOpt = None,
    fmt: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet",
) -> None:
    """Write every public model (fct_*, dim_*, rpt_*) of the published warehouse for BI tools."""
    if fmt not in ("parquet", "csv"):
        raise _fail(f"unknown format {fmt!r}: use parquet or csv")
    data = _data(data_dir)
    try:
        con, pub = connect_published(data)
    except NoWarehouse as exc:
        raise _fail(str(exc)) from None
    out.mkdir(parents=True, exist_ok=True)
    try:
        models = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'main' order by 1"
            ).fetchall()
            if r[0].startswith(PUBLIC_PREFIXES)
        ]
        for name in models:
            target = out / f"{name}.{fmt}"
            part = out / f".{name}.{fmt}.part"
            options = "format parquet, compression zstd" if fmt == "parquet" else "format csv, header true"
            con.execute(f"copy (select * from main.{name}) to '{part}' ({options})")
            part.replace(target)
    finally:
        con.close()
    console.print(f"wrote {len(models)} public models of warehouse version {pub.version} to {out} as {fmt}")


@app.command()
def docs(
    data_dir: DataDirOpt = None,
    port: Annotated[int, typer.Option(help="Port to serve the documentation on.")] = 8081,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Generate only; print where.")] = False,
) -> None:
    """Generate the dbt documentation of the published warehouse and serve it locally."""
    import shutil
    import tempfile

    data = _data(data_dir)
    try:
        pub = read_pointer(data)
    except NoWarehouse as exc:
        raise _fail(str(exc)) from None
    site = data.root / "docs" / pub.version
    if not (site / "index.html").exists():
        with tempfile.TemporaryDirectory(prefix="changeboard-docs-") as tmp:
            # dbt opens its database read-write: give it a private copy of the (immutable) version
            copy = Path(tmp) / "warehouse.duckdb"
            shutil.copyfile(pub.path, copy)
            env = pipeline.dbt_env(data, copy, Path(tmp))
            args = ["docs", "generate", *pipeline.dbt_project_args(), "--target-path", str(site)]
            with console.status("dbt docs generate..."):
                proc = subprocess.run(
                    pipeline.dbt_command(args), env=env, capture_output=True, text=True, check=False
                )
            if proc.returncode != 0:
                shutil.rmtree(site, ignore_errors=True)
                raise _fail(
                    "dbt docs generate failed:\n" + "\n".join((proc.stdout + proc.stderr).splitlines()[-20:])
                )
    console.print(f"documentation of warehouse version {pub.version}: {site / 'index.html'}")
    if no_serve:
        return
    console.print(f"serving at [bold]http://localhost:{port}[/] (Ctrl+C to stop)")
    raise typer.Exit(
        subprocess.call(
            [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(site)]
        )
    )


requests_app = typer.Typer(
    help="The change-request form's requests: export them for the system of record.", no_args_is_help=True
)
app.add_typer(requests_app, name="requests")


@requests_app.command("export")
def requests_export(
    out: Annotated[Path, typer.Option("--out", help="File to write (replaced atomically).")],
    fmt: Annotated[
        str,
        typer.Option(
            "--format", help="servicenow-csv (import set, u_* columns) or servicenow-json (Table API)."
        ),
    ] = "servicenow-csv",
    status: Annotated[
        list[str] | None,
        typer.Option("--status", help="Statuses to export (repeatable): submitted, approved, rejected."),
    ] = None,
    excel_safe: Annotated[
        bool, typer.Option("--excel-safe", help="Prefix ' to CSV cells a spreadsheet would run as a formula.")
    ] = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Export form requests as a ServiceNow import-set CSV or Table API JSON payloads."""
    from changeboard.store import export as export_requests
    from changeboard.store import requests as ops

    statuses = status or list(export_requests.DEFAULT_STATUSES)
    unknown = [s for s in statuses if s not in ops.STATUSES]
    if unknown:
        raise _fail(f"unknown status {', '.join(unknown)}; choose from {', '.join(ops.STATUSES)}")
    if fmt not in export_requests.FORMATS:
        raise _fail(f"unknown format {fmt!r}; choose one of {', '.join(export_requests.FORMATS)}")
    data = _data(data_dir)
    n = export_requests.export(data.ops_db, fmt, out, statuses=statuses, excel_safe=excel_safe)
    console.print(f"wrote {n} request(s) ({', '.join(statuses)}) to {out} as {fmt}")


parquet_app = typer.Typer(
    help="Beyond one machine: the raw tables out as Parquet for Spark / Databricks, and the models they "
    "build back as a published warehouse version (README 'Beyond one machine').",
    no_args_is_help=True,
)
app.add_typer(parquet_app, name="parquet")


@parquet_app.command("export")
def parquet_export(
    out: Annotated[Path, typer.Argument(help="Folder to write DIR/raw/<table>/ and DIR/meta/<table>/ into.")],
    data_dir: DataDirOpt = None,
    wait: WaitOpt = 0.0,
) -> None:
    """Write the ingest database's raw canonical tables and ledger as a Parquet dataset."""
    from changeboard.pipeline import parquet

    data = _data(data_dir)
    run_id = pipeline.new_run_id()
    try:
        with PipelineLock(data.lock_file, run_id=run_id, command="parquet export", wait_seconds=wait):
            tables = parquet.export_raw(data, out)
    except PipelineBusy as exc:
        raise _fail(str(exc), 75) from None
    except parquet.ParquetError as exc:
        raise _fail(str(exc)) from None
    rows = sum(t.rows for t in tables)
    console.print(f"wrote {len(tables)} tables ({rows:,} rows) as Parquet to {out}")
    console.print(
        "next, on Spark: dbt run-operation register_parquet_sources --target spark "
        f"--args '{{root: {out.resolve()}}}', then dbt build --target spark"
    )


@parquet_app.command("publish")
def parquet_publish(
    models_dir: Annotated[
        Path,
        typer.Argument(
            help="The engine's output: one folder of Parquet files per model (Spark: <warehouse>/main.db)."
        ),
    ],
    data_dir: DataDirOpt = None,
    engine: Annotated[
        str, typer.Option(help="Engine that built the models (recorded with the version).")
    ] = "spark",
    keep: Annotated[int, typer.Option(help="Published versions to keep.")] = 3,
    wait: WaitOpt = 0.0,
) -> None:
    """Publish the public models an engine built (Parquet) as a new warehouse version."""
    from changeboard.pipeline import parquet

    data = _data(data_dir)
    run_id = pipeline.new_run_id()
    try:
        with PipelineLock(data.lock_file, run_id=run_id, command="parquet publish", wait_seconds=wait):
            pub = parquet.publish_from_parquet(data, models_dir, run_id=run_id, engine=engine, keep=keep)
    except PipelineBusy as exc:
        raise _fail(str(exc), 75) from None
    except parquet.ParquetError as exc:
        raise _fail(str(exc)) from None
    console.print(
        f"[green]published[/] warehouse version [bold]{pub.version}[/] ({engine}) → {data.warehouse_link}"
    )


@app.command()
def bench(
    changes: Annotated[int, typer.Option(help="Changes at the largest scale.")] = 1_000_000,
    incidents: Annotated[
        int | None, typer.Option(help="Incidents at the largest scale (default 5 per change).")
    ] = None,
    cis: Annotated[
        int | None, typer.Option(help="CIs at the largest scale (default 1 per 10 changes).")
    ] = None,
    scales: Annotated[
        str | None, typer.Option(help="Comma-separated numbers of changes (default 10000,100000,CHANGES).")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="JSON file (default WORKDIR/bench.json).")] = None,
    workdir: Annotated[
        Path | None, typer.Option("--workdir", help="Scratch folder (default DATA_DIR/bench).")
    ] = None,
    runs: Annotated[int, typer.Option(help="Runs of each dashboard page.")] = 20,
) -> None:
    """Benchmark ingest, build, dashboards and CAB pack against the DuckDB floor, at several scales."""
    from changeboard.devtools.bench import run_bench

    chosen = [int(s.replace("_", "")) for s in scales.split(",") if s.strip()] if scales else None
    run_bench(changes, incidents, cis, out, chosen, workdir, page_runs=runs, console=console)


report_app = typer.Typer(help="Reports generated from the published warehouse.", no_args_is_help=True)
app.add_typer(report_app, name="report")


@report_app.command("cab")
def report_cab(
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            help="Meeting time, ISO date or date-time (naive = UTC; a date alone = 10:00). Default: the next "
            "working day 10:00 after the warehouse's as-of.",
            show_default=False,
        ),
    ] = None,
    previous: Annotated[
        str | None,
        typer.Option(
            "--previous", help="Previous meeting time (default: 7 days before).", show_default=False
        ),
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="html, pdf, md or ics (the forward schedule).")
    ] = "html",
    out: Annotated[
        Path | None, typer.Option("--out", help="File to write (default: cab-<meeting date>.<format>).")
    ] = None,
    paper: Annotated[str, typer.Option("--paper", help="PDF paper: a4 or letter (landscape).")] = "a4",
    limit: Annotated[
        int,
        typer.Option(
            "--limit",
            help="Changes listed per agenda section, the highest-risk first (0: all); the rest are counted.",
        ),
    ] = cab_defaults.DEFAULT_SECTION_LIMIT,
    data_dir: DataDirOpt = None,
) -> None:
    """The CAB meeting pack: agenda with risk evidence, reviews, KPI strip and forward schedule."""
    import time

    from changeboard.reports import cab

    if fmt == "markdown":
        fmt = "md"
    if fmt not in cab.FORMATS:
        raise _fail(f"unknown format {fmt!r}; choose one of {', '.join(cab.FORMATS)}")
    if paper not in cab.PAPERS:
        raise _fail(f"unknown paper {paper!r}; choose one of {', '.join(cab.PAPERS)}")
    try:
        meeting = cab.parse_meeting_time(at) if at else None
        prev = cab.parse_meeting_time(previous) if previous else None
    except ValueError as exc:
        raise _fail(f"cannot read the meeting time: {exc}") from None
    data = DataDir.resolve(data_dir)
    started = time.perf_counter()
    try:
        con, pub = connect_published(data)
    except NoWarehouse as exc:
        raise _fail(str(exc)) from None
    try:
        pack = cab.cab_pack(con, meeting, previous_meeting_at=prev, warehouse_version=pub.version)
    except (cab.CabPackError, ValueError) as exc:
        raise _fail(str(exc)) from None
    finally:
        con.close()
    if limit < 0:
        raise _fail("--limit must be 0 (all) or more")
    payload = cab.render(pack, fmt, paper=paper, limit=limit or None)
    target = out or Path(f"cab-{pack.meeting_at:%Y-%m-%d}.{fmt}")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_bytes(payload)
    tmp.replace(target)
    counts = ", ".join(f"{pack.section(s).height} {s.replace('_', ' ')}" for s in cab.SECTIONS)
    console.print(
        f"wrote {target} ({fmt}, {len(payload):,} bytes) for the meeting at {pack.meeting_at:%Y-%m-%d %H:%M} UTC: "
        f"{'nothing to review' if pack.is_empty else counts}; warehouse {pack.warehouse_version}; "
        f"{time.perf_counter() - started:.1f} s",
        highlight=False,
    )


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
