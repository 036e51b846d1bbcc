"""The two streamed scans that gate hostile input (issue #20) agree with the standard library's
parsers on any text, however the text is cut into chunks: the CSV field counter (short records) and
the JSON depth scan (nesting bound)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from changeboard.ingest.readers import FieldCounter, JsonDepth
from hypothesis import given, settings
from hypothesis import strategies as st

# no bare CR: the csv module ends a record there (and does not quote it), polars does not; a CR-only
# file is turned into LF lines before it is read (tests/hostile/corpus.py: cr_only)
field = st.text(alphabet=st.sampled_from(["a", ",", '"', "\n", " ", "é", ";"]), max_size=6)


@given(
    st.lists(st.lists(field, min_size=1, max_size=5), min_size=1, max_size=8),
    st.integers(1, 40),
    st.booleans(),
)
@settings(max_examples=300, deadline=None)
def test_field_counter_matches_the_csv_module(
    records: list[list[str]], chunk: int, final_break: bool
) -> None:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([["h1", "h2", "h3"], *records])
    text = buf.getvalue() if final_break else buf.getvalue()[:-1]
    data = text.encode()
    parsed = list(csv.reader(io.StringIO(text, newline="")))
    expected = {n + 1 for n, rec in enumerate(parsed) if n > 0 and len(rec) < 3}
    counter = FieldCounter(",", 3)
    for i in range(0, len(data), chunk):
        counter.feed(data[i : i + chunk])
    assert counter.finish() == expected


json_values = st.recursive(
    st.none()
    | st.integers()
    | st.text(alphabet=st.sampled_from(['"', "\\", "[", "{", "}", "]", "a", "é"]), max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=12,
)


def _depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


@given(json_values, st.integers(1, 17))
@settings(max_examples=300, deadline=None)
def test_json_depth_matches_the_json_module(value: Any, chunk: int) -> None:
    data = json.dumps(value, ensure_ascii=False).encode()
    depth = _depth(value)

    def over(limit: int) -> bool:
        scan = JsonDepth(limit)
        return any(scan.feed(data[i : i + chunk]) for i in range(0, len(data), chunk))

    assert not over(depth)
    if depth:
        assert over(depth - 1)
