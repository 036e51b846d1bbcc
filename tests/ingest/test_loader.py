"""The loader's guarantees: idempotence, latest version wins, conflicts quarantined, the balance,
unreadable files fail alone, and the export-cap warning."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from .conftest import Ingest, Query

HEADER = "sys_id,number,short_description,state,type,sys_updated_on\n"


def _write(folder: Path, name: str, rows: list[str], header: str = HEADER) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / name
    p.write_text(header + "".join(r + "\n" for r in rows), encoding="utf-8")
    return p


def _balanced(report) -> None:  # type: ignore[no-untyped-def]
    for r in report.results:
        c = r.counts
        assert c.rows_read == c.inserted + c.updated + c.unchanged + c.superseded + c.quarantined, r


def test_rerun_of_the_same_file_changes_nothing(tmp_path: Path, ingest: Ingest, query: Query) -> None:
    f = _write(tmp_path / "in", "change_request.csv", ["a1,CHG1,Patch,New,normal,2026-01-01 10:00:00"])
    first = ingest([f])
    assert first.results[0].counts.inserted == 1
    again = ingest([f])
    assert again.results[0].status == "skipped_duplicate"
    forced = ingest([f], force=True)
    c = forced.results[0].counts
    assert (c.rows_read, c.unchanged, c.inserted, c.updated) == (1, 1, 0, 0)
    assert query("select count(*) from raw.change") == [(1,)]


def test_duplicates_are_told_whether_hashed_before_or_while_reading(
    tmp_path: Path, ingest: Ingest, query: Query, data, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file of a size loaded before is hashed first; any other is hashed while it is read. Either
    way the same content is skipped and other content of the same size loads."""
    from changeboard.pipeline import ingest_run

    f = _write(tmp_path / "a", "change_request.csv", ["a1,CHG1,Patch,New,normal,2026-01-01 10:00:00"])
    assert ingest([f]).results[0].counts.inserted == 1
    reads: list[Path] = []
    open_file = ingest_run.open_file
    monkeypatch.setattr(ingest_run, "open_file", lambda p, s=None: reads.append(p) or open_file(p, s))
    # Same size and content: hashed first, skipped unread.
    assert ingest([f]).results[0].status == "skipped_duplicate"
    assert reads == []
    # Same size, other content (a newer export of one character more recent): read and loaded.
    g = _write(tmp_path / "b", "change_request.csv", ["a1,CHG1,Patch,New,normal,2026-01-01 10:00:01"])
    assert g.stat().st_size == f.stat().st_size
    assert ingest([g]).results[0].counts.updated == 1
    assert reads == [g]
    # A ledger without sizes (written before they were kept): hashed while read, still skipped.
    con = duckdb.connect(str(data.ingest_db))
    con.execute("update meta.ingest_run set file_bytes = null")
    con.close()
    again = ingest([g]).results[0]
    assert again.status == "skipped_duplicate"
    assert reads == [g, g]
    assert query("select count(*), max(updated_at) from raw.change") == [(1, datetime(2026, 1, 1, 10, 0, 1))]
    assert query("select file_bytes from meta.ingest_run order by run_id desc limit 1") == [
        (g.stat().st_size,)
    ]


def test_a_failed_landing_copy_commits_nothing(
    tmp_path: Path, ingest: Ingest, query: Query, data, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The landing copy is written while the rows load: when it fails, the file's rows are not
    committed and the ledger says why; a copy cut by a crash (``.part``) is removed by the next run."""
    from changeboard.ingest import load

    f = _write(tmp_path / "a", "change_request.csv", ["a1,CHG1,Patch,New,normal,2026-01-01 10:00:00"])

    def no_space(*args: object) -> Path:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(load, "land", no_space)
    r = ingest([f]).results[0]
    assert r.status == "failed"
    assert "No space left on device" in (r.error or "")
    assert query("select count(*) from raw.change") == [(0,)]
    assert query("select status, rows_read, inserted from meta.ingest_run") == [("failed", 1, 0)]
    monkeypatch.undo()
    stray = data.landing / "servicenow" / "0123.csv.part"
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_text("cut by a crash")
    r = ingest([f]).results[0]
    assert r.status == "succeeded"
    assert r.counts.inserted == 1
    assert not stray.exists()
    assert Path(
        query("select landed_path from meta.ingest_run where status = 'succeeded'")[0][0]
    ).read_bytes() == (f.read_bytes())


def test_rows_hashed_by_another_scheme_are_rehashed_once(
    tmp_path: Path, ingest: Ingest, query: Query, data
) -> None:
    """An ingest database whose row hashes were written by another scheme (an older changeboard, or
    another DuckDB release whose hash() differs) is re-hashed when it is opened: the same export
    again is unchanged, never a conflict, and a changed row still updates."""
    from changeboard.ingest import load

    rows = ["a1,CHG1,Patch,New,normal,2026-01-01 10:00:00", "a2,CHG2,Other,New,normal,2026-01-01 10:00:00"]
    f = _write(tmp_path / "a", "change_request.csv", rows)
    assert ingest([f]).results[0].counts.inserted == 2
    con = duckdb.connect(str(data.ingest_db))
    con.execute("update raw.change set _row_hash = md5(source_id)")
    con.execute("update meta.setting set value = 'md5-text/1' where name = 'row_hash_scheme'")
    con.close()
    again = ingest([f], force=True).results[0]
    assert (again.counts.unchanged, again.counts.quarantined, again.counts.updated) == (2, 0, 0)
    assert query("select value from meta.setting where name = 'row_hash_scheme'") == [(load.ROW_HASH_SCHEME,)]
    g = _write(
        tmp_path / "b",
        "change_request.csv",
        [rows[0], rows[1].replace("Other", "Renamed").replace(":00:00", ":00:01")],
    )
    newer = ingest([g]).results[0]
    assert (newer.counts.unchanged, newer.counts.updated) == (1, 1)
    assert query("select title from raw.change order by source_id") == [("Patch",), ("Renamed",)]


def test_newer_export_updates_and_older_is_superseded(tmp_path: Path, ingest: Ingest, query: Query) -> None:
    old = _write(tmp_path / "a", "change_request.csv", ["a1,CHG1,Patch,New,normal,2026-01-01 10:00:00"])
    new = _write(tmp_path / "b", "change_request.csv", ["a1,CHG1,Patch,Closed,normal,2026-01-02 10:00:00"])
    ingest([old])
    r = ingest([new]).results[0]
    assert r.counts.updated == 1
    assert query("select state_raw from raw.change") == [("Closed",)]
    r = ingest([old], force=True).results[0]
    assert r.counts.superseded == 1
    assert query("select state_raw from raw.change") == [("Closed",)]


def test_same_version_with_different_content_keeps_the_last_row_and_warns(
    tmp_path: Path, ingest: Ingest, query: Query
) -> None:
    """Issue 17 point 2 (D30): a tie on the version with other content keeps exactly one row, the
    last in the file, and says so; before, both rows were quarantined and the record vanished."""
    f = _write(
        tmp_path / "in",
        "change_request.csv",
        [
            "a1,CHG1,Patch,New,normal,2026-01-01 10:00:00",
            "a1,CHG1,Patch,Closed,normal,2026-01-01 10:00:00",
            "a2,CHG2,Other,New,normal,2026-01-01 10:00:00",
        ],
    )
    report = ingest([f], strict=True)
    _balanced(report)
    c = report.results[0].counts
    assert (c.rows_read, c.inserted, c.superseded, c.quarantined) == (3, 2, 1, 0)
    assert query("select number, state_raw, _source_row from raw.change order by 1") == [
        ("CHG1", "Closed", 3),
        ("CHG2", "New", 4),
    ]
    assert query("select count(*) from meta.quarantine") == [(0,)]
    tie = [w for w in report.results[0].warnings if "same updated_at and different content" in w]
    assert len(tie) == 1, report.results[0].warnings
    assert "a1 (rows 2, 3: row 3 kept)" in tie[0], tie
    # Against the loaded table: same version, other content -> the later load replaces it, and warns.
    g = _write(
        tmp_path / "in2", "change_request.csv", ["a2,CHG2,Changed title,New,normal,2026-01-01 10:00:00"]
    )
    r = ingest([g], strict=True).results[0]
    assert (r.counts.updated, r.counts.quarantined) == (1, 0)
    assert query("select title from raw.change where number = 'CHG2'") == [("Changed title",)]
    assert any("the later load wins" in w for w in r.warnings), r.warnings


def test_balance_holds_with_bad_rows(tmp_path: Path, ingest: Ingest, query: Query) -> None:
    f = _write(
        tmp_path / "in",
        "change_request.csv",
        [
            "a1,CHG1,Ok,New,normal,2026-01-01 10:00:00",
            "a2,CHG2,Bad date,New,normal,not a date",
            ",,,,,2026-01-01 10:00:00",
        ],
    )
    report = ingest([f])
    _balanced(report)
    c = report.results[0].counts
    assert (c.rows_read, c.inserted, c.quarantined) == (3, 1, 2)
    rows = query("select file_name, source_row, reason from meta.quarantine order by source_row")
    assert rows[0][:2] == ("change_request.csv", 3)
    assert "sys_updated_on" in rows[0][2]
    assert "not a date" in rows[0][2]
    run = query("select rows_read, inserted, quarantined, status from meta.ingest_run")
    assert run == [(3, 1, 2, "succeeded")]


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("garbage.csv", b"\x00\x01\x02binary\x00junk" * 20, "binary content"),
        ("empty.csv", b"", "empty"),
        ("header_only.csv", b"sys_id,number,short_description,sys_updated_on\n", "no column|no rows|header"),
        ("noise.json", b'{"hello": "world"}', "cannot tell|no record"),
        ("broken.xlsx", b"PK\x03\x04 definitely not a zip", "XLSX"),
    ],
)
def test_unreadable_file_fails_alone_with_its_name(
    tmp_path: Path, ingest: Ingest, query: Query, name: str, content: bytes, expected: str
) -> None:
    import re

    folder = tmp_path / "in"
    good = _write(folder, "change_request.csv", ["a1,CHG1,Patch,New,normal,2026-01-01 10:00:00"])
    bad = folder / name
    bad.write_bytes(content)
    report = ingest([folder])
    by_name = {r.path.name: r for r in report.results}
    assert by_name[good.name].status == "succeeded"
    failed = by_name[name]
    if name == "header_only.csv":
        # A header-only export reads fine and loads nothing: zero rows, nothing lost.
        assert failed.status in ("succeeded", "failed")
        assert failed.counts.rows_read == 0
    else:
        assert failed.status == "failed"
        assert str(bad) in (failed.error or "")
        assert re.search(expected, failed.error or "", re.IGNORECASE), failed.error
    assert query("select count(*) from raw.change") == [(1,)]


def test_ten_thousand_rows_warn_about_the_export_cap(tmp_path: Path, ingest: Ingest) -> None:
    rows = [f"s{i},CHG{i:07d},T,New,normal,2026-01-01 10:00:00" for i in range(10_000)]
    f = _write(tmp_path / "in", "change_request.csv", rows)
    r = ingest([f]).results[0]
    assert r.counts.inserted == 10_000
    assert any(w.startswith("WARNING: exactly 10,000 rows") for w in r.warnings)
    g = _write(tmp_path / "in2", "change_request.csv", rows[:9_999])
    assert not any("10,000" in w for w in ingest([g]).results[0].warnings)
