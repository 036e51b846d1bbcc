"""Pure parts of app.components: number formatting, evidence lines, formula-safe CSV."""

from __future__ import annotations

import csv
import io
from datetime import datetime

import polars as pl
import pytest
from changeboard.app import components


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        (0.956, "pct", "95.6 %"),
        (1.0, "pct", "100.0 %"),
        (None, "pct", "—"),
        (float("nan"), "hours", "—"),
        (59.94, "hours", "59.9 h"),
        (96.0, "hours", "4.0 d"),
        (1234, "count", "1,234"),
        (2.4333, "per_day", "2.43 / day"),
        (19.06, "decimal", "19.1"),
    ],
)
def test_fmt(value: object, kind: str, expected: str) -> None:
    assert components.fmt(value, kind) == expected


def test_fraction_names_numerator_and_denominator() -> None:
    assert components.fraction(86, 90, "completed changes") == "86 / 90 completed changes"
    assert components.fraction(None, 90) == "no records in this period"


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("CHG0031402", "CHG0031402"),
        ("a=b", "a=b"),
        ("", ""),
        (None, None),
    ],
)
def test_neutralise_cell(cell: str | None, expected: str | None) -> None:
    assert components.neutralise_cell(cell) == expected


def test_safe_csv_neutralises_text_cells_and_keeps_numbers() -> None:
    df = pl.DataFrame(
        {
            "number": ["CHG1", "=cmd|' /C calc'!A0", "@SUM(1)", "\tTAB", None],
            "title": ["ok", "-1+2", "+x", "plain", "\rCR"],
            "delta": [-5.0, 1.0, None, 2.0, -1.5],
            "when": [datetime(2026, 11, 1, 10, 0)] * 5,
        }
    )
    raw = components.safe_csv(df)
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert [r["number"] for r in rows] == ["CHG1", "'=cmd|' /C calc'!A0", "'@SUM(1)", "'\tTAB", ""]
    assert [r["title"] for r in rows] == ["ok", "'-1+2", "'+x", "plain", "'\rCR"]
    # numbers stay numbers: a negative variance is not text and must not be quoted
    assert [r["delta"] for r in rows] == ["-5.0", "1.0", "", "2.0", "-1.5"]
    for r in rows:
        for key in ("number", "title"):
            assert not r[key].startswith(components.FORMULA_PREFIXES)


def test_neutralise_matches_cellwise_rule() -> None:
    cells = ["=1", "+1", "-1", "@1", "\t1", "\r1", "1", "x=", " =1", None]
    out = components.neutralise(pl.DataFrame({"c": cells}))["c"].to_list()
    assert out == [components.neutralise_cell(c) for c in cells]


def test_low_confidence_reason_reads_the_scorecard() -> None:
    dq = pl.DataFrame(
        {
            "metric": ["change_success_rate", "failed_rate"],
            "is_low_confidence": [True, False],
            "coverage": [0.62, 0.95],
            "threshold": [0.8, 0.8],
        }
    )
    assert components.low_confidence_reason(dq, "change_success_rate") == (
        "input coverage 62.0 % is below the 80.0 % threshold"
    )
    assert components.low_confidence_reason(dq, "failed_rate") is None
    assert components.low_confidence_reason(pl.DataFrame(), "failed_rate") is None


def test_low_confidence_reason_reads_only_the_metric_confidence_rows_of_all_sources() -> None:
    # rpt_data_quality also has coverage rows named like a metric (release_lead_time) and per-source rows
    dq = pl.DataFrame(
        {
            "check_type": ["coverage", "metric_confidence", "metric_confidence", "coverage"],
            "source_system": ["jira", "all", "jira", "all"],
            "metric": ["release_lead_time", "release_lead_time", "failed_rate", "failed_rate"],
            "is_low_confidence": [True, False, True, True],
            "reason": ["field gap in jira", "fine", "per source", "field"],
        }
    )
    assert components.low_confidence_reason(dq, "release_lead_time") is None
    assert components.low_confidence_reason(dq, "failed_rate") is None
    flagged = dq.with_columns(pl.lit(True).alias("is_low_confidence"))
    assert components.low_confidence_reason(flagged, "release_lead_time") == "fine"


def test_as_text_formats_timestamps() -> None:
    assert components.as_text(datetime(2026, 11, 26, 12, 46, 28)) == "2026-11-26 12:46 UTC"
    assert components.as_text("2026-11-26T12:46:28+00:00") == "2026-11-26 12:46 UTC"
    assert components.as_text("v1") == "v1"


def test_low_confidence_reason_says_what_to_fix_in_the_export() -> None:
    dq = pl.DataFrame(
        {
            "metric": ["failed_rate"],
            "is_low_confidence": [True],
            "reason": [
                "weakest input: 3 of 10 incidents have a CI known to the CMDB (30.0 %; threshold 80.0 %)"
            ],
            "how_to_fix": ["Export each incident's configuration item (ServiceNow cmdb_ci)."],
        }
    )
    assert components.low_confidence_reason(dq, "failed_rate") == (
        "weakest input: 3 of 10 incidents have a CI known to the CMDB (30.0 %; threshold 80.0 %). "
        "To fix: Export each incident's configuration item (ServiceNow cmdb_ci)."
    )


@pytest.mark.parametrize(
    ("value", "previous", "kind", "expected"),
    [
        (0.95, 0.93, "pct", "+2.0 pp"),
        (0.90, 0.93, "pct", "-3.0 pp"),
        (0.93, 0.93, "pct", 0),  # unchanged: the number 0 (grey, no arrow)
        (0.93001, 0.93, "pct", 0),  # below the shown precision is unchanged too
        (1200, 1000, "count", "+200"),
        (12.5, 20.0, "hours", "-7.5 h"),
        (0.5, 0.25, "per_day", "+0.25 / day"),
        (None, 0.9, "pct", None),
        (0.9, None, "pct", None),
        ("3 of 41", "2 of 40", "text", None),
    ],
)
def test_delta_is_signed_in_the_values_unit(
    value: object, previous: object, kind: str, expected: object
) -> None:
    assert components.delta(value, previous, kind) == expected


@pytest.mark.parametrize(
    ("value", "target", "amber", "direction", "expected"),
    [
        (0.96, 0.95, 0.90, "higher_is_better", "green"),
        (0.95, 0.95, 0.90, "higher_is_better", "green"),  # meeting the target is on target
        (0.92, 0.95, 0.90, "higher_is_better", "amber"),
        (0.90, 0.95, 0.90, "higher_is_better", "amber"),
        (0.89, 0.95, 0.90, "higher_is_better", "red"),
        (0.04, 0.05, 0.10, "lower_is_better", "green"),
        (0.07, 0.05, 0.10, "lower_is_better", "amber"),
        (0.11, 0.05, 0.10, "lower_is_better", "red"),
        (0.0, 0.0, 0.01, "lower_is_better", "green"),  # unauthorized = 0
        (0.02, 0.0, 0.0, "lower_is_better", "red"),  # a target with no amber band
        (0.5, None, None, "lower_is_better", None),  # no target
        (None, 0.05, 0.10, "lower_is_better", None),  # no value
        (120, 100, 100, "neutral", None),
    ],
)
def test_target_status_follows_the_metrics_direction(
    value: object, target: object, amber: object, direction: str, expected: str | None
) -> None:
    assert components.target_status(value, target, amber, direction) == expected


def test_target_text_names_the_thresholds_and_where_they_come_from() -> None:
    assert components.target_text(0.95, 0.9, "higher_is_better", "pct", "default").startswith(
        "Target ≥ 95.0 %, amber ≥ 90.0 % (common-practice default; set yours in the [targets] table"
    )
    assert components.target_text(0, 0, "lower_is_better", "count", "changeboard.toml") == (
        "Target ≤ 0 (from changeboard.toml)"
    )
