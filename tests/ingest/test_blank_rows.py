"""Blank rows (every field empty or whitespace) are told column by column exactly as the plain
expression over all columns tells them; a file whose scan stops at its first non-UTF-8 chunk still
reports its NUL bytes and its last line break."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from changeboard.ingest import readers
from hypothesis import given, settings
from hypothesis import strategies as st

FIELD = st.one_of(st.none(), st.sampled_from(["", " ", "\t", "\u00a0", " x ", "x", "\u3000"]))


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.tuples(FIELD, FIELD, FIELD), max_size=12))
def test_blank_rows_match_the_expression(rows: list[tuple[str | None, ...]]) -> None:
    frame = pl.DataFrame(rows, schema={"a": pl.String, "b": pl.String, "c": pl.String}, orient="row")
    cols = ["a", "b", "c"]
    expected = frame.filter(
        ~pl.all_horizontal([pl.col(c).is_null() | (pl.col(c).str.strip_chars() == "") for c in cols])
    )
    blank = readers._blank_rows(frame, cols)
    got = frame if blank is None else frame.filter(~blank)
    assert got.equals(expected)


def test_scan_that_stops_early_leaves_nul_to_the_transcoder(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(b'"a","b"\r\n"caf\xe9","x"\r\n"nul\x00here","y"')
    assert readers._scan(path) == ("cp1252", True, False)
    assert readers._scan(path, stop_if_not_utf8=True) == ("cp1252", None, False)
    _copy, _chunks, first_bad, _mixed, has_nul = readers._transcode_mixed(path, tmp_path)
    assert (first_bad, has_nul) == (2, True)
    with readers.csv_batches(path) as text:
        frame = pl.concat(list(text.batches))
    assert frame["a"].to_list() == ["café", "nul\ufffdhere"]
    assert any("NUL bytes in 1 row(s) (row 3)" in w for w in text.warnings)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert readers._scan(empty) == ("utf-8", False, False)


PLACEHOLDER = st.sampled_from(["?", "#N/B", "(empty)", "n/a", "a.b", "*", "\\N", "$", "[x]"])
VALUE = st.one_of(
    st.none(),
    st.builds(
        lambda pre, core, post: pre + core + post,
        st.sampled_from(["", " ", "\t", "\u00a0", "\u3000 ", "\n"]),
        st.one_of(PLACEHOLDER, st.sampled_from(["", "x", "?x", "x?", "a b", "#N/Bx", "aXb", "\\"])),
        st.sampled_from(["", " ", "\t", "\u2003", "\r\n"]),
    ),
)


@settings(max_examples=300, deadline=None)
@given(values=st.lists(VALUE, max_size=12), null_values=st.lists(PLACEHOLDER, max_size=3))
def test_placeholders_become_null_as_stripped_values_tell(
    values: list[str | None], null_values: list[str]
) -> None:
    """The regex in normalise_nulls nulls exactly the values that, stripped of white space, are
    empty or a declared placeholder (regex metacharacters in a placeholder are literal)."""
    frame = pl.DataFrame({"a": values}, schema={"a": pl.String})
    expected = [None if v is None or v.strip() in ("", *null_values) else v for v in values]
    assert readers.normalise_nulls(frame, null_values)["a"].to_list() == expected
