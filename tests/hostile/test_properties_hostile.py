"""Property-based tests of the readers and the mapping rules on hostile text (extends
tests/ingest/test_properties.py, which covers printable text with ``,`` and QUOTE_ALL in UTF-8).

Here: any text (quotes, every delimiter, CR/LF inside fields, BOMs, emoji), any of the four
delimiters, minimal quoting, UTF-8 or Windows-1252, sniffed or declared delimiter; and random
mappings (date formats, time zones, null placeholders, value maps, reader errors) that must still
put every row in the frame or the quarantine exactly once.
"""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import polars as pl
from changeboard.app.components import safe_csv
from changeboard.ingest.mapping import TableMapping, apply_mapping
from changeboard.ingest.readers import READ_ERROR, read_csv_text
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.hostile.corpus import FORMULA_START

DELIMITERS = (",", ";", "\t", "|")

# Any character but surrogates, NUL and the other C0/C1 controls and the bidirectional embeddings,
# overrides and isolates (a text export has none; they are replaced by U+FFFD by design, tested in
# test_hostile_inputs) - CR, LF and tab are allowed.
cell = st.text(
    alphabet=st.one_of(
        st.characters(
            blacklist_categories=("Cs", "Cc"),
            blacklist_characters="\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069",
        ),
        st.sampled_from(['"', "'", ",", ";", "\t", "|", "\n", "\r", "\ufeff", " ", "=", "😀"]),
    ),
    max_size=16,
)


@st.composite
def text_tables(draw: st.DrawFn) -> tuple[list[str], list[list[str]], str, str]:
    n_cols = draw(st.integers(1, 5))
    encoding = draw(st.sampled_from(["utf-8", "cp1252"]))
    delimiter = draw(st.sampled_from(DELIMITERS))
    headers = [f"col{i}" for i in range(n_cols)]
    row = st.lists(cell, min_size=n_cols, max_size=n_cols).filter(lambda r: any(c.strip() for c in r))
    rows = draw(st.lists(row, max_size=8))
    if encoding == "cp1252":
        for r in rows:
            for c in r:
                try:
                    c.encode("cp1252")
                except UnicodeEncodeError:
                    assume(False)
    return headers, rows, delimiter, encoding


def _write(headers: list[str], rows: list[list[str]], delimiter: str, encoding: str) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    w.writerow(headers)
    w.writerows(rows)
    return buf.getvalue().encode(encoding)


def _ambiguous_cp1252(data: bytes) -> bool:
    """A Windows-1252 line whose bytes are also valid non-ASCII UTF-8 ('Â£' is b'\\xc2\\xa3' = '£'):
    no reader can tell it from UTF-8 (the mixed-encoding reader decodes such a line as UTF-8)."""
    for line in data.split(b"\n"):
        if not line.isascii():
            try:
                line.decode("utf-8")
                return True
            except UnicodeDecodeError:
                pass
    return False


@given(text_tables(), st.booleans())
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)
def test_any_text_table_round_trips(
    table: tuple[list[str], list[list[str]], str, str], declare: bool
) -> None:
    headers, rows, delimiter, encoding = table
    data = _write(headers, rows, delimiter, encoding)
    if encoding == "cp1252":
        assume(not _ambiguous_cp1252(data))
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "t.csv"
        p.write_bytes(data)
        # A one-column header has no delimiter to sniff: declare it then.
        text = read_csv_text(p, delimiter=delimiter if declare or len(headers) == 1 else None)
    assert text.delimiter == delimiter
    assert text.headers == headers
    assert text.frame.height == len(rows)
    got = text.frame.drop("_source_row").rows()
    expected = [tuple(None if v.strip() == "" else v for v in r) for r in rows]
    assert got == expected
    assert text.frame["_source_row"].to_list() == list(range(2, 2 + len(rows)))


# --- the mapping rules ----------------------------------------------------------------------------------

FORMATS = [
    "%Y-%m-%d %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%m-%d-%Y %H:%M:%S",
    "%d.%m.%Y",
    "%Y-%m-%dT%H:%M:%SZ",
    "%b %d %Y",
]
DATE_VALUES = [
    "2026-03-01 10:00:00",
    "01/03/2026 10:00",
    "03-01-2026 10:00:00",
    "01.03.2026",
    "2026-03-29 01:30:00",  # does not exist in Europe/London
    "2026-10-25 01:30:00",  # ambiguous in Europe/London
    "0001-01-01 00:00:00",
    "9999-12-31 23:59:59",
    "45123.5",
    "garbage",
    "?",
    "#N/B",
    "",
]
maybe_text = st.one_of(st.none(), cell, st.sampled_from(["?", "#N/B", "n/a", "'=1+1", "New", "Closed"]))


@st.composite
def mappings(draw: st.DrawFn) -> TableMapping:
    date_formats = tuple(draw(st.lists(st.sampled_from(FORMATS), min_size=1, max_size=4, unique=True)))
    value_map = draw(
        st.dictionaries(st.sampled_from(["New", "Closed", "?", "x"]), st.sampled_from(["new", "closed"]))
    )
    return TableMapping(
        entity="change",
        columns={
            "source_id": ("id",),
            "number": ("num", "id"),
            "title": ("title",),
            "state_raw": ("state",),
            "updated_at": ("updated",),
            "opened_at": ("opened",),
        },
        constants={"source_system": "prop"},
        date_formats=date_formats,
        column_date_formats=draw(st.sampled_from([{}, {"opened_at": ("%d.%m.%Y",)}])),
        timezone=draw(st.sampled_from(["UTC", "Europe/London", "America/New_York"])),
        null_values=tuple(draw(st.lists(st.sampled_from(["?", "#N/B", "n/a"]), unique=True))),
        value_maps={"state_raw": value_map} if value_map else {},
        strip_formula_escape=draw(st.booleans()),
    )


@given(
    mappings(),
    st.lists(
        st.tuples(
            st.one_of(st.none(), cell.filter(lambda s: s.strip() != "")),
            maybe_text,
            maybe_text,
            st.one_of(st.none(), st.sampled_from(DATE_VALUES), cell),
            st.one_of(st.none(), st.sampled_from(DATE_VALUES)),
            st.one_of(st.none(), st.just("row cut by the reader")),
        ),
        max_size=25,
    ),
    st.booleans(),
)
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_mappings_never_lose_a_row(
    mapping: TableMapping,
    rows: list[tuple[str | None, ...]],
    with_reader_errors: bool,
) -> None:
    names = ["id", "title", "state", "updated", "opened"]
    data = {n: [r[i] for r in rows] for i, n in enumerate(names)}
    if with_reader_errors:
        data[READ_ERROR] = [r[5] for r in rows]
    frame = pl.DataFrame(data, schema=dict.fromkeys(data, pl.String)).with_row_index("_source_row", offset=2)
    mapped = apply_mapping(frame, mapping, file_label="prop.csv")
    loaded = mapped.frame["_source_row"].to_list()
    quarantined = mapped.quarantine["_source_row"].to_list()
    assert len(set(loaded)) == len(loaded)
    assert len(set(quarantined)) == len(quarantined)
    assert not set(loaded) & set(quarantined)
    assert sorted(loaded + quarantined) == list(range(2, 2 + len(rows)))
    assert all(len(r) > 0 for r in mapped.quarantine["reasons"].to_list())
    if with_reader_errors:
        cut = {i + 2 for i, r in enumerate(rows) if r[5] is not None}
        assert cut <= set(quarantined)
    # What loads has its key, and its timestamps within the plausible range.
    assert mapped.frame["source_id"].null_count() == 0
    for col in ("updated_at", "opened_at"):
        years = mapped.frame[col].drop_nulls().dt.year()
        assert years.is_empty() or (years.min() >= 1990 and years.max() <= 2100)


# --- CSV downloads --------------------------------------------------------------------------------------


@given(st.lists(st.tuples(cell, cell), max_size=10))
@settings(max_examples=100, deadline=None)
def test_safe_csv_never_starts_a_cell_with_a_formula(rows: list[tuple[str, str]]) -> None:
    frame = pl.DataFrame(
        {"a": [r[0] for r in rows], "b": [r[1] for r in rows]}, schema={"a": pl.String, "b": pl.String}
    )
    out = list(csv.reader(io.StringIO(safe_csv(frame).decode("utf-8-sig"), newline="")))
    assert len(out) == len(rows) + 1
    for written, (a, b) in zip(out[1:], rows, strict=True):
        for got, original in zip(written, (a, b), strict=True):
            assert not got.startswith(FORMULA_START)
            assert got in (original, "'" + original)
