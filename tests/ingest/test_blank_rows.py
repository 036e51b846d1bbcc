"""Blank rows (every field empty or whitespace) are told column by column exactly as the plain
expression over all columns tells them; a file whose scan stops at its first non-UTF-8 chunk still
reports its NUL bytes and its last line break."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
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


@pytest.mark.parametrize(
    ("tail", "encoding"),
    [(b"\xc3", "cp1252"), (b"\xc3\xa9", "utf-8"), (b"x", "utf-8")],
)
def test_scan_of_an_ascii_chunk_after_a_cut_sequence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tail: bytes, encoding: str
) -> None:
    """An ASCII chunk is taken as UTF-8 without decoding it, unless a sequence cut at the chunk
    before waits for it: a lead byte followed by ASCII is not UTF-8."""
    monkeypatch.setattr(readers, "CHUNK", 64)
    path = tmp_path / "export.csv"
    path.write_bytes(b"a" * (64 - len(tail[:1])) + tail + b"bc\n" * 40)
    assert readers._scan(path)[0] == encoding


def test_scans_remembered_scan_a_file_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(b"a,b\n1,2\n")
    scanned: list[Path] = []
    scan_file = readers._scan_file

    def counted(p: Path, stop: bool) -> tuple[str, bool | None, bool]:
        scanned.append(p)
        return scan_file(p, stop)

    monkeypatch.setattr(readers, "_scan_file", counted)
    with readers.scans_remembered():
        assert readers._scan(path) == readers._scan(path) == ("utf-8", False, True)
    readers._scan(path)
    assert len(scanned) == 2, "once within, and again outside"
