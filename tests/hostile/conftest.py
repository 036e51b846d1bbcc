"""The hostile warehouse: a small generated sample plus a ``change_request_hostile.csv`` that re-titles
every ServiceNow change with a hostile string, ingested in one run and built once per session (as of
2026-11-26). Shared by the escaping and the security tests, so that the new tests build dbt once."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from changeboard.paths import DataDir
from tests.built_once import built_once
from tests.hostile.corpus import HOSTILE_TITLES

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "app"
AS_OF = datetime(2026, 11, 26, tzinfo=UTC)
AS_OF_TEXT = "2026-11-26 00:00:00"


def _hostile_copy(src: Path, dest: Path) -> int:
    """Every change of ``src`` again, one minute newer, with a hostile title; returns the rows."""
    raw = src.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    by_record: dict[str, str] = {}  # one title per record, so that its repeated rows stay identical
    for r in rows:
        title = by_record.setdefault(r["sys_id"], HOSTILE_TITLES[len(by_record) % len(HOSTILE_TITLES)])
        r["short_description"] = title
        updated = datetime.strptime(r["sys_updated_on"], "%Y-%m-%d %H:%M:%S") + timedelta(minutes=1)
        r["sys_updated_on"] = updated.strftime("%Y-%m-%d %H:%M:%S")
    with dest.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]), quoting=csv.QUOTE_ALL)
        w.writeheader()
        w.writerows(rows)
    return len(rows)


@pytest.fixture(scope="session")
def hostile_data(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> DataDir:
    """Built once per run (each xdist worker has its own copy: tests.built_once)."""
    return built_once(tmp_path_factory, worker_id, "hostile_wh", _build_hostile)


def _build_hostile(data: DataDir) -> None:
    from changeboard.devtools.generate import generate
    from changeboard.pipeline import build_run, ingest_run

    generate(data.samples, seed=11, changes=200, as_of=AS_OF)
    sn = data.samples / "servicenow"
    n = _hostile_copy(sn / "change_request.csv", sn / "change_request_hostile.csv")
    run_id = ingest_run.new_run_id()
    report = ingest_run.ingest_paths(data, [data.samples], run_id=run_id)
    assert not report.failed, [(r.path, r.error) for r in report.failed]
    hostile = next(r for r in report.results if r.path.name == "change_request_hostile.csv")
    original = next(r for r in report.results if r.path.name == "change_request.csv")
    # every change re-titled; the generator's repeated rows are superseded again
    assert hostile.counts.rows_read == n
    assert hostile.counts.updated == original.counts.inserted, hostile.counts
    assert hostile.counts.quarantined == original.counts.quarantined, hostile.counts
    build_run.build(data, run_id=run_id, as_of=AS_OF_TEXT)
