"""Property-based tests: CSV text round-trips, and a mapping never loses a row."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import polars as pl
from changeboard.ingest.mapping import TableMapping, apply_mapping
from changeboard.ingest.readers import read_csv_text
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# Printable text without the characters a CSV export cannot carry unquoted-and-unchanged (NUL, lone CR).
cell = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufeff"), max_size=12
)
non_blank = cell.filter(lambda s: s.strip() != "")


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[str], list[list[str]]]:
    n_cols = draw(st.integers(1, 5))
    headers = [f"h{i}" for i in range(n_cols)]
    rows = draw(
        st.lists(
            st.lists(cell, min_size=n_cols, max_size=n_cols).filter(lambda r: any(c.strip() for c in r)),
            max_size=8,
        )
    )
    return headers, rows


@given(tables())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_csv_written_with_the_csv_module_round_trips(table: tuple[list[str], list[list[str]]]) -> None:
    headers, rows = table
    buf = io.StringIO()
    w = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n")
    w.writerow(headers)
    w.writerows(rows)
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "t.csv"
        p.write_text(buf.getvalue(), encoding="utf-8")
        text = read_csv_text(p, delimiter=",")
    assert text.frame.height == len(rows)
    got = text.frame.drop("_source_row").rows()
    expected = [tuple(None if v.strip() == "" else v for v in r) for r in rows]
    assert got == expected
    assert text.frame["_source_row"].to_list() == list(range(2, 2 + len(rows)))


dates = st.one_of(
    st.none(), st.just("2026-01-01 10:00:00"), st.just("garbage"), st.just("1850-01-01 00:00:00"), cell
)


@given(st.lists(st.tuples(st.one_of(st.none(), non_blank), st.one_of(st.none(), cell), dates), max_size=30))
@settings(max_examples=80, deadline=None)
def test_every_row_ends_in_the_frame_or_the_quarantine(
    rows: list[tuple[str | None, str | None, str | None]],
) -> None:
    frame = pl.DataFrame(
        {"id": [r[0] for r in rows], "title": [r[1] for r in rows], "updated": [r[2] for r in rows]},
        schema={"id": pl.String, "title": pl.String, "updated": pl.String},
    ).with_row_index("_source_row", offset=2)
    mapping = TableMapping(
        entity="change",
        columns={"source_id": ("id",), "number": ("id",), "title": ("title",), "updated_at": ("updated",)},
        constants={"source_system": "prop"},
    )
    mapped = apply_mapping(frame, mapping, file_label="prop.csv")
    seen = sorted([*mapped.frame["_source_row"].to_list(), *mapped.quarantine["_source_row"].to_list()])
    assert seen == list(range(2, 2 + len(rows)))
    assert all(len(r) > 0 for r in mapped.quarantine["reasons"].to_list())
