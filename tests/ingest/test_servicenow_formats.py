"""ServiceNow exports in every container: XLSX, Table API / list JSON, XML, audit-style CSV."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from changeboard.ingest.readers import ReadError
from changeboard.ingest.registry import read_file

from .conftest import FIXTURES, Ingest, Query, copy_fixture

SN = FIXTURES / "servicenow"


def _xlsx(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path))
    for name, rows in sheets.items():
        ws = wb.add_worksheet(name)
        for i, row in enumerate(rows):
            ws.write_row(i, 0, row)
    wb.close()
    return path


LABELS = [
    "Number",
    "Short description",
    "Type",
    "State",
    "Close code",
    "Planned start date",
    "Backout plan",
    "Updated",
]


def test_xlsx_reads_every_sheet_with_label_headers(tmp_path: Path, ingest: Ingest, query: Query) -> None:
    (tmp_path / "in").mkdir()
    f = _xlsx(
        tmp_path / "in" / "change_request.xlsx",
        {
            "Page 1": [
                LABELS,
                [
                    "CHG0040001",
                    "'=cmd injection attempt",
                    "Normal",
                    "Closed",
                    "Successful",
                    "2026-03-01 22:00:00",
                    "Revert",
                    "2026-03-02 08:00:00",
                ],
            ],
            "Page 2": [
                LABELS,
                [
                    "CHG0040002",
                    "Second sheet row",
                    "Standard",
                    "New",
                    "",
                    "2026-03-03 22:00:00",
                    "",
                    "2026-03-02 09:00:00",
                ],
            ],
        },
    )
    report = ingest([f])
    r = report.results[0]
    assert r.status == "succeeded", r.error
    assert (r.source_system, r.source_table) == ("servicenow", "change_request")
    assert any("sheet 'Page 2'" in w for w in r.warnings)
    rows = query("select number, title, change_type_raw, planned_start_at from raw.change order by number")
    assert rows == [
        ("CHG0040001", "=cmd injection attempt", "Normal", datetime(2026, 3, 1, 22)),
        ("CHG0040002", "Second sheet row", "Standard", datetime(2026, 3, 3, 22)),
    ]


def test_xlsx_truncation_sentinel_fails_the_file(tmp_path: Path, ingest: Ingest, query: Query) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    f = _xlsx(
        folder / "change_request.xlsx",
        {
            "Page 1": [
                LABELS,
                ["CHG0040001", "ok", "Normal", "New", "", "", "", "2026-03-02 08:00:00"],
                ["Export stopped due to excessive size. Use CSV for a complete export"],
            ]
        },
    )
    copy_fixture(SN / "change_request_api.json", folder)
    report = ingest([folder])
    by = {r.path.name: r for r in report.results}
    assert by[f.name].status == "failed"
    assert str(f) in by[f.name].error
    assert "row 3" in by[f.name].error
    assert "nothing was loaded" in by[f.name].error
    assert by["change_request_api.json"].status == "succeeded"
    assert query("select count(*) from raw.change where number like 'CHG004%'") == [(0,)]


def test_table_api_json_raw_values_and_reference_objects(ingest: Ingest, query: Query) -> None:
    r = ingest([SN / "change_request_api.json"]).results[0]
    assert r.status == "succeeded", r.error
    assert "Table API JSON" in r.warnings[0]
    c = r.counts
    assert (c.rows_read, c.inserted, c.quarantined) == (3, 2, 1)
    rows = query(
        "select source_id, number, title, state_raw, assignment_group, primary_ci_ref, actual_end_at from raw.change order by number"
    )
    assert rows[0] == (
        "a1b2c3d4e5f60718293a4b5c6d7e8f90",
        "CHG0030001",
        "Patch web tier",
        "3",
        "287ebd7da9fe198100f92cc8d1d2154e",  # reference object: its value
        "b0c25d1bc0a8000b0036a5c5e0d7f5d1",
        datetime(2026, 2, 16, 22, 40),  # raw values are UTC
    )
    assert rows[1][2] == "-- remove stale route"  # formula-escape apostrophe stripped
    q = query("select source_row, reason from meta.quarantine")
    assert q[0][0] == 3
    assert "opened_at" in q[0][1]
    assert "2026-13-45" in q[0][1]


def test_display_value_all_keeps_value_for_ids_and_times_display_for_names(
    ingest: Ingest, query: Query
) -> None:
    r = ingest([SN / "change_request_display_all.json"]).results[0]
    assert r.status == "succeeded", r.error
    rows = query(
        "select source_id, number, state_raw, change_type_raw, approval_raw, assignment_group, primary_ci_ref, actual_start_at, updated_at from raw.change"
    )
    assert rows == [
        (
            "d1b2c3d4e5f60718293a4b5c6d7e8f93",
            "CHG0030011",
            "Implement",
            "Normal",
            "Approved",
            "Analytics Settings Managers",
            "lb-prod-01",
            datetime(2026, 2, 17, 0, 45, 11),  # the UTC value, not the display in the user's zone
            datetime(2026, 2, 17, 0, 50),
        )
    ]


def test_list_json_records_with_dv_siblings(ingest: Ingest, query: Query) -> None:
    r = ingest([SN / "incident_list.json"]).results[0]
    assert (r.source_table, r.counts.inserted) == ("incident", 2)
    rows = query(
        "select number, state_raw, priority_raw, caused_by_change_ref from raw.incident order by number"
    )
    assert rows == [
        ("INC0010001", "Resolved", "1 - Critical", "CHG0030001"),
        ("INC0010002", "New", "4 - Low", None),
    ]


def test_xml_unload(ingest: Ingest, query: Query) -> None:
    r = ingest([SN / "change_request_unload.xml"]).results[0]
    assert r.status == "succeeded", r.error
    assert "XML unload" in r.warnings[0]
    rows = query(
        "select number, title, state_raw, close_code_raw, assignment_group, description from raw.change order by number"
    )
    assert rows == [
        ("CHG0030021", "Upgrade & reboot DB cluster", "Closed", "Successful with issues", "Database", None),
        ("CHG0030022", "Firewall rule for partner VPN", "Scheduled", None, None, None),
    ]


def test_xml_not_well_formed_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "change_request.xml"
    bad.write_text("<unload><change_request><number>CHG1</number></unload>", encoding="utf-8")
    with pytest.raises(ReadError, match=str(bad)):
        read_file(bad)


def test_audit_style_export_gives_latest_state_and_history(
    tmp_path: Path, ingest: Ingest, query: Query
) -> None:
    folder = tmp_path / "in"
    copy_fixture(SN / "incident_event_log.csv", folder)
    copy_fixture(SN / "_export.toml", folder)
    r = ingest([folder]).results[0]
    assert r.status == "succeeded", r.error
    assert any("audit-style" in w for w in r.warnings)
    incidents = query(
        "select number, state_raw, caused_by_change_ref, fixed_by_change_ref, closed_at from raw.incident order by number"
    )
    assert incidents == [
        ("INC0000045", "Closed", None, None, datetime(2016, 3, 5, 12)),
        ("INC0000047", "Closed", "CHG0000097", "CHG0001230", datetime(2016, 3, 6, 10)),
    ]
    history = query(
        "select record_ref, from_state, to_state, changed_at from raw.state_history order by record_ref, changed_at, to_state"
    )
    assert history == [
        ("INC0000045", None, "New", datetime(2016, 2, 29, 1, 23)),
        ("INC0000045", "New", "Resolved", datetime(2016, 2, 29, 8, 53)),
        ("INC0000045", "Resolved", "Closed", datetime(2016, 3, 5, 12)),
        (
            "INC0000047",
            "New",
            "Active",
            datetime(2016, 2, 29, 4, 57),
        ),  # same minute as New: sys_mod_count orders
        ("INC0000047", None, "New", datetime(2016, 2, 29, 4, 57)),
        ("INC0000047", "Active", "Closed", datetime(2016, 3, 6, 10)),
    ]
    c = r.counts
    assert c.superseded == 5
    assert c.quarantined == 0


def test_auto_detection_says_what_it_picked(tmp_path: Path) -> None:
    r = read_file(SN / "change_request_api.json")
    assert "ServiceNow JSON" in r.detected_by
    assert "table detected" in r.detected_by
    r = read_file(SN / "change_request_unload.xml")
    assert "XML" in r.detected_by
    assert "change_request" in r.detected_by
