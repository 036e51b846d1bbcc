"""Reading export files into all-text polars frames, whatever their encoding or header quirks.

Everything is read as text so that one bad value can never abort a file: typing and validation
happen afterwards, row by row, in :mod:`ingest.mapping`, which quarantines what it cannot parse.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

CHUNK = 16 * 1024 * 1024
BOM = codecs.BOM_UTF8


class ReadError(Exception):
    """A file that cannot be read at all: the message names the file and what was expected."""


@dataclass
class TextTable:
    """An export read as text: unique column names, the headers as written, and the rows."""

    frame: pl.DataFrame
    headers: list[str]
    encoding: str
    delimiter: str = ","
    warnings: list[str] = field(default_factory=list)


def sha256_file(path: Path) -> str:
    """The sha256 of a file, streamed."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def sniff_kind(path: Path) -> str:
    """The container format from the first bytes: xlsx, xls, json, xml or csv."""
    with path.open("rb") as f:
        head = f.read(4096)
    if not head:
        raise ReadError(f"{path}: the file is empty (expected a CSV, XLSX or JSON export)")
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "xls"
    stripped = head.removeprefix(BOM).lstrip()
    if stripped[:1] in (b"{", b"["):
        return "json"
    if stripped[:1] == b"<":
        return "xml"
    if b"\x00" in head:
        raise ReadError(f"{path}: binary content (NUL bytes) where a text export was expected")
    return "csv"


def detect_encoding(path: Path) -> str:
    """``utf-8-sig`` (BOM), ``utf-8`` when every byte decodes strictly, else ServiceNow's cp1252."""
    with path.open("rb") as f:
        if f.read(3) == BOM:
            return "utf-8-sig"
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    try:
        with path.open("rb") as f:
            while chunk := f.read(CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


def _transcode(path: Path, encoding: str, tmpdir: Path) -> Path:
    """A UTF-8 copy of a file in another encoding (streamed; undecodable bytes become U+FFFD)."""
    out = tmpdir / (path.name + ".utf8")
    with (
        path.open("r", encoding=encoding, errors="replace", newline="") as src,
        out.open("w", encoding="utf-8", newline="") as dst,
    ):
        shutil.copyfileobj(src, dst, CHUNK)
    return out


def sniff_delimiter(first_line: str) -> str:
    """The delimiter of a CSV from its header line: the most frequent of , ; tab |."""
    try:
        return csv.Sniffer().sniff(first_line, delimiters=",;\t|").delimiter
    except csv.Error:
        counts = {d: first_line.count(d) for d in ",;\t|"}
        return max(counts, key=lambda d: counts[d])


def unique_headers(headers: list[str]) -> list[str]:
    """Make repeated header names unique by position: ``Labels``, ``Labels#2``, ``Labels#3``.

    Jira repeats a column once per value (Labels, Comment, Sprint) and writes two custom fields of
    the same name as identical headers; both must survive with their position.
    """
    seen: Counter[str] = Counter()
    out = []
    for i, raw in enumerate(headers):
        name = (raw or "").strip() or f"column_{i + 1}"
        seen[name] += 1
        out.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return out


def read_csv_text(
    path: Path,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    null_values: list[str] | None = None,
) -> TextTable:
    """Read a CSV export as text, with positional headers, whatever its encoding.

    Args:
        path: the file.
        encoding: force an encoding; by default UTF-8 (with or without BOM) else Windows-1252.
        delimiter: force a delimiter; by default sniffed from the header line.
        null_values: strings that mean "no value" (besides the empty string).

    Raises:
        ReadError: the file is empty, has no header or cannot be parsed as CSV.
    """
    encoding = encoding or detect_encoding(path)
    warnings: list[str] = []
    with tempfile.TemporaryDirectory(prefix="changeboard-") as tmp:
        source = path
        if encoding not in ("utf-8", "utf-8-sig", "utf8"):
            source = _transcode(path, encoding, Path(tmp))
            warnings.append(f"decoded as {encoding} (not UTF-8)")
        with source.open("r", encoding="utf-8-sig", errors="replace", newline="") as f:
            first = f.readline()
        if not first.strip():
            raise ReadError(f"{path}: no header line (expected a CSV export with column names)")
        delimiter = delimiter or sniff_delimiter(first)
        try:
            frame = pl.read_csv(
                source,
                has_header=False,
                infer_schema=False,
                separator=delimiter,
                quote_char='"',
                encoding="utf8-lossy",
                empty_string_is_null=True,
                truncate_ragged_lines=True,
                raise_if_empty=False,
            )
        except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as exc:
            raise ReadError(f"{path}: cannot be parsed as CSV with delimiter {delimiter!r}: {exc}") from exc
    if frame.height == 0:
        raise ReadError(f"{path}: no header line (expected a CSV export with column names)")
    raw_headers = [("" if v is None else str(v)).removeprefix("\ufeff") for v in frame.row(0)]
    headers = unique_headers(raw_headers)
    frame = frame.slice(1).rename(dict(zip(frame.columns, headers, strict=True)))
    # Empty trailing columns (a trailing delimiter) and blank trailing lines are tolerated.
    empty_cols = [
        h
        for h, raw in zip(headers, raw_headers, strict=True)
        if not raw.strip() and frame[h].null_count() == frame.height
    ]
    if empty_cols:
        frame = frame.drop(empty_cols)
        headers = [h for h in headers if h not in empty_cols]
    frame = frame.with_row_index("_source_row", offset=2)
    data_cols = [c for c in frame.columns if c != "_source_row"]
    if data_cols:
        blank = pl.all_horizontal(
            [pl.col(c).is_null() | (pl.col(c).str.strip_chars() == "") for c in data_cols]
        )
        frame = frame.filter(~blank)
    frame = normalise_nulls(frame, null_values or [])
    return TextTable(
        frame=frame, headers=raw_headers, encoding=encoding, delimiter=delimiter, warnings=warnings
    )


def normalise_nulls(frame: pl.DataFrame, null_values: list[str]) -> pl.DataFrame:
    """Empty strings and the declared placeholders (``?``, ``#N/B``...) become null."""
    placeholders = ["", *null_values]
    cols = [c for c, t in frame.schema.items() if t == pl.String]
    return frame.with_columns(
        pl.when(pl.col(c).str.strip_chars().is_in(placeholders)).then(None).otherwise(pl.col(c)).alias(c)
        for c in cols
    )


def read_text_bytes(data: bytes, name: str = "<memory>") -> TextTable:
    """Read CSV text from bytes (tests and in-memory callers)."""
    with tempfile.TemporaryDirectory(prefix="changeboard-") as tmp:
        p = Path(tmp) / name
        p.write_bytes(data)
        return read_csv_text(p)


__all__ = [
    "ReadError",
    "TextTable",
    "detect_encoding",
    "io",
    "normalise_nulls",
    "read_csv_text",
    "read_text_bytes",
    "sha256_file",
    "sniff_kind",
    "unique_headers",
]
