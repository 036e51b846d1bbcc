"""The ``changeboard`` command."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import duckdb
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from changeboard import resources
from changeboard.ingest.base import MAPPED_SYSTEM, ExportSettings
from changeboard.ingest.dry_run import dry_run_report
from changeboard.ingest.readers import ReadError
from changeboard.ingest.registry import expand_paths
from changeboard.paths import ENV_DATA_DIR, DataDir
from changeboard.pipeline import build_run, ingest_run
from changeboard.pipeline.lock import PipelineBusy, PipelineLock
from changeboard.reports import cab as cab_defaults
from changeboard.warehouse.versions import (
    NoWarehouse,
    Published,
    connect_published,
    read_pointer,
    version_files,
)


class _Command(typer.Typer):
    """The ``changeboard`` command (the console script calls it): ``ingest`` runs under the memory
    ceiling (:func:`_guarded_ingest`). Tests invoke the commands through ``CliRunner``, in-process."""

    def __call__(self, *args: object, **kwargs: object) -> object:
        if len(sys.argv) > 1 and sys.argv[1] == "ingest" and "--dry-run" not in sys.argv:
            _guarded_ingest(sys.argv[1:])
        return super().__call__(*args, **kwargs)


app = _Command(
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
    # the message is text (it may quote a file's content or a path with brackets), never markup
    err.print(Text.assemble(("error:", "bold red"), " ", message), highlight=False)
    return typer.Exit(code)


def _results_table(report: ingest_run.IngestReport) -> Table:
    # a refused or failed file loads nothing: its rows and records that were not quarantined are
    # "not loaded", shown only when a file of this run was not loaded
    not_loaded = any(r.counts.not_loaded or r.file_rows_not_loaded for r in report.results)
    t = Table(
        title="ingest summary",
        caption="file rows: the export's data rows (of which quarantined"
        + (", not loaded" if not_loaded else "")
        + "); records: what they became (one row may give several: a state change, a CI link); records = "
        "inserted + updated + unchanged + superseded + quarantined"
        + (" + not loaded (a refused or failed file loads nothing)" if not_loaded else ""),
        show_lines=False,
    )
    file_cols = ["file rows", "rows quarantined", *(["rows not loaded"] if not_loaded else [])]
    record_cols = ["records", "inserted", "updated", "unchanged", "superseded", "quarantined"]
    record_cols += ["not loaded"] if not_loaded else []
    for col in ("file", "source", "status", *file_cols, *record_cols, "s"):
        t.add_column(col, justify="right" if col not in ("file", "source", "status") else "left")
    for r in report.results:
        c = r.counts
        style = {"failed": "red", "rejected": "bold red", "skipped_duplicate": "dim"}.get(r.status, "")
        rows = [r.file_rows, r.file_rows_quarantined, *([r.file_rows_not_loaded] if not_loaded else [])]
        records = [c.rows_read, c.inserted, c.updated, c.unchanged, c.superseded, c.quarantined]
        records += [c.not_loaded] if not_loaded else []
        t.add_row(
            r.path.name,
            f"{r.source_system or '-'} {r.source_table or ''}",
            f"[{style}]{r.status}[/]" if style else r.status,
            *("-" if v is None else f"{v:,}" for v in rows),
            *(f"{v:,}" for v in records),
            f"{r.duration_seconds:.1f}",
        )
    return t


def _run_ingest(
    data: DataDir, paths: list[Path], settings: ExportSettings | None, force: bool, run_id: str
) -> ingest_run.IngestReport:
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
        report = ingest_run.ingest_paths(
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
            if r.status == "rejected":
                err.print(f"[bold red]refused:[/] {escape(r.error)}", highlight=False)
            else:
                err.print(f"[red]{escape(f'{r.path.name}: {r.error}')}[/]")
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
    null_values: Annotated[
        list[str] | None,
        typer.Option(
            "--null-values",
            metavar="TOKEN",
            help="A placeholder the export writes for 'no value' (?, N/A, -, #N/B...): read as empty. "
            "Repeat for several (added to null_values in _export.toml).",
        ),
    ] = None,
    max_quarantine: Annotated[
        float | None,
        typer.Option(
            "--max-quarantine",
            metavar="PERCENT",
            help="Refuse a file (load nothing of it, exit 3) when more than this share of its rows is "
            "quarantined; default 1, or max_quarantine in _export.toml.",
        ),
    ] = None,
    wait: WaitOpt = 0.0,
) -> None:
    """Load exports into the ingest database (idempotent; bad rows are quarantined, and a file with
    more than --max-quarantine % of its rows quarantined is refused with the fix)."""
    extra: dict[str, object] = {"mapping": str(mapping.resolve())} if mapping else {}
    if null_values:
        extra["null_values"] = [v for token in null_values for v in ([token] if token else [])]
    if max_quarantine is not None:
        extra["max_quarantine"] = max_quarantine
    settings = ExportSettings(
        system=source or (MAPPED_SYSTEM if mapping else None), table=table, timezone=timezone, extra=extra
    )
    if dry_run:
        try:
            text, ok = dry_run_report(paths, settings)
        except ReadError as exc:
            raise _fail(str(exc)) from None
        console.print(text, highlight=False, markup=False)
        raise typer.Exit(0 if ok else 2)
    data = _data(None if data_dir is None else data_dir)
    run_id = ingest_run.new_run_id()
    try:
        with PipelineLock(data.lock_file, run_id=run_id, command="ingest", wait_seconds=wait):
            report = _run_ingest(data, paths, settings, force, run_id)
    except PipelineBusy as exc:
        raise _fail(str(exc), 75) from None
    except ReadError as exc:
        raise _fail(str(exc)) from None
    if any(r.status == "failed" for r in report.results):
        raise typer.Exit(2)
    if any(r.status == "rejected" for r in report.results):
        raise typer.Exit(3)


@app.command()
def build(
    data_dir: DataDirOpt = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Pin 'now' for ages and schedules (ISO timestamp).")
    ] = None,
    keep: Annotated[
        int | None,
        typer.Option(
            help="Published versions to keep (default: retention.keep_versions in changeboard.toml, or 3)."
        ),
    ] = None,
    max_age_days: Annotated[
        float | None,
        typer.Option(
            "--max-age-days",
            help="Remove superseded versions older than this (default: retention.max_age_days in changeboard.toml, or none).",
        ),
    ] = None,
    wait: WaitOpt = 0.0,
    unit_tests: Annotated[
        bool,
        typer.Option(
            "--unit-tests",
            help="Also run the dbt unit tests (the models' SQL on fixed inputs): after changing the models.",
        ),
    ] = False,
    full_refresh: Annotated[
        bool,
        typer.Option(
            "--full-refresh",
            help="Build every model from scratch (the default; overrides --incremental).",
        ),
    ] = False,
    incremental: Annotated[
        bool,
        typer.Option(
            "--incremental",
            help="Build on the published version, recomputing the change attribution only for the incidents"
            " whose inputs changed, when nothing but the data changed. Opt-in: it measured slower than a full"
            " build so far (DECISIONLOG D41).",
        ),
    ] = False,
) -> None:
    """Run dbt build (models and data tests) into a new warehouse version and publish it atomically.

    A full build by default; with --incremental it builds on the published version when nothing but
    the data changed. It says which, and why (a changed dbt project, settings or as_of; no published
    version; --full-refresh)."""
    data = _data(data_dir)
    run_id = ingest_run.new_run_id()
    try:
        with PipelineLock(data.lock_file, run_id=run_id, command="build", wait_seconds=wait):
            _build(
                data,
                run_id,
                as_of,
                keep,
                unit_tests=unit_tests,
                max_age_days=max_age_days,
                full_refresh=full_refresh,
                try_incremental=incremental,
            )
    except PipelineBusy as exc:
        raise _fail(str(exc), 75) from None


def _build(
    data: DataDir,
    run_id: str,
    as_of: str | None,
    keep: int | None,
    *,
    unit_tests: bool = False,
    max_age_days: float | None = None,
    full_refresh: bool = False,
    try_incremental: bool = False,
) -> None:
    form = ingest_run.sync_forms(data, run_id=run_id)
    if form:
        c = form.counts
        console.print(f"form requests: {c.rows_read:,} read, {c.inserted:,} new, {c.updated:,} updated")
    try:
        with _BuildProgress() as progress:
            pub = build_run.build(
                data,
                run_id=run_id,
                as_of=as_of,
                keep=keep,
                max_age_days=max_age_days,
                unit_tests=unit_tests,
                on_node=progress.node_done,
                full_refresh=full_refresh,
                try_incremental=try_incremental,
                progress=lambda msg: (
                    err.print(msg) if msg.startswith(("full build", "incremental build")) else None
                ),
            )
    except build_run.BuildFailed as exc:
        raise _fail(str(exc)) from None
    console.print(
        f"[green]published[/] warehouse version [bold]{pub.version}[/] → {data.warehouse_link} "
        f"({pub.meta.get('build_kind', 'full')} build: {pub.meta.get('build_reason', '')})"
    )


class _BuildProgress:
    """dbt's nodes (models, seeds, tests) as they finish: a bar on a terminal; on a log (no
    terminal), one line per tenth of the nodes, so a CI log shows the build is moving."""

    def __init__(self) -> None:
        self._live = err.is_terminal
        self._progress = Progress(
            TextColumn("[bold]dbt build[/]"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        )
        self._task = self._progress.add_task("models and tests", total=None)
        self._next_tenth = 1

    def __enter__(self) -> _BuildProgress:
        if self._live:
            self._progress.start()
        else:
            err.print("dbt build: models and tests...")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live:
            self._progress.stop()

    def node_done(self, done: build_run.NodeDone) -> None:
        failed = done.status.lower() in ("error", "fail")
        description = f"{'[red]' if failed else ''}{done.name} {done.status}"
        self._progress.update(self._task, total=done.total, completed=done.index, description=description)
        if not self._live and done.index * 10 >= self._next_tenth * done.total:
            err.print(f"dbt build: {done.index:,} of {done.total:,} nodes done ({done.name}: {done.status})")
            self._next_tenth = done.index * 10 // done.total + 1


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
    _exec_streamlit(cmd, env, resources.app_dir())


def _exec_streamlit(cmd: list[str], env: dict[str, str], cwd: Path) -> None:
    """Replace this process with Streamlit (same pid): a SIGTERM or SIGINT from a service manager, a
    script or ``timeout`` reaches the server itself, which stops and frees its port. (A child
    process would outlive a parent that was sent SIGTERM, holding the port.)"""
    sys.stdout.flush()
    sys.stderr.flush()
    os.chdir(cwd)  # so that app/.streamlit/config.toml applies
    os.execve(cmd[0], cmd, env)


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
    run_id = ingest_run.new_run_id()
    try:
        with PipelineLock(data.lock_file, run_id=run_id, command="demo"):
            _run_ingest(data, [samples], None, False, run_id)
            _build(data, run_id, None, None)
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
        _warn_pointer(pub)
        console.print(
            f"published warehouse: version [bold]{pub.version}[/] at {pub.published_at} ({data.warehouse_link})"
        )
    except NoWarehouse as exc:
        console.print(Text(str(exc), style="yellow"))
    files = version_files(data)
    if files:
        console.print(
            f"versions on disk: {len(files)}, {sum(f.bytes for f in files) / 2**20:,.1f} MiB ("
            + ", ".join(
                f"{f.path.name} {f.bytes / 2**20:,.1f} MiB"
                + (" published" if f.current else "")
                + (" open by a reader" if f.leased else "")
                for f in files
            )
            + ")"
        )
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
    runs = Table(
        title="last ingest runs",
        caption="file rows: the export's data rows (of which quarantined, not loaded); records: what they "
        "became (one row may give several); records = inserted + updated + unchanged + superseded + "
        "quarantined + not loaded (a refused or failed file loads nothing)",
    )
    cols = {
        "run_id": "run",
        "file_name": "file",
        "source_system || ' ' || coalesce(source_table, '')": "source",
        "status || case when replaced_by_run is not null then ' (replaced by ' || replaced_by_run || ')' else '' end": "status",
        "file_rows": "file rows",
        "file_rows_quarantined": "rows quarantined",
        "file_rows_not_loaded": "rows not loaded",
        "rows_read": "records",
        "inserted": "inserted",
        "updated": "updated",
        "unchanged": "unchanged",
        "superseded": "superseded",
        "quarantined": "quarantined",
        "not_loaded": "not loaded",
        "started_at": "started",
    }
    for label in cols.values():
        runs.add_column(label, no_wrap=label in ("file", "started"))
    for row in con.execute(
        f"select {', '.join(cols)} from meta.ingest_run order by run_id desc limit 15"
    ).fetchall():
        runs.add_row(
            *(
                "" if v is None else f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v)
                for v in row
            )
        )
    console.print(runs)
    for run_id, file_name, error in con.execute(
        "select run_id, file_name, error from meta.ingest_run where status = 'rejected' "
        "and run_id = (select max(run_id) from meta.ingest_run r where r.file_sha256 = ingest_run.file_sha256) "
        "order by run_id desc limit 5"
    ).fetchall():
        err.print(
            f"[bold red]run {run_id} refused {escape(file_name)}:[/] {escape(error or '')}", highlight=False
        )
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


def _warn_pointer(pub: Published) -> None:
    """Say so when the version pointer was damaged and the symlink was read instead."""
    if pub.warning:
        err.print(Text(f"warning: {pub.warning}", style="bold yellow"))


@app.command()
def sql(
    query: Annotated[
        str | None, typer.Argument(help="A query; without one, an interactive read-only shell.")
    ] = None,
    data_dir: DataDirOpt = None,
    allow_files: Annotated[
        list[Path] | None,
        typer.Option(
            "--allow-files",
            help="A folder the queries may read and write files in (read_csv, COPY ... TO); repeatable. "
            "Without it no file but the warehouse itself can be reached.",
        ),
    ] = None,
) -> None:
    """Run a query against the published warehouse (read-only, sandboxed), or open a shell."""
    data = _data(data_dir)
    folders = tuple(allow_files or ())
    for folder in folders:
        if not folder.is_dir():
            raise _fail(f"--allow-files {folder}: not a folder")
        # allowed folders are read *and write*: one holding the data directory, or inside it, would let
        # a query overwrite CURRENT.json or attach the ingest database (DECISIONLOG D33)
        inside, root = folder.resolve(), data.root.resolve()
        if inside == root or root.is_relative_to(inside) or inside.is_relative_to(root):
            raise _fail(
                f"--allow-files {folder}: it holds or is inside the data directory {root}, which queries must "
                "not write (CURRENT.json, the ingest database): name a folder outside it"
            )
    try:
        con, pub = connect_published(data, allow_files=folders)
    except NoWarehouse as exc:
        raise _fail(str(exc)) from None
    _warn_pointer(pub)
    try:
        if query is not None:
            _print_query(con, query)
            return
        opened = f" (files: {', '.join(map(str, folders))})" if folders else ""
        console.print(
            f"read-only shell on warehouse version {pub.version}{opened}; end with Ctrl+D. Public models: fct_*, dim_*, rpt_*",
            markup=False,
            highlight=False,
        )
        buf = ""
        while True:
            try:
                line = input("changeboard> " if not buf else "         ...> ")
            except EOFError:
                break
            buf += line + "\n"
            if buf.strip().endswith(";") or (line.strip() == "" and buf.strip()):
                with contextlib.suppress(typer.Exit):  # the error is printed; the shell goes on
                    _print_query(con, buf.strip().rstrip(";"))
                buf = ""
    finally:
        con.close()


# What a terminal would act on rather than show: C0 controls (ESC starts escape sequences that can
# retitle the window or rewrite the screen, BEL, CR), DEL, C1 controls (U+009B is CSI) and the
# bidirectional embeddings, overrides and isolates. Printed escaped, as Python writes them.
_TERMINAL_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(value: object) -> str:
    """A value as text a terminal shows as it is: controls and bidirectional controls escaped
    (``\\x1b``, ``\\u202e``); tab and line feed kept."""
    text = "" if value is None else str(value)
    return _TERMINAL_UNSAFE.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), text)


def _print_query(con: duckdb.DuckDBPyConnection, query: str) -> None:
    try:
        cur = con.cursor()
        res = cur.execute(query)
        cols = [d[0] for d in res.description] if res.description else []
        rows = res.fetchmany(200)
    except duckdb.Error as exc:
        err.print(Text(f"error: query failed: {printable(exc)}", style="bold red"))
        raise typer.Exit(1) from None
    t = Table()
    for c in cols:
        t.add_column(Text(printable(c)))
    for row in rows:
        t.add_row(*(Text(printable(v)) for v in row))
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
    _warn_pointer(pub)
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
            # written by polars: the reader connection has no file access (see warehouse/readers.py)
            frame = con.sql(f"select * from main.{name}").pl()
            if fmt == "parquet":
                frame.write_parquet(part, compression="zstd")
            else:
                frame.write_csv(part)
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
            env = build_run.dbt_env(data, copy, Path(tmp))
            args = ["docs", "generate", *build_run.dbt_project_args(), "--target-path", str(site)]
            with console.status("dbt docs generate..."):
                proc = subprocess.run(
                    build_run.dbt_command(args), env=env, capture_output=True, text=True, check=False
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
    risky: list[tuple[int, str]] = []
    n = export_requests.export(data.ops_db, fmt, out, statuses=statuses, excel_safe=excel_safe, risky=risky)
    console.print(f"wrote {n} request(s) ({', '.join(statuses)}) to {out} as {fmt}", markup=False)
    if risky:
        cells = ", ".join(f"row {r} {c}" for r, c in risky[:5]) + (" ..." if len(risky) > 5 else "")
        err.print(
            Text(
                f"warning: {len(risky)} cell(s) start like a spreadsheet formula ({cells}) and were written as typed: "
                "a spreadsheet opening this file would run them. Pass --excel-safe when the file will be opened in "
                "one before it is imported.",
                style="bold yellow",
            )
        )


cab_app = typer.Typer(help="The CAB meeting: decisions recorded in changeboard.", no_args_is_help=True)
app.add_typer(cab_app, name="cab")
cab_decisions_app = typer.Typer(
    help="CAB decisions (form requests and ITSM changes): export them for the system of record.",
    no_args_is_help=True,
)
cab_app.add_typer(cab_decisions_app, name="decisions")


@cab_decisions_app.command("export")
def cab_decisions_export(
    out: Annotated[Path, typer.Option("--out", help="File to write (replaced atomically).")],
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="servicenow-csv (import set keyed by number / sys_id), json (ServiceNow Table API calls) "
            "or jira-csv (Jira CSV import keyed by Issue Key).",
        ),
    ] = "servicenow-csv",
    at: Annotated[
        str | None,
        typer.Option("--at", help="Only the decisions of this meeting (ISO date or date-time, UTC)."),
    ] = None,
    excel_safe: Annotated[
        bool, typer.Option("--excel-safe", help="Prefix ' to CSV cells a spreadsheet would run as a formula.")
    ] = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Export each change's CAB decision in force (approved, with conditions, rejected, deferred)."""
    from changeboard.reports import cab
    from changeboard.store import cab_export

    if fmt not in cab_export.FORMATS:
        raise _fail(f"unknown format {fmt!r}; choose one of {', '.join(cab_export.FORMATS)}")
    try:
        meeting = cab.parse_meeting_time(at) if at else None
    except ValueError as exc:
        raise _fail(f"--at: {exc}") from exc
    data = _data(data_dir)
    # a decision recorded before the build that loaded its change (or by an older app) has no sys_id:
    # the published warehouse has it when the ServiceNow export had one
    source_ids: dict[str, str | None] = {}
    decided = [str(d["change_id"]) for d in cab_export.read_decisions(data.ops_db, meeting)]
    if decided:
        with contextlib.suppress(NoWarehouse):
            con, _pub = connect_published(data)
            try:
                source_ids = cab.known_source_ids(con, decided)
            finally:
                con.close()
    result = cab_export.export(
        data.ops_db, fmt, out, meeting_at=meeting, excel_safe=excel_safe, source_ids=source_ids
    )
    scope = f" of the meeting {meeting:%Y-%m-%d %H:%M} UTC" if meeting else ""
    console.print(f"wrote {result.written} CAB decision(s){scope} to {out} as {fmt}")
    for system, n in sorted(result.left_out.items()):
        other = "jira-csv" if system == "jira" else "servicenow-csv or json"
        console.print(f"left out {n} decision(s) on {system} changes: export them with --format {other}")


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
    run_id = ingest_run.new_run_id()
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
    keep: Annotated[
        int | None,
        typer.Option(
            help="Published versions to keep (default: retention.keep_versions in changeboard.toml, or 3)."
        ),
    ] = None,
    wait: WaitOpt = 0.0,
) -> None:
    """Publish the public models an engine built (Parquet) as a new warehouse version."""
    from changeboard.pipeline import parquet

    data = _data(data_dir)
    run_id = ingest_run.new_run_id()
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
    spark: Annotated[
        bool,
        typer.Option(
            "--spark",
            help="Also build each scale on Apache Spark (a local Thrift server; JDK 17 and the spark extra).",
        ),
    ] = False,
) -> None:
    """Benchmark ingest, build, dashboards and CAB pack against the DuckDB floor, at several scales."""
    from changeboard.devtools.bench import run_bench

    chosen = [int(s.replace("_", "")) for s in scales.split(",") if s.strip()] if scales else None
    run_bench(changes, incidents, cis, out, chosen, workdir, page_runs=runs, console=console, spark=spark)


mapping_app = typer.Typer(
    help="Mapping files for other tools' exports (ingest --mapping FILE).", no_args_is_help=True
)
app.add_typer(mapping_app, name="mapping")


@mapping_app.command("columns")
def mapping_columns(
    entity: Annotated[
        str | None,
        typer.Argument(help="A canonical entity (change, incident, configuration_item...); default: all."),
    ] = None,
) -> None:
    """Every canonical column a mapping can fill: its type, the values it accepts and what it means
    (read from the canonical declaration, ingest/canonical.py)."""
    from changeboard.ingest import canonical

    if entity is not None and entity not in canonical.ENTITIES:
        raise _fail(f"unknown entity {entity!r}; choose from {', '.join(canonical.ENTITIES)}")
    for ent in canonical.ENTITIES.values():
        if entity is not None and ent.name != entity:
            continue
        t = Table(
            title=f"{ent.name}: {ent.description}",
            caption=f"key: {', '.join(ent.key)}; required: {', '.join(ent.required) or '-'}"
            + (f"; the latest {ent.version_column} of a key wins" if ent.version_column else ""),
            title_justify="left",
        )
        for col in ("column", "type", "accepted values", "meaning"):
            t.add_column(col, overflow="fold")
        for col, typ in ent.columns.items():
            accepted = canonical.accepted_values(ent.name, col)
            recognised = canonical.RECOGNISED_VALUES.get(ent.name, {}).get(col)
            values = (
                ", ".join(accepted)
                if accepted
                else ("recognised: " + ", ".join(recognised) + " (else other)" if recognised else "any")
            )
            name = f"{col} *" if col in ent.required else col
            t.add_row(name, typ.lower(), escape(values), escape(canonical.column_meaning(ent.name, col)))
        console.print(t)
    console.print(
        escape("* required. Write them in a mapping's [columns], [constants] or [value_maps]; ")
        + "see README 'Loading your own exports'.",
        style="dim",
    )


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
    detail: Annotated[
        str,
        typer.Option(
            "--detail",
            help="summary: the executive summary and one line per change (HTML, PDF, Markdown; in the ICS a "
            "low-risk standard change's event carries one line); full: the detail (every listed change's "
            "evidence, the collisions) follows as an appendix (every ICS event carries its evidence).",
        ),
    ] = "summary",
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
    if detail not in cab.DETAILS:
        raise _fail(f"unknown detail {detail!r}; choose one of {', '.join(cab.DETAILS)}")
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
    _warn_pointer(pub)
    try:
        pack = cab.cab_pack(con, meeting, previous_meeting_at=prev, warehouse_version=pub.version)
    except (cab.CabPackError, ValueError) as exc:
        raise _fail(str(exc)) from None
    finally:
        con.close()
    if limit < 0:
        raise _fail("--limit must be 0 (all) or more")
    from changeboard.reports import cab_meeting
    from changeboard.store import cab_decisions

    # the chair's running order and time boxes, stored with the meeting on the CAB page
    order = cab_decisions.read_running_order(data.ops_db, pack.meeting_at)
    pack = cab_meeting.with_running_order(pack, order)
    payload = cab.render(pack, fmt, paper=paper, limit=limit or None, detail=detail)
    target = out or Path(f"cab-{pack.meeting_at:%Y-%m-%d}.{fmt}")
    _write_file(target, payload)
    counts = ", ".join(f"{pack.section(s).height} {s.replace('_', ' ')}" for s in cab.SECTIONS)
    console.print(
        f"wrote {target} ({fmt}, {len(payload):,} bytes) for the meeting at {pack.meeting_at:%Y-%m-%d %H:%M} UTC: "
        f"{'nothing to review' if pack.is_empty else counts}; "
        + (f"the chair's running order ({len(order)} item(s)); " if order else "")
        + f"warehouse {pack.warehouse_version}; {time.perf_counter() - started:.1f} s",
        highlight=False,
    )


@report_app.command("cab-minutes")
def report_cab_minutes(
    at: Annotated[
        str,
        typer.Option(
            "--at",
            help="The meeting, ISO date or date-time (naive = UTC; a date alone = 10:00).",
            show_default=False,
        ),
    ],
    fmt: Annotated[
        str, typer.Option("--format", help="html, pdf, md, or ics (the deferred items on their new date).")
    ] = "html",
    out: Annotated[
        Path | None,
        typer.Option("--out", help="File to write (default: cab-minutes-<meeting date>.<format>)."),
    ] = None,
    paper: Annotated[str, typer.Option("--paper", help="PDF paper: a4 or letter (landscape).")] = "a4",
    data_dir: DataDirOpt = None,
) -> None:
    """The minutes of a CAB meeting: attendees and decisions (conditions, reasons, deferrals, who, when)."""
    from changeboard.reports import cab, cab_minutes

    if fmt == "markdown":
        fmt = "md"
    if fmt not in cab_minutes.FORMATS:
        raise _fail(f"unknown format {fmt!r}; choose one of {', '.join(cab_minutes.FORMATS)}")
    if paper not in cab.PAPERS:
        raise _fail(f"unknown paper {paper!r}; choose one of {', '.join(cab.PAPERS)}")
    try:
        meeting = cab.parse_meeting_time(at)
    except ValueError as exc:
        raise _fail(f"cannot read the meeting time: {exc}") from None
    data = DataDir.resolve(data_dir)
    m = cab_minutes.read_minutes(data.ops_db, meeting)
    payload = cab_minutes.render(m, fmt, paper=paper)
    target = out or Path(f"cab-minutes-{meeting:%Y-%m-%d}.{fmt}")
    _write_file(target, payload)
    what = "no decision recorded" if m.is_empty else cab_minutes.counts(m)
    if fmt == "ics":
        what = f"{len(m.deferred)} deferred item(s)"
    console.print(
        f"wrote {target} ({fmt}) for the meeting at {meeting:%Y-%m-%d %H:%M} UTC: {what}; "
        f"{len(m.attendees)} attendee(s)",
        highlight=False,
    )


def _write_file(target: Path, payload: bytes) -> None:
    """Write a report whole or not at all (a temporary file renamed over the target)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_bytes(payload)
    tmp.replace(target)


def main() -> None:  # pragma: no cover
    app()


def _guarded_ingest(args: list[str]) -> None:
    """``changeboard ingest`` under the memory ceiling (changeboard/pipeline/memory.py): the ingest
    runs in a watched child; this process reports how it ended. Returns only to run the ingest
    here (no ceiling set, or this process is the child)."""
    from changeboard.pipeline import memory

    ceiling = memory.ceiling_mb()
    if not ceiling or os.environ.get(memory.ENV_GUARDED) or any(a in ("--help", "-h") for a in args):
        return
    guarded = memory.run_guarded(args, ceiling)
    if not guarded.stopped_at_ceiling:
        if guarded.returncode < 0:  # killed by a signal: end the same way, so callers see it
            import signal

            signal.signal(-guarded.returncode, signal.SIG_DFL)
            os.kill(os.getpid(), -guarded.returncode)
        raise SystemExit(guarded.returncode)
    root = next(
        (args[i + 1] for i, a in enumerate(args[:-1]) if a == "--data-dir"),
        next((a.split("=", 1)[1] for a in args if a.startswith("--data-dir=")), None),
    )
    files = memory.mark_stopped(DataDir.resolve(root).root, guarded)
    what = (
        f"while reading {', '.join(files)}; nothing of that file was loaded and its run is marked aborted"
        if files
        else "before it read any file"
    )
    err.print(
        Text.assemble(
            ("error:", "bold red"),
            f" the ingest was stopped at the memory ceiling of {ceiling:,} MB ({memory.ENV_INGEST_MAX_MB}) {what} "
            f"(peak {guarded.peak_mb:,.0f} MB). Files loaded before it in this run are kept. "
            f"Raise {memory.ENV_INGEST_MAX_MB} if the file is genuine.",
        )
    )
    raise SystemExit(2)


if __name__ == "__main__":  # pragma: no cover
    main()
