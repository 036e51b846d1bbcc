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
