"""Timing hooks (changeboard.timing): the code marks its phases, a listener hears them; the benchmark
measures through them, never by replacing production functions. And the CLI keeps the benchmark and
the sample generator off its import path."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path

import pytest
from changeboard.ingest.base import ExportSettings

from changeboard import timing
from changeboard.paths import DataDir
from changeboard.pipeline import ingest_run

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def test_a_phase_is_heard_only_by_listeners_registered_while_it_ends() -> None:
    heard: list[tuple[str, float, dict[str, object]]] = []

    def listener(name: str, seconds: float, details: Mapping[str, object]) -> None:
        heard.append((name, seconds, dict(details)))

    with timing.phase("before"):
        pass
    with timing.listening(listener):
        with timing.phase("inside", sql="select 1"):
            pass

        def on_a_thread() -> None:
            with timing.phase("thread"):
                pass

        worker = threading.Thread(target=on_a_thread)
        worker.start()
        worker.join()
    with timing.phase("after"):
        pass
    assert [h[0] for h in heard] == ["inside", "thread"]
    assert heard[0][2] == {"sql": "select 1"}
    assert all(seconds >= 0 for _name, seconds, _d in heard)


def test_a_phase_that_raises_is_still_heard_and_the_error_goes_on() -> None:
    heard: list[str] = []
    with (
        timing.listening(lambda name, _s, _d: heard.append(name)),
        pytest.raises(ValueError, match="boom"),
        timing.phase("failing"),
    ):
        raise ValueError("boom")
    assert heard == ["failing"]


def test_ingesting_a_file_marks_hash_open_land_and_load(tmp_path: Path) -> None:
    heard: list[str] = []
    lock = threading.Lock()

    def listener(name: str, _seconds: float, _details: Mapping[str, object]) -> None:
        with lock:
            heard.append(name)

    data = DataDir(tmp_path / "data").ensure()
    with timing.listening(listener):
        # the fixture holds one bad row on purpose: its loss is accepted here (the 1 % threshold would refuse it)
        report = ingest_run.ingest_paths(
            data,
            [FIXTURES / "delivery" / "deployments.csv"],
            settings=ExportSettings(extra={"max_quarantine": 100}),
        )
    assert not report.failed, [(r.path, r.error) for r in report.failed]
    assert sorted(heard) == ["ingest.hash", "ingest.land", "ingest.load", "ingest.open"]


def test_the_cli_does_not_import_the_benchmark_or_the_generator() -> None:
    code = (
        "import sys, changeboard.cli; "
        "print(sorted(m for m in sys.modules if m.startswith('changeboard.devtools')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
