"""Issue 17: no silent loss. A file that loses more than its threshold of rows is refused with the
column, the value and the fix; placeholders are proposed and declared (--null-values / null_values);
gzip exports load; the ledger counts the file's rows beside the records; a changed mapping replaces
what the old one loaded."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import duckdb
import pytest
from changeboard.ingest.dry_run import dry_run_report
from changeboard.ingest.readers import ReadError, gunzip_to
from changeboard.ingest.registry import ExportSettings
from typer.testing import CliRunner

from changeboard.cli import app

from .conftest import Ingest, Query

# An audit-style ServiceNow incident export that writes '?' for no value (as the UCI log does): 3
# incidents in 6 event rows; '?' in a date column of 2 rows, and in the CI / change references.
HEADER = "number,incident_state,sys_mod_count,opened_at,sys_updated_at,cmdb_ci,caused_by,rfc,resolved_at,closed_at\n"
ROWS = [
    "INC001,New,0,2026-01-01 08:00:00,2026-01-01 08:05:00,?,?,?,?,?",
    "INC001,Resolved,1,2026-01-01 08:00:00,2026-01-01 10:00:00,srv-01,CHG0001,?,2026-01-01 10:00:00,?",
    "INC001,Closed,2,2026-01-01 08:00:00,2026-01-02 10:00:00,srv-01,CHG0001,?,2026-01-01 10:00:00,2026-01-02 10:00:00",
    "INC002,New,0,2026-01-03 08:00:00,2026-01-03 08:05:00,?,?,?,?,?",
    "INC002,Closed,1,2026-01-03 08:00:00,2026-01-03 12:00:00,?,?,CHG0002,2026-01-03 11:00:00,2026-01-03 12:00:00",
    "INC003,Closed,0,2026-01-04 08:00:00,2026-01-04 12:00:00,?,?,?,2026-01-04 11:00:00,2026-01-04 12:00:00",
]

# The same incidents with every date given: '?' only in the reference columns.
REFS_ONLY = [
    "INC001,Closed,2,2026-01-01 08:00:00,2026-01-02 10:00:00,srv-01,CHG0001,?,2026-01-01 10:00:00,2026-01-02 10:00:00",
    "INC002,Closed,1,2026-01-03 08:00:00,2026-01-03 12:00:00,?,?,CHG0002,2026-01-03 11:00:00,2026-01-03 12:00:00",
    "INC003,Closed,0,2026-01-04 08:00:00,2026-01-04 12:00:00,-,?,?,2026-01-04 11:00:00,2026-01-04 12:00:00",
]


def _write(
    folder: Path, rows: list[str] = ROWS, name: str = "incident.csv", manifest: str | None = None
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")
    if manifest is not None:
        (folder / "_export.toml").write_text(manifest, encoding="utf-8")
    return folder / name


def test_a_file_losing_more_than_its_threshold_is_refused_with_the_fix(
    tmp_path: Path, ingest: Ingest, query: Query
) -> None:
    f = _write(tmp_path / "in")
    r = ingest([f], strict=True).results[0]
    # the '?' of resolved_at / closed_at cannot be typed: 3 of 6 rows, far above 1 %
    assert r.status == "rejected"
    assert (r.file_rows, r.file_rows_quarantined) == (6, 3)
    assert "3 of the file's 6 rows" in r.error
    assert "nothing of the file was loaded" in r.error
    assert "column resolved_at = '?'" in r.error
    assert "--null-values '?'" in r.error
    assert 'null_values = ["?"]' in r.error
    assert query("select count(*) from raw.incident") == [(0,)]
    assert query("select status, file_rows, file_rows_quarantined from meta.ingest_run") == [
        ("rejected", 6, 3)
    ]
    # the refused file's accounting holds for its rows and its records (point 8): what was neither
    # loaded nor quarantined is "not loaded"
    rows, bad, not_loaded_rows, records, ins, upd, unch, sup, q, not_loaded = query(
        "select file_rows, file_rows_quarantined, file_rows_not_loaded, rows_read, inserted, updated, "
        "unchanged, superseded, quarantined, not_loaded from meta.ingest_run"
    )[0]
    assert (rows, bad, not_loaded_rows) == (6, 3, 3)
    assert (ins, upd, unch, sup) == (0, 0, 0, 0)
    assert q > 0
    assert not_loaded > 0
    assert records == q + not_loaded
    assert r.counts.balanced
    # The fix the summary names loads every incident; '?' is no CI and no change reference.
    fixed = ingest([f], ExportSettings(extra={"null_values": ["?"]}), strict=True).results[0]
    assert fixed.status == "succeeded", fixed.error
    assert query("select number, ci_ref, caused_by_change_ref from raw.incident order by 1") == [
        ("INC001", "srv-01", "CHG0001"),
        ("INC002", None, None),
        ("INC003", None, None),
    ]
    assert query("select count(*) from raw.incident where fixed_by_change_ref = '?'") == [(0,)]


def test_threshold_is_configurable_in_the_manifest(tmp_path: Path, ingest: Ingest, query: Query) -> None:
    f = _write(tmp_path / "in", manifest="max_quarantine = 60\n")
    r = ingest([f], strict=True).results[0]
    assert r.status == "succeeded", r.error
    assert r.counts.quarantined == 3
    assert query("select count(distinct number) from raw.incident") == [(3,)]


def test_placeholder_in_references_only_is_no_reference(tmp_path: Path, ingest: Ingest, query: Query) -> None:
    """'?' (or '-') where only text columns hold it: nothing fails, but a reference without a letter
    or digit names nothing: it is no CI / change reference (before: stored as CI '?')."""
    f = _write(tmp_path / "in", REFS_ONLY)
    r = ingest([f], strict=True).results[0]
    assert r.status == "succeeded", r.error
    assert query(
        "select count(*) from raw.incident where ci_ref = '?' or caused_by_change_ref = '?' or fixed_by_change_ref = '?'"
    ) == [(0,)]
    assert any("cmdb_ci -> ci_ref hold no letter or digit" in w for w in r.warnings), r.warnings


def test_cli_null_values_option_and_exit_code(tmp_path: Path) -> None:
    f = _write(tmp_path / "in")
    data_dir = str(tmp_path / "data")
    runner = CliRunner()
    refused = runner.invoke(app, ["ingest", str(f), "--data-dir", data_dir])
    assert refused.exit_code == 3, refused.output
    assert "refused" in refused.output
    assert "--null-values '?'" in refused.output
    loaded = runner.invoke(app, ["ingest", str(f), "--data-dir", data_dir, "--null-values", "?"])
    assert loaded.exit_code == 0, loaded.output
    status = runner.invoke(app, ["status", "--data-dir", data_dir])
    assert status.exit_code == 0, status.output
    assert "file rows" in status.output
    assert "records" in status.output


def test_dry_run_proposes_the_placeholder(tmp_path: Path) -> None:
    f = _write(tmp_path / "in")
    text, ok = dry_run_report([f], None)
    assert ok
    assert "proposed: '?'" in text
    assert "--null-values '?'" in text


def test_mapping_reads_null_values_of_the_manifest_and_the_command_line(
    tmp_path: Path, ingest: Ingest, query: Query
) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "changes.csv").write_text(
        "ref,title,end,ci,updated\nC-1,Patch,N/A,ci-a,2026-02-04 08:00\nC-2,Other,2026-02-05 10:00,ci-b,N/A\n",
        encoding="utf-8",
    )
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        'entity = "change"\n[source]\nsystem = "tool"\n[columns]\nsource_id = "ref"\nnumber = "ref"\n'
        'title = "title"\nactual_end_at = "end"\nupdated_at = "updated"\n',
        encoding="utf-8",
    )
    (folder / "_export.toml").write_text('null_values = ["N/A"]\n', encoding="utf-8")
    settings = ExportSettings(system="mapped", extra={"mapping": str(mapping)})
    r = ingest([folder / "changes.csv"], settings, strict=True).results[0]
    assert r.status == "succeeded", r.error
    assert query("select number, actual_end_at is null, updated_at is null from raw.change order by 1") == [
        ("C-1", True, False),
        ("C-2", False, True),
    ]


# ------------------------------------------------------------------------------- gzip (point 7)


def test_gzip_csv_and_json_exports_load(tmp_path: Path, ingest: Ingest, query: Query) -> None:
    folder = tmp_path / "gz"
    folder.mkdir()
    with gzip.open(folder / "incident.csv.gz", "wt", encoding="utf-8") as g:
        g.write(HEADER + "".join(r + "\n" for r in ROWS))
    (folder / "_export.toml").write_text('null_values = ["?"]\n', encoding="utf-8")
    records = [
        {
            "sys_id": f"c{i}",
            "number": f"CHG00{i}",
            "short_description": "Patch",
            "sys_updated_on": "2026-01-01 10:00:00",
        }
        for i in range(3)
    ]
    with gzip.open(folder / "change_request.json.gz", "wt", encoding="utf-8") as g:
        json.dump({"records": records}, g)
    report = ingest([folder], strict=True)
    for r in report.results:
        assert r.status == "succeeded", r.error
        assert "gzip-compressed" in r.warnings[0]
    assert query("select count(*) from raw.incident") == [(3,)]
    assert query("select count(*) from raw.change") == [(3,)]
    # the landing copy is the export as given (compressed)
    assert query("select count(*) from meta.ingest_run where landed_path like '%.gz'") == [(2,)]


def test_gzip_bomb_is_refused(tmp_path: Path) -> None:
    bomb = tmp_path / "big.csv.gz"
    with gzip.open(bomb, "wb") as g:
        g.write(b"a,b\n" + b"1,2\n" * 500_000)  # 2 MB of text in a few KB
    assert bomb.stat().st_size < 50_000
    with pytest.raises(ReadError, match="decompresses to more than"):
        gunzip_to(bomb, tmp_path, max_bytes=1_000_000)
    assert not (tmp_path / "big.csv").exists()
    (tmp_path / "cut.csv.gz").write_bytes(bomb.read_bytes()[:100])
    with pytest.raises(ReadError, match="not a valid gzip file"):
        gunzip_to(tmp_path / "cut.csv.gz", tmp_path)


# ------------------------------------------------------------------------ file rows (point 8)


def test_ledger_counts_file_rows_beside_records(tmp_path: Path, ingest: Ingest, query: Query) -> None:
    """An audit log's 6 rows become 3 incidents, 3 superseded versions and state transitions: the
    ledger shows 6 file rows beside the records, and both add up."""
    f = _write(tmp_path / "in", manifest='null_values = ["?"]\n')
    r = ingest([f], strict=True).results[0]
    assert r.status == "succeeded", r.error
    file_rows, bad, records, ins, upd, unch, sup, q = query(
        "select file_rows, file_rows_quarantined, rows_read, inserted, updated, unchanged, superseded, quarantined "
        "from meta.ingest_run"
    )[0]
    assert (file_rows, bad) == (6, 0)
    assert records > file_rows  # state transitions derived from the same rows
    assert records == ins + upd + unch + sup + q
    assert query("select count(*) from raw.incident") == [(3,)]


# ----------------------------------------------------------------- mapping identity (point 3)


def _mapping(path: Path, title_column: str, entity_extra: str = "") -> Path:
    path.write_text(
        'entity = "change"\n[source]\nsystem = "tool"\n[columns]\nsource_id = "ref"\nnumber = "ref"\n'
        f'title = "{title_column}"\nupdated_at = "updated"\n{entity_extra}',
        encoding="utf-8",
    )
    return path


def test_changed_mapping_replaces_what_the_old_one_loaded(
    tmp_path: Path, ingest: Ingest, query: Query
) -> None:
    folder = tmp_path / "f"
    folder.mkdir()
    export = folder / "changes.csv"
    export.write_text(
        "ref,name,summary,updated,host,class\nC-1,wrong,Right title,2026-02-04 08:00,web-1,Linux Server\n",
        encoding="utf-8",
    )
    mapping = _mapping(tmp_path / "tool.toml", "name")
    settings = ExportSettings(system="mapped", extra={"mapping": str(mapping)})
    first = ingest([export], settings, strict=True).results[0]
    assert first.status == "succeeded", first.error
    assert query("select title from raw.change") == [("wrong",)]
    # the same file, same mapping: a duplicate
    assert ingest([export], settings, strict=True).results[0].status == "skipped_duplicate"
    # the corrected mapping: the file is re-mapped and replaces what the old mapping loaded
    _mapping(mapping, "summary")
    fixed = ingest([export], settings, strict=True).results[0]
    assert fixed.status == "succeeded", fixed.error
    assert query("select title from raw.change") == [("Right title",)]
    assert query("select count(*) from meta.quarantine") == [(0,)]
    assert any("replaced by this run" in w for w in fixed.warnings), fixed.warnings
    assert query(f"select replaced_by_run from meta.ingest_run where run_id = {first.run_id}") == [
        (fixed.run_id,)
    ]
    assert query(f"select records_replaced from meta.ingest_run where run_id = {fixed.run_id}") == [(1,)]
    # a second mapping of the same file (its CIs) loads beside the first
    cis = tmp_path / "cis.toml"
    cis.write_text(
        'entity = "configuration_item"\n[source]\nsystem = "tool"\n[columns]\nsource_id = "host"\n'
        'name = "host"\nci_class_raw = "class"\nupdated_at = "updated"\n',
        encoding="utf-8",
    )
    second = ingest(
        [export], ExportSettings(system="mapped", extra={"mapping": str(cis)}), strict=True
    ).results[0]
    assert second.status == "succeeded", second.error
    assert query("select name, ci_class_raw from raw.configuration_item") == [("web-1", "Linux Server")]
    assert query("select title from raw.change") == [("Right title",)]


def test_declaring_a_placeholder_later_replaces_the_first_reading(
    tmp_path: Path, ingest: Ingest, query: Query
) -> None:
    """Loaded once with '?' in references (under the threshold), then with null_values = ['?']: the
    second reading replaces the first instead of conflicting with it."""
    f = _write(tmp_path / "in", REFS_ONLY)
    assert ingest([f], strict=True).results[0].status == "succeeded"
    again = ingest([f], ExportSettings(extra={"null_values": ["?"]}), strict=True).results[0]
    assert again.status == "succeeded", again.error
    assert query("select count(*), count(distinct number) from raw.incident") == [(3, 3)]
    con_rows = query("select count(*) from meta.ingest_run where replaced_by_run is not null")
    assert con_rows == [(1,)]


def test_old_ledger_without_identity_still_skips_duplicates(tmp_path: Path, ingest: Ingest, data) -> None:  # type: ignore[no-untyped-def]
    f = _write(tmp_path / "in", manifest='null_values = ["?"]\n')
    assert ingest([f]).results[0].status == "succeeded"
    con = duckdb.connect(str(data.ingest_db))
    con.execute("update meta.ingest_run set reading_fingerprint = null")
    con.close()
    assert ingest([f]).results[0].status == "skipped_duplicate"
