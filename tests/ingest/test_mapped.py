"""Declarative mapping files for any other tool's export, and ``ingest --dry-run``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from changeboard.ingest.dry_run import dry_run_report
from changeboard.ingest.registry import ExportSettings
from changeboard.ingest.sources.mapped import MappingFileError, load_spec
from typer.testing import CliRunner

from changeboard.cli import app

from .conftest import FIXTURES, Ingest, Query, copy_fixture

MAPPED = FIXTURES / "mapped"
SETTINGS = ExportSettings(system="mapped", extra={"mapping": str(MAPPED / "itop_changes.toml")})


def test_mapping_file_loads_changes_and_splits_ci_rows(ingest: Ingest, query: Query) -> None:
    r = ingest([MAPPED / "itop_changes.csv"], SETTINGS).results[0]
    assert r.status == "succeeded", r.error
    assert (r.source_system, r.source_table) == ("itop", "change")
    rows = query(
        "select number, title, change_type, outcome, planned_start_at, planned_end_at, origin from raw.change order by number"
    )
    assert rows == [
        # Europe/Berlin 22:00 = 21:00 UTC; the end column is declared UTC in the mapping.
        (
            "C-000123",
            "Replace core switch",
            "normal",
            "successful",
            datetime(2026, 2, 3, 21),
            datetime(2026, 2, 3, 23, 30),
            "itsm",
        ),
        (
            "C-000124",
            "Patch portal (typo fixed)",  # a tie on updated_at: the last row of the file (D30)
            "standard",
            None,
            datetime(2026, 2, 5, 0),
            datetime(2026, 2, 5, 2),
            "itsm",
        ),  # cp1252
        (
            "C-000126",
            "Retire old VPN",
            None,
            "successful",
            datetime(2026, 2, 7, 0),
            datetime(2026, 2, 7, 2),
            "itsm",
        ),
    ]
    assert query("select change_ref, ci_ref, role from raw.change_ci order by 1, 2") == [
        ("C-000123", "sw-core-01", "affected"),
        ("C-000123", "sw-core-02", "affected"),
        ("C-000124", "portal-db", "affected"),
        ("C-000124", "portal-web", "affected"),
        ("C-000126", "vpn-01", "affected"),
    ]
    warnings = "\n".join(r.warnings)
    assert "C-000124: rows 4, 5 repeat it with different title" in warnings
    assert "does not know 1 value(s): 'ObsoleteChange'" in warnings
    # '#MULTIVALUE' and '?' are nulls: the bad row is quarantined for its date only.
    assert query("select source_row, reason from meta.quarantine") == [
        (
            6,
            "column start: '31.02.2026 01:00' is not a date/time (expected %d.%m.%Y %H:%M or %Y-%m-%d %H:%M:%S or %Y-%m-%dT%H:%M:%SZ ...)",
        )
    ]


def test_manifest_can_name_the_mapping(tmp_path: Path, ingest: Ingest, query: Query) -> None:
    folder = tmp_path / "itop"
    copy_fixture(MAPPED / "itop_changes.csv", folder)
    copy_fixture(MAPPED / "itop_changes.toml", tmp_path)
    (folder / "_export.toml").write_text('mapping = "../itop_changes.toml"\n', encoding="utf-8")
    r = ingest([folder]).results[0]
    assert r.status == "succeeded", r.error
    assert query("select count(*) from raw.change") == [(3,)]


def test_mapping_json_and_xlsx(tmp_path: Path, ingest: Ingest, query: Query) -> None:
    import xlsxwriter

    spec = tmp_path / "m.toml"
    spec.write_text(
        'entity = "incident"\n[source]\nsystem = "desk"\nrecords = "data.items"\n'
        '[columns]\nsource_id = "id"\nnumber = "ref"\ntitle = "subject.text"\nopened_at = "opened"\n',
        encoding="utf-8",
    )
    j = tmp_path / "incidents.json"
    j.write_text(
        '{"data": {"items": [{"id": 1, "ref": "D-1", "subject": {"text": "Printer"}, "opened": "2026-01-01 10:00:00"}]}}',
        encoding="utf-8",
    )
    x = tmp_path / "incidents.xlsx"
    wb = xlsxwriter.Workbook(str(x))
    ws = wb.add_worksheet("Sheet1")
    ws.write_row(0, 0, ["id", "ref", "subject.text", "opened"])
    ws.write_row(1, 0, ["2", "D-2", "Mail down", "2026-01-02 11:00:00"])
    wb.close()
    settings = ExportSettings(system="mapped", extra={"mapping": str(spec)})
    report = ingest([j, x], settings)
    assert [r.status for r in report.results] == ["succeeded", "succeeded"], [r.error for r in report.results]
    assert query("select source_system, number, title from raw.incident order by 2") == [
        ("desk", "D-1", "Printer"),
        ("desk", "D-2", "Mail down"),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('entity = "nonsense"\n[source]\nsystem = "x"\n', "not a canonical entity"),
        ('entity = "change"\n[columns]\nsource_id = "a"\nnumber = "a"\n', "system"),
        (
            'entity = "change"\n[source]\nsystem = "x"\n[columns]\nsource_id = "a"\n',
            "required columns of change not mapped: number",
        ),
        (
            'entity = "change"\n[source]\nsystem = "x"\n[columns]\nsource_id = "a"\nnumber = "a"\ntitel = "t"\n',
            "titel: not a column",
        ),
        (  # issue 17 point 4: a value the build would refuse is refused here, naming the line
            'entity = "change"\n[source]\nsystem = "x"\n[columns]\nsource_id = "a"\nnumber = "a"\n'
            '[value_maps.outcome]\nfrom = "close"\nvalues = { "Done" = "succesful" }\n',
            r"bad.toml line 9: \[value_maps.outcome\] values: values maps 'Done' to 'succesful' is not a value "
            r"change.outcome accepts \(successful, successful_with_issues",
        ),
        (
            'entity = "change"\n[source]\nsystem = "x"\n[columns]\nsource_id = "a"\nnumber = "a"\n'
            '[constants]\norigin = "itop"\n',
            r"bad.toml line 8: \[constants\] origin: the constant 'itop' is not a value change.origin accepts \(form, itsm\)",
        ),
        (
            'entity = "change"\n[source]\nsystem = "x"\n[columns]\nsource_id = "a"\nnumber = "a"\n'
            '[value_maps.change_type]\nfrom = "t"\nprefixes = { "Std" = "standard" }\ndefault = "regular"\n',
            "default 'regular' is not a value change.change_type accepts",
        ),
        ("entity = \n", "not valid TOML"),
    ],
)
def test_invalid_mapping_files_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    p = tmp_path / "bad.toml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(MappingFileError, match=message) as exc:
        load_spec(p)
    assert str(p) in str(exc.value)


def test_mapped_column_missing_from_the_file_fails_it(tmp_path: Path, ingest: Ingest) -> None:
    spec = tmp_path / "m.toml"
    spec.write_text(
        'entity = "change"\n[source]\nsystem = "x"\n[columns]\nsource_id = "nope"\nnumber = "ref"\n',
        encoding="utf-8",
    )
    f = copy_fixture(MAPPED / "itop_changes.csv", tmp_path / "in")
    r = ingest([f], ExportSettings(system="mapped", extra={"mapping": str(spec)})).results[0]
    assert r.status == "failed"
    assert str(f) in r.error
    assert "'nope'" in r.error
    assert "source_id" in r.error


def test_dry_run_reports_and_loads_nothing(tmp_path: Path) -> None:
    text, ok = dry_run_report([MAPPED / "itop_changes.csv"], SETTINGS)
    assert ok
    assert "itop change (declared; mapping file itop_changes.toml)" in text
    assert (
        "→ change: 5 row(s) (3 distinct record(s): the latest updated_at of each is loaded), 1 quarantined"
        in text
    )
    assert "→ change_ci: 5 row(s)" in text
    assert "✗ row 6: column start: '31.02.2026 01:00'" in text
    assert "nothing was loaded" in text


def test_cli_ingest_mapping_and_dry_run(tmp_path: Path) -> None:
    runner = CliRunner()
    data_dir = tmp_path / "data"
    dry = runner.invoke(
        app,
        [
            "ingest",
            str(MAPPED / "itop_changes.csv"),
            "--mapping",
            str(MAPPED / "itop_changes.toml"),
            "--dry-run",
            "--data-dir",
            str(data_dir),
        ],
    )
    assert dry.exit_code == 0, dry.output
    assert "nothing was loaded" in dry.output
    assert not (data_dir / "ingest" / "ingest.duckdb").exists()
    real_args = [
        "ingest",
        str(MAPPED / "itop_changes.csv"),
        "--mapping",
        str(MAPPED / "itop_changes.toml"),
        "--data-dir",
        str(data_dir),
    ]
    real = runner.invoke(app, real_args)
    # One of its 6 rows cannot be typed (a 31st of February): more than the 1 % a file may lose, so
    # the file is refused with the column, the value and the fix, and nothing is loaded.
    assert real.exit_code == 3, real.output
    for words in ("refused", "'31.02.2026 01:00'", "fix:"):
        assert words in real.output, real.output
    accepted = runner.invoke(app, [*real_args, "--max-quarantine", "20"])
    assert accepted.exit_code == 0, accepted.output
    assert (data_dir / "ingest" / "ingest.duckdb").exists()
    bad = tmp_path / "garbage.csv"
    bad.write_bytes(b"\x00\x01" * 100)
    failed = runner.invoke(app, ["ingest", str(bad), "--dry-run", "--data-dir", str(data_dir)])
    assert failed.exit_code == 2
    assert "cannot be read" in failed.output


def test_ci_split_keeps_the_latest_row_of_a_change(tmp_path: Path, ingest: Ingest, query: Query) -> None:
    """Issue 17 point 2: one row per change x CI, the rows of a change disagreeing on the actual end:
    the row with the latest updated_at is kept, wherever it is in the file (before: the first row)."""
    folder = tmp_path / "split"
    folder.mkdir()
    (folder / "changes.csv").write_text(
        "ref,title,end,ci,updated\n"
        "C-1,Patch,2026-02-03 23:00,ci-a,2026-02-04 08:00\n"  # older version, first in the file
        "C-1,Patch,2026-02-04 01:30,ci-b,2026-02-04 09:00\n"  # latest version
        "C-1,Patch,2026-02-03 23:00,ci-c,2026-02-04 08:00\n"  # older again
        "C-2,Other,2026-02-05 10:00,ci-a,2026-02-05 11:00\n",
        encoding="utf-8",
    )
    mapping = tmp_path / "split.toml"
    mapping.write_text(
        'entity = "change"\n[source]\nsystem = "tool"\n'
        '[columns]\nsource_id = "ref"\nnumber = "ref"\ntitle = "title"\nactual_end_at = "end"\nupdated_at = "updated"\n'
        '[ci_links]\ncolumn = "ci"\n',
        encoding="utf-8",
    )
    settings = ExportSettings(system="mapped", extra={"mapping": str(mapping)})
    r = ingest([folder / "changes.csv"], settings, strict=True).results[0]
    assert r.status == "succeeded", r.error
    assert query("select number, actual_end_at, _source_row from raw.change order by 1") == [
        ("C-1", datetime(2026, 2, 4, 1, 30), 3),
        ("C-2", datetime(2026, 2, 5, 10), 5),
    ]
    assert query("select count(*) from raw.change_ci") == [(4,)]
    # the file's 4 rows: 2 changes kept, 2 older versions superseded; 4 links
    c = r.counts
    assert (r.file_rows, c.rows_read, c.inserted, c.superseded, c.quarantined) == (4, 8, 6, 2, 0)
    assert any(
        "C-1: rows 2, 3, 4 repeat it with different actual_end_at" in w and "(row 3)" in w for w in r.warnings
    )
    # The same file without [ci_links] keeps the same row: latest wins everywhere.
    plain = tmp_path / "plain.toml"
    plain.write_text(mapping.read_text(encoding="utf-8").split("[ci_links]")[0], encoding="utf-8")
    again = ingest([folder / "changes.csv"], ExportSettings(system="mapped", extra={"mapping": str(plain)}))
    assert again.results[0].status == "succeeded", again.results[0].error
    assert query("select number, actual_end_at from raw.change order by 1") == [
        ("C-1", datetime(2026, 2, 4, 1, 30)),
        ("C-2", datetime(2026, 2, 5, 10)),
    ]
