"""The loader routes rows: keys once in the file and not loaded are inserted straight from the frame,
keys repeated in the file are ranked, keys already loaded are classified. Whatever the route, the
counts and the table are the ones written out here by hand."""

from __future__ import annotations

from pathlib import Path

import pytest
from changeboard.ingest import load
from changeboard.ingest.sources import servicenow_files

from .conftest import Ingest, Query

HEADER = "sys_id,number,short_description,state,type,sys_updated_on\n"

# Loaded first (source rows 2..9): every key once, none loaded, so all eight are inserted.
BASE = [
    "a1,CHG1,Patch,New,normal,2026-01-01 10:00:00",
    "a2,CHG2,Patch,Closed,normal,2026-01-05 10:00:00",
    "a3,CHG3,Patch,New,normal,2026-01-01 10:00:00",
    "a4,CHG4,Patch,New,normal,2026-01-01 10:00:00",
    "a5,CHG5,Patch,New,normal,2026-01-01 10:00:00",
    "a6,CHG6,Patch,Closed,normal,2026-01-10 10:00:00",
    "a7,CHG7,Patch,New,normal,2026-01-01 10:00:00",
    "a8,CHG8,Patch,New,normal,2026-01-01 10:00:00",
]

# Source row (spreadsheet numbering, the header is row 1) -> the row and what becomes of it.
MIXED = [
    "u1,CHG11,Fresh one,New,normal,2026-01-01 10:00:00",  # 2: new, once -> inserted
    "a1,CHG1,Patch,Closed,normal,2026-01-02 10:00:00",  # 3: loaded, newer -> updated
    "r1,CHG21,Repeat,New,normal,2026-01-01 10:00:00",  # 4: r1's older copy -> superseded
    "a2,CHG2,Patch,New,normal,2026-01-04 10:00:00",  # 5: loaded, older -> superseded
    "a3,CHG3,Patch,New,normal,2026-01-01 10:00:00",  # 6: loaded, identical -> unchanged
    "a4,CHG4,Patch edited,New,normal,2026-01-01 10:00:00",  # 7: loaded, same version, other content -> updated (the later load wins)
    "r1,CHG21,Repeat,Closed,normal,2026-01-03 10:00:00",  # 8: r1's newest -> inserted
    "r2,CHG22,Dup,New,normal,2026-01-01 10:00:00",  # 9: exact duplicate, first -> superseded
    "r2,CHG22,Dup,New,normal,2026-01-01 10:00:00",  # 10: exact duplicate, last -> inserted
    "r3,CHG23,Tie,New,normal,2025-12-31 10:00:00",  # 11: r3's older copy -> superseded
    "r3,CHG23,Tie A,New,normal,2026-01-01 10:00:00",  # 12: tie, other content, not last -> superseded
    "r3,CHG23,Tie B,New,normal,2026-01-01 10:00:00",  # 13: tie, other content, last in file -> inserted
    "a5,CHG5,Patch,Assess,normal,2026-01-02 10:00:00",  # 14: a5 repeated, older copy -> superseded
    "a5,CHG5,Patch,Closed,normal,2026-01-03 10:00:00",  # 15: a5's newest, newer than loaded -> updated
    "a6,CHG6,Patch,New,normal,2026-01-02 10:00:00",  # 16: a6 repeated, older copy -> superseded
    "a6,CHG6,Patch,Assess,normal,2026-01-03 10:00:00",  # 17: a6's newest, older than loaded -> superseded
    "u2,CHG12,Bad date,New,normal,not a date",  # 18: cannot be typed -> quarantined
    "u3,CHG13,Fresh two,New,normal,2026-01-01 10:00:00",  # 19: new, once -> inserted
    "a7,CHG7,Patch,New,normal,2026-01-01 10:00:00",  # 20: a7 twice: first copy -> superseded
    "a7,CHG7,Patch,New,normal,2026-01-01 10:00:00",  # 21: a7's last copy, identical to loaded -> unchanged
    "a8,CHG8,Other,New,normal,2026-01-01 10:00:00",  # 22: a8 twice: first copy -> superseded
    "a8,CHG8,Other,New,normal,2026-01-01 10:00:00",  # 23: a8's last copy, same version as loaded, other content -> updated
]

# (rows_read, inserted, updated, unchanged, superseded, quarantined)
# Ties (same key and updated_at, other content) keep the last row of the file, and a file's row
# replaces a loaded record of the same updated_at (D30): nothing is quarantined for a tie.
MIXED_COUNTS = (22, 5, 4, 2, 10, 1)
MIXED_AGAIN_COUNTS = (22, 0, 0, 11, 10, 1)

# key -> (title, state, file the row came from, its source row)
TABLE_AFTER_MIXED = [
    ("a1", "Patch", "Closed", "mixed", 3),
    ("a2", "Patch", "Closed", "base", 3),
    ("a3", "Patch", "New", "base", 4),
    ("a4", "Patch edited", "New", "mixed", 7),
    ("a5", "Patch", "Closed", "mixed", 15),
    ("a6", "Patch", "Closed", "base", 7),
    ("a7", "Patch", "New", "base", 8),
    ("a8", "Other", "New", "mixed", 23),
    ("r1", "Repeat", "Closed", "mixed", 8),
    ("r2", "Dup", "New", "mixed", 10),
    ("r3", "Tie B", "New", "mixed", 13),
    ("u1", "Fresh one", "New", "mixed", 2),
    ("u3", "Fresh two", "New", "mixed", 19),
]

QUARANTINED_MIXED = [(18, "sys_updated_on")]


def _write(folder: Path, rows: list[str], name: str = "change_request.csv") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / name
    p.write_text(HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")
    return p


def _counts(result: load.FileResult) -> tuple[int, ...]:
    c = result.counts
    return (c.rows_read, c.inserted, c.updated, c.unchanged, c.superseded, c.quarantined)


def _table(query: Query) -> list[tuple[object, ...]]:
    return query(
        "select source_id, title, state_raw, regexp_extract(_source_file, '^(base|mixed)'), _source_row "
        "from raw.change order by source_id"
    )


def _ledger(query: Query, run_id: int | None) -> tuple[object, ...]:
    return query(
        "select rows_read, inserted, updated, unchanged, superseded, quarantined from meta.ingest_run "
        f"where run_id = {int(run_id or 0)}"
    )[0]


@pytest.fixture(
    params=[(100_000, None), (4, None), (100_000, 3), (2, 5)],
    ids=["one-slice", "slices-of-4", "batches-of-3", "batches-of-5-slices-of-2"],
)
def stage_rows(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Run each test with the whole file in one slice, with slices cutting through keys, and with the
    file read in batches that cut through keys (a key's rows in two batches: the first one loaded,
    then taken back when the key comes again)."""
    stage, batch = request.param
    monkeypatch.setattr(load, "STAGE_ROWS", stage)
    if batch is not None:
        monkeypatch.setattr(servicenow_files, "CSV_BATCH_ROWS", batch)
    return int(stage)


def _files(tmp_path: Path) -> tuple[Path, Path]:
    # The file name tells the two apart in _source_file.
    base = _write(tmp_path / "base", BASE, "base_change_request.csv")
    mixed = _write(tmp_path / "mixed", MIXED, "mixed_change_request.csv")
    return base, mixed


def test_mixed_file_counts_and_table(tmp_path: Path, ingest: Ingest, query: Query, stage_rows: int) -> None:
    base, mixed = _files(tmp_path)
    first = ingest([base]).results[0]
    assert first.status == "succeeded", first.error
    assert _counts(first) == (8, 8, 0, 0, 0, 0)

    result = ingest([mixed]).results[0]
    assert result.status == "succeeded", result.error
    assert _counts(result) == MIXED_COUNTS
    assert _ledger(query, result.run_id) == MIXED_COUNTS
    assert _table(query) == TABLE_AFTER_MIXED
    quarantined = query(
        f"select source_row, reason from meta.quarantine where run_id = {result.run_id} order by source_row"
    )
    assert [row for row, _ in quarantined] == [row for row, _ in QUARANTINED_MIXED]
    for (_, reason), (_, expected) in zip(quarantined, QUARANTINED_MIXED, strict=True):
        assert expected in reason
    # Every loaded row carries the hash of its content, and no key is loaded twice.
    assert query("select count(*), count(distinct source_id), count(_row_hash) from raw.change") == [
        (13, 13, 13)
    ]
    # The ties are named in a warning, with the rule that settled them.
    ties = [w for w in result.warnings if "same updated_at and different content" in w]
    assert len(ties) == 1, result.warnings
    assert "r3 (rows 12, 13: row 13 kept)" in ties[0], ties
    assert any("a4" in w and "the later load wins" in w for w in result.warnings), result.warnings


def test_identical_reingest_changes_nothing(
    tmp_path: Path, ingest: Ingest, query: Query, stage_rows: int
) -> None:
    base, mixed = _files(tmp_path)
    ingest([base])
    ingest([mixed])
    before = query("select * from raw.change order by source_id")
    again = ingest([mixed], force=True).results[0]
    assert again.status == "succeeded", again.error
    assert _counts(again) == MIXED_AGAIN_COUNTS
    assert _ledger(query, again.run_id) == MIXED_AGAIN_COUNTS
    assert query("select * from raw.change order by source_id") == before


def test_unique_keys_partly_loaded(tmp_path: Path, ingest: Ingest, query: Query, stage_rows: int) -> None:
    """No key repeats in the file, some are loaded: only those are classified, the rest inserted."""
    base, _ = _files(tmp_path)
    ingest([base])
    f = _write(
        tmp_path / "unique",
        [
            "n1,CHG31,New one,New,normal,2026-01-01 10:00:00",  # 2: new -> inserted
            "a1,CHG1,Patch,Closed,normal,2026-01-02 10:00:00",  # 3: newer -> updated
            "a2,CHG2,Patch,Closed,normal,2026-01-05 10:00:00",  # 4: identical -> unchanged
            "a3,CHG3,Patch,New,normal,2025-12-01 10:00:00",  # 5: older -> superseded
            "a4,CHG4,Patch edited,New,normal,2026-01-01 10:00:00",  # 6: same version, other content -> updated
            "n2,CHG32,New two,New,normal,2026-01-01 10:00:00",  # 7: new -> inserted
        ],
    )
    result = ingest([f]).results[0]
    assert result.status == "succeeded", result.error
    assert _counts(result) == (6, 2, 2, 1, 1, 0)
    assert query("select source_id, title, state_raw, _source_row from raw.change order by source_id") == [
        ("a1", "Patch", "Closed", 3),
        ("a2", "Patch", "Closed", 3),
        ("a3", "Patch", "New", 4),
        ("a4", "Patch edited", "New", 6),
        ("a5", "Patch", "New", 6),
        ("a6", "Patch", "Closed", 7),
        ("a7", "Patch", "New", 8),
        ("a8", "Patch", "New", 9),
        ("n1", "New one", "New", 2),
        ("n2", "New two", "New", 7),
    ]
