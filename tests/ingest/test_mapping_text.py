"""Text clean-up in :func:`ingest.mapping.apply_mapping` is value for value what the plain
expressions give: the formula-escape apostrophe, and date/times parsed without a cache."""

from __future__ import annotations

import itertools

import polars as pl
import pytest
from changeboard.ingest.mapping import (
    FORMULA_ESCAPE,
    TableMapping,
    _parse_timestamps,
    _strip_formula_escape,
    apply_mapping,
)
from hypothesis import given, settings
from hypothesis import strategies as st

VALUES = st.one_of(
    st.none(),
    st.sampled_from(
        ["'=SUM(A1)", "'+1", "'-- drop", "'@cmd", "'abc", "''=x", "'", "x'=y", " '=a", "'\n=b", "'=", ""]
    ),
    st.text(alphabet="'=+-@a \n", max_size=6),
)


@settings(max_examples=300, deadline=None)
@given(values=st.lists(VALUES, max_size=40))
def test_formula_escape_strip_is_the_regex_replace(values: list[str | None]) -> None:
    s = pl.Series("v", values, dtype=pl.String)
    expected = s.str.replace(FORMULA_ESCAPE, "$1")
    got = _strip_formula_escape(s)
    assert got.to_list() == expected.to_list()
    assert s.to_list() == values  # the text column itself is left as it was


def test_mapping_strips_escape_but_reports_the_written_value() -> None:
    mapping = TableMapping(
        entity="change",
        columns={
            "source_id": ("sys_id",),
            "number": ("number",),
            "title": ("short_description",),
            "opened_at": ("opened_at",),
        },
        constants={"source_system": "servicenow"},
    )
    text = pl.DataFrame(
        {
            "sys_id": ["a", "b", None],
            "number": ["'=CHG1", "'+CHG2", "CHG3"],
            "short_description": ["'-- remove route", "'plain", None],
            "opened_at": ["2025-01-02 03:04:05", "not a date", None],
            "_source_row": [2, 3, 4],
        }
    )
    mapped = apply_mapping(text, mapping, file_label="x.csv")
    assert mapped.frame.select("number", "title").rows() == [("=CHG1", "-- remove route")]
    reasons = dict(
        zip(mapped.quarantine["_source_row"].to_list(), mapped.quarantine["reasons"].to_list(), strict=True)
    )
    assert reasons[3] == [
        "column opened_at: 'not a date' is not a date/time (expected %Y-%m-%d %H:%M:%S or %Y-%m-%dT%H:%M:%SZ or %Y-%m-%dT%H:%M:%S%.fZ ...)"
    ]
    assert reasons[4] == ["column sys_id: required value is missing"]
    # the quarantined record keeps the value as written, apostrophe included
    assert "'+CHG2" in mapped.quarantine.filter(pl.col("_source_row") == 3)["raw_record"][0]


@pytest.mark.parametrize("tz", ["UTC", "Europe/London"])
def test_timestamps_without_cache_equal_cached(tz: str) -> None:
    values = pl.Series(
        [
            "2025-03-30 01:30:00",
            "2025-10-26 01:30:00",
            "30/03/2025 12:00",
            "2025-01-01",
            " 2025-06-01 10:00:00 ",
            "x",
            None,
        ]
        * 3
    )
    formats = ("%Y-%m-%d %H:%M:%S", "%d/%m/%Y %H:%M", "%Y-%m-%d")
    s = values.str.strip_chars()
    cached = s.str.to_datetime(formats[0], strict=False, time_unit="us")
    for fmt in formats[1:]:
        todo = (cached.is_null() & s.is_not_null()).arg_true()
        cached = cached.scatter(todo, s.gather(todo).str.to_datetime(fmt, strict=False, time_unit="us"))
    if tz != "UTC":
        cached = cached.dt.replace_time_zone(
            tz, ambiguous="earliest", non_existent="null"
        ).dt.convert_time_zone("UTC")
    else:
        cached = cached.dt.replace_time_zone("UTC")
    assert _parse_timestamps(values, formats, tz).to_list() == cached.dt.replace_time_zone(None).to_list()


def test_a_frame_whose_columns_are_chunked_differently_maps() -> None:
    """A batch read from several segments of a file (e.g. a mixed-encoding export) holds its columns
    in chunks that do not line up (here one text column in four, the others in one). polars 2.1
    panicked on such a frame when it wrote the quarantine reason of a row in a later chunk (found by the bench's 1 % delta of
    incidents: ``PanicException: assertion failed: i < self.len()``, the whole ingest lost). Every
    row maps as it does from the same frame in one chunk, and the two rows whose local time does
    not exist (the clocks went forward) are quarantined with their reason."""
    mapping = TableMapping(
        entity="change",
        columns={"source_id": ("sys_id",), "number": ("number",), "opened_at": ("opened_at",)},
        constants={"source_system": "servicenow"},
        timezone="Europe/London",
    )
    rows = 5_502
    opened = [f"2025-06-0{1 + i % 6} {i % 24:02d}:{i % 60:02d}:{i % 59:02d}" for i in range(rows)]
    opened[1_323] = "2026-03-29 01:59:33"  # no such time in London: the clocks went from 01:00 to 02:00
    opened[3_594] = "2026-03-29 01:38:03"
    values = {
        "sys_id": [f"id{i}" for i in range(rows)],
        "number": [f"CHG{i}" for i in range(rows)],
        "opened_at": opened,
    }
    cuts = [0, 1_400, 2_800, 4_100, rows]

    def in_chunks(name: str) -> pl.Series:
        series = pl.Series(name, values[name], dtype=pl.String)
        return pl.concat([series.slice(a, b - a) for a, b in itertools.pairwise(cuts)], rechunk=False)

    source_rows = pl.Series("_source_row", range(2, rows + 2))
    whole = {name: pl.Series(name, column, dtype=pl.String) for name, column in values.items()}
    chunked = pl.DataFrame([whole["sys_id"], whole["number"], in_chunks("opened_at"), source_rows])
    assert chunked.n_chunks("all") == [1, 1, 4, 1]
    got = apply_mapping(chunked, mapping, file_label="x.csv")
    expected = apply_mapping(
        pl.DataFrame({**values, "_source_row": source_rows}), mapping, file_label="x.csv"
    )
    assert got.frame.rows() == expected.frame.rows()
    assert got.quarantine.rows() == expected.quarantine.rows()
    assert got.quarantine["_source_row"].to_list() == [1_325, 3_596]
    assert got.quarantine["reasons"].to_list()[0] == [
        "column opened_at: '2026-03-29 01:59:33' does not exist in Europe/London (the clocks went forward"
        " at that hour): is the export's time zone right? (timezone in _export.toml)"
    ]
    assert got.frame.height + got.quarantine.height == rows
