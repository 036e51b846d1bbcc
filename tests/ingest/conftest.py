"""Shared fixtures of the connector tests: a fresh data directory and read-only queries on it."""

from __future__ import annotations

import gzip
import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from changeboard.ingest.registry import ExportSettings

from changeboard.paths import DataDir
from changeboard.pipeline.ingest_run import IngestReport, ingest_paths

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"

Ingest = Callable[..., IngestReport]
Query = Callable[[str], list[tuple[object, ...]]]


@pytest.fixture
def data(tmp_path: Path) -> DataDir:
    return DataDir(tmp_path / "data").ensure()


@pytest.fixture
def ingest(data: DataDir) -> Ingest:
    def run(
        paths: list[Path], settings: ExportSettings | None = None, *, strict: bool = False, **kw: object
    ) -> IngestReport:
        # Most connector tests load a small fixture with a bad row or two on purpose (far above the 1 %
        # a file may lose): they check what is quarantined, so the threshold is lifted unless a test
        # asks for the product's default (strict=True; tests/ingest/test_no_silent_loss.py).
        if not strict:
            settings = settings or ExportSettings()
            settings.extra.setdefault("max_quarantine", 100)
        return ingest_paths(data, paths, settings=settings, **kw)  # type: ignore[arg-type]

    return run


@pytest.fixture
def query(data: DataDir) -> Query:
    def run(sql: str) -> list[tuple[object, ...]]:
        con = duckdb.connect(str(data.ingest_db), read_only=True)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    return run


def copy_fixture(src: Path, dest_dir: Path, name: str | None = None) -> Path:
    """A fixture (or a gunzipped dataset file) copied into a test folder."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    if src.suffix == ".gz":
        out = dest_dir / (name or src.name.removesuffix(".gz"))
        with gzip.open(src, "rb") as f, out.open("wb") as g:
            shutil.copyfileobj(f, g)
        return out
    out = dest_dir / (name or src.name)
    shutil.copyfile(src, out)
    return out
