"""Human labels and formats from one place (rpt_display_labels): every dashboard page, run with the
built sample, shows no raw snake_case column header, no literal "None", no ISO "T" timestamp in any
table, and an empty cell reads as a dash."""

from __future__ import annotations

import re

import polars as pl
import pytest
from changeboard.app.components import MISSING, Labels, present
from streamlit.testing.v1 import AppTest

from changeboard.paths import DataDir
from tests.app.test_pages import PAGES, run_page

# a raw column name: snake_case, or a lowercase word the label map does not know (labels are capitalised)
SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
ISO_T = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def problems(at: AppTest) -> list[str]:
    """What a person would read as raw on the page: headers, cells and the missing-value text."""
    found = []
    for element in at.dataframe:
        df = element.value
        key = element.proto.id if hasattr(element.proto, "id") else "?"
        found += [f"{key}: raw header {c!r}" for c in df.columns if SNAKE.match(str(c))]
        for column in df.columns:
            series = df[column]
            if series.isna().any() and element.proto.placeholder in ("", "None"):
                found.append(f"{key}: column {column!r} shows None for missing values")
            if series.dtype == object:
                texts = series.dropna().astype(str)
                if (texts == "None").any():
                    found.append(f"{key}: 'None' in column {column!r}")
                if texts.str.contains(ISO_T).any():
                    found.append(f"{key}: ISO timestamp in column {column!r}")
    return found


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_shows_labels_not_raw_names(app_env: DataDir, page: str) -> None:
    at = run_page(page)
    assert at.dataframe, f"{page}: no table to check"
    assert problems(at) == []


def test_the_cab_page_shows_labels_not_raw_names(app_env: DataDir) -> None:
    """The CAB meeting's page too: its agenda sections, KPI strip, collisions and blackouts."""
    from tests.app.test_cab_page import run_cab

    at = run_cab()
    assert len(at.dataframe) >= 3, "the CAB page shows its agenda, KPI strip and collisions as tables"
    assert problems(at) == []


def test_present_applies_the_label_map_and_one_timestamp_format() -> None:
    from datetime import UTC, datetime

    df = pl.DataFrame(
        {
            "number": ["CHG1"],
            "outcome": ["successful_with_issues"],
            "closed_at": [datetime(2026, 11, 3, 14, 5, tzinfo=UTC)],
            "unlabelled_col": [None],
            "change_id": ["servicenow:CHG1"],
        }
    )
    names = Labels(
        {"number": "Number", "outcome": "Outcome", "closed_at": "Closed"},
        {"successful_with_issues": "Successful with issues"},
    )
    shown = present(df, names)
    assert shown.columns == [
        "Number",
        "Outcome",
        "Closed",
        "unlabelled_col",
    ]  # keys left out, the CSV keeps them
    assert shown.row(0) == ("CHG1", "Successful with issues", "2026-11-03 14:05 UTC", None)
    assert MISSING == "—"
