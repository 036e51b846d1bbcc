"""A file loaded batch by batch ends exactly as the same file loaded whole, wherever the batches cut
through a key's rows, whether its new rows stream into one insert statement or go in batch by batch:
the same table, ledger counts and quarantined rows (property test)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb
import pytest
from changeboard.ingest import load
from changeboard.ingest.registry import ExportSettings
from changeboard.ingest.sources import servicenow_files
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from changeboard.paths import DataDir
from changeboard.pipeline import ingest_run
from changeboard.pipeline.ingest_run import ingest_paths

STREAM_LOAD = load.StreamLoad
HEADER = "sys_id,number,short_description,state,sys_updated_on\n"

# A few keys, a few versions, a few contents: repeats, ties and conflicts are frequent.
row = st.tuples(
    st.sampled_from(["k1", "k2", "k3", "k4", "k5"]),
    st.sampled_from(["Patch", "Reboot"]),
    st.sampled_from(["New", "Closed"]),
    st.sampled_from(["2026-01-01 10:00:00", "2026-01-02 10:00:00", "2026-01-03 10:00:00", "bad date"]),
)


def _write(folder: Path, rows: list[tuple[str, str, str, str]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / "change_request.csv"
    lines = [f"{k},CHG-{k},{title},{state},{at}\n" for k, title, state, at in rows]
    p.write_text(HEADER + "".join(lines), encoding="utf-8")
    return p


def _state(data: DataDir) -> dict[str, list[tuple[object, ...]]]:
    con = duckdb.connect(str(data.ingest_db), read_only=True)
    try:
        return {
            "table": con.execute(
                "select source_id, title, state_raw, updated_at, _source_file, _source_row, _row_hash "
                "from raw.change order by source_id"
            ).fetchall(),
            "ledger": con.execute(
                "select file_name, rows_read, inserted, updated, unchanged, superseded, quarantined "
                "from meta.ingest_run order by run_id"
            ).fetchall(),
            "quarantine": con.execute(
                "select run_id, source_row, record_key, reason from meta.quarantine order by all"
            ).fetchall(),
        }
    finally:
        con.close()


def _load(
    root: Path, files: list[Path], batch_rows: int, stage_rows: int | None, monkeypatch: pytest.MonkeyPatch
) -> dict:
    monkeypatch.setattr(servicenow_files, "CSV_BATCH_ROWS", batch_rows)
    monkeypatch.setattr(load, "STAGE_ROWS", stage_rows)
    data = DataDir(root).ensure()
    for f in files:
        # the bad rows drawn here are far above the 1 % a file may lose: the threshold is lifted
        report = ingest_paths(data, [f], force=True, settings=ExportSettings(extra={"max_quarantine": 100}))
        assert not report.failed, report.failed[0].error
    return _state(data)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    loaded=st.lists(row, max_size=6),
    file=st.lists(row, min_size=1, max_size=14),
    batch_rows=st.integers(min_value=1, max_value=5),
    # rows inserted at a time: None waits for a whole row group (so the file's FRESH rows wait to the
    # end); small numbers insert them as they come (so a key coming again takes rows out of the table)
    stage_rows=st.sampled_from([None, 1, 2, 3]),
    # the file's new rows in one streamed insert statement (a single-entity reading), or by batch
    streamed=st.booleans(),
)
def test_batches_load_what_the_whole_file_loads(
    loaded: list[tuple[str, str, str, str]],
    file: list[tuple[str, str, str, str]],
    batch_rows: int,
    stage_rows: int | None,
    streamed: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(load, "StreamLoad", STREAM_LOAD if streamed else load.EntityLoad)
    monkeypatch.setattr(ingest_run, "STREAM_MIN_BYTES", 0)  # small files stream too
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        files = [_write(root / "base", loaded)] if loaded else []
        files.append(_write(root / "new", file))
        whole = _load(root / "whole", files, 1_000_000, None, monkeypatch)
        batched = _load(root / "batched", files, batch_rows, stage_rows, monkeypatch)
        assert batched == whole
        # and the counts balance (the loader checks it too, before it commits)
        for _, read, *counts in batched["ledger"]:
            assert read == sum(counts)


def test_a_read_error_in_the_middle_of_a_streamed_file_loads_nothing_of_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file's new rows stream into one insert statement while it is read: an error of the reading
    at its third batch stops that statement and rolls the file back; the next file loads."""
    from changeboard.ingest.readers import ReadError

    monkeypatch.setattr(servicenow_files, "CSV_BATCH_ROWS", 2)
    monkeypatch.setattr(ingest_run, "STREAM_MIN_BYTES", 0)
    started = []
    monkeypatch.setattr(load.StreamLoad, "_insert", _spy(load.StreamLoad._insert, started))
    rows = [(f"k{i}", "Patch", "New", "2026-01-01 10:00:00") for i in range(9)]
    bad = _write(tmp_path / "bad", rows).rename(tmp_path / "bad" / "change_request_2.csv")
    good = _write(tmp_path / "good", rows[:3])
    mapped = servicenow_files.Collector.map
    calls = {"n": 0}

    def failing(self: servicenow_files.Collector, text: object) -> object:
        calls["n"] += 1
        if calls["n"] == 3 and self.path == bad:
            raise ReadError(f"{bad}: row 6: the disk went away")
        return mapped(self, text)  # type: ignore[arg-type]

    monkeypatch.setattr(servicenow_files.Collector, "map", failing)
    data = DataDir(tmp_path / "data").ensure()
    report = ingest_paths(data, [bad, good])
    first, second = report.results
    assert (first.status, first.error) == ("failed", f"{bad}: row 6: the disk went away")
    assert first.counts.inserted == 0
    assert second.status == "succeeded"
    assert second.counts.inserted == 3
    state = _state(data)
    assert [r[4] for r in state["table"]] == ["change_request.csv"] * 3
    assert [r[0] for r in state["table"]] == ["k0", "k1", "k2"]
    assert state["ledger"][0][1:] == (0, 0, 0, 0, 0, 0)  # rolled back: the ledger claims nothing
    assert len(started) == 2  # both files streamed: the first was stopped mid-statement


def _spy(fn, calls: list):  # type: ignore[no-untyped-def]
    def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(args)
        return fn(*args, **kwargs)

    return wrapper
