"""Shared fixtures: one small sample estate generated, ingested and built once per test session."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from changeboard.paths import ENV_DATA_DIR, DataDir
from tests.built_once import built_once, copy_data_dir
from tests.hostile.figures import (  # noqa: F401  (the hostile/crash figures, gathered from every worker)
    pytest_sessionfinish,
    pytest_terminal_summary,
    pytest_testnodedown,
)

REPO = Path(__file__).resolve().parent.parent
OUTPUT = REPO / "test-output"
AS_OF = datetime(2026, 11, 26, tzinfo=UTC)
AS_OF_TEXT = "2026-11-26 00:00:00"
SAMPLE_CHANGES = 1500


@pytest.fixture(scope="session")
def output_dir() -> Path:
    """Where tests leave artefacts for a person to look at (screenshots, PDF pages)."""
    OUTPUT.mkdir(exist_ok=True)
    return OUTPUT


def _build_sample(data: DataDir) -> None:
    from changeboard.devtools.generate import generate
    from changeboard.pipeline import build_run, ingest_run

    generate(data.samples, seed=7, changes=SAMPLE_CHANGES, as_of=AS_OF)
    run_id = ingest_run.new_run_id()
    report = ingest_run.ingest_paths(data, [data.samples], run_id=run_id)
    assert not report.failed, [(r.path, r.error) for r in report.failed]
    # the suite's one build with the dbt unit tests (production builds leave them out: D23)
    build_run.build(data, run_id=run_id, as_of=AS_OF_TEXT, unit_tests=True)


@pytest.fixture(scope="session")
def built_data(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> DataDir:
    """A data directory with a generated sample ingested and a published warehouse (as_of pinned),
    built once per run (each xdist worker has its own copy: tests.built_once)."""
    return built_once(tmp_path_factory, worker_id, "cbdata", _build_sample)


@pytest.fixture(scope="session")
def copy_built(built_data: DataDir) -> Callable[[Path], DataDir]:
    """Copy the suite's built sample to a folder, for a test that writes to it (ingest, build,
    submit) without touching the shared one: a real published version, cheaper than building again."""
    return functools.partial(copy_data_dir, built_data)


@pytest.fixture
def built_copy(copy_built: Callable[[Path], DataDir], tmp_path: Path) -> DataDir:
    """A copy of the suite's built sample for one test that writes to it."""
    return copy_built(tmp_path / "data")


@pytest.fixture
def app_env(built_data: DataDir) -> Iterator[DataDir]:
    """Point the app at the built sample for one test."""
    old = os.environ.get(ENV_DATA_DIR)
    os.environ[ENV_DATA_DIR] = str(built_data.root)
    try:
        yield built_data
    finally:
        if old is None:
            os.environ.pop(ENV_DATA_DIR, None)
        else:
            os.environ[ENV_DATA_DIR] = old
