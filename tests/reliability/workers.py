"""Worker processes for the reliability tests: dashboard readers and form submitters.

Run as ``python -m tests.reliability.workers reader|submitter DATA_DIR OUT SECONDS|AT_LEAST``; each
writes a JSON report to OUT. Readers open the published warehouse per request, read-only, as the
app does, and record every (version, row count) pair they saw and every error.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path

import duckdb
import polars as pl

from changeboard.paths import DataDir
from changeboard.store.requests import connect_ops, submit
from changeboard.warehouse.versions import read_pointer


def reexport(src: Path, dst: Path, n: int) -> Path:
    """A newer export of the same change records (some updated), as a user would pull it later."""
    text = src.read_bytes().decode("cp1252")
    frame = pl.read_csv(text.encode(), infer_schema=False)
    bumped = f"2026-11-2{n % 3 + 3} 12:00:00"
    frame = frame.with_columns(
        pl.when(pl.int_range(pl.len()) % 7 == n % 7)
        .then(pl.lit(bumped))
        .otherwise(pl.col("sys_updated_on"))
        .alias("sys_updated_on"),
        pl.when(pl.int_range(pl.len()) % 7 == n % 7)
        .then(pl.col("short_description") + f" (rev {n})")
        .otherwise(pl.col("short_description"))
        .alias("short_description"),
    )
    dst.mkdir(parents=True, exist_ok=True)
    out = dst / "change_request.csv"
    frame.write_csv(out, quote_style="always")
    (dst / "_export.toml").write_text(
        'system = "servicenow"\ntimezone = "Europe/London"\ntable = "change_request"\n'
    )
    return out


def reader(data_dir: str, out: str, seconds: float) -> None:
    """Poll until ``<out>.stop`` appears, then once more (or until ``seconds`` pass, a safety limit)."""
    data = DataDir(Path(data_dir))
    stop = Path(out + ".stop")
    seen: list[tuple[str, int, int]] = []
    errors: list[str] = []
    reads = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        stopping = stop.exists()  # read once more after the stop: the last publish is always seen
        try:
            pub = read_pointer(data)
            con = duckdb.connect(str(pub.path), read_only=True)
            try:
                row = con.execute(
                    "select (select version from warehouse_version), (select count(*) from fct_changes), "
                    "(select count(*) from fct_changes where source_system = 'form')"
                ).fetchall()[0]
            finally:
                con.close()
            reads += 1
            if row[0] != pub.version:
                errors.append(f"pointer said {pub.version} but the file holds {row[0]}")
            if not seen or seen[-1][0] != row[0]:
                seen.append((str(row[0]), int(row[1]), int(row[2])))
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        if stopping:
            break
        # each reader reads every 25 ms (a busy dashboard): four readers every 5 ms kept a 2-core CI
        # machine's CPU from the builds they race, without reading in any window the others miss
        time.sleep(0.025)
    Path(out).write_text(json.dumps({"reads": reads, "errors": errors, "versions": seen}))


def submitter(data_dir: str, out: str, at_least: int) -> None:
    """Submit ``at_least`` requests, and go on until ``<out>.stop`` appears, so the pipeline's runs
    (the store's sync among them) happen while requests are being written."""
    data = DataDir(Path(data_dir))
    stop = Path(out + ".stop")
    acked: list[str] = []
    errors: list[str] = []
    deadline = time.monotonic() + 900  # a safety limit
    i = 0
    while i < at_least or (not stop.exists() and time.monotonic() < deadline):
        key = uuid.uuid4().hex
        try:
            con = connect_ops(data.ops_db)
            try:
                fields = {
                    "created_by": f"worker-{uuid.uuid4().hex[:4]}",
                    "title": f"load test {i}",
                    "change_type": "normal",
                    "cis": [],
                }
                ref = submit(con, fields, key)
                # a retry of the same submission (a resent form, even with other fields) must not
                # create a second request
                assert submit(con, {**fields, "title": "retry"}, key) == ref
            finally:
                con.close()
            acked.append(ref)
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        i += 1
        time.sleep(0.01 if i < at_least else 0.1)
    Path(out).write_text(json.dumps({"acked": acked, "errors": errors}))


if __name__ == "__main__":
    kind, data_dir, out, amount = sys.argv[1:5]
    if kind == "reader":
        reader(data_dir, out, float(amount))
    else:
        submitter(data_dir, out, int(amount))
