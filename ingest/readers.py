"""Reading export files into all-text polars frames, whatever their encoding or header quirks.

Everything is read as text so that one bad value can never abort a file: typing and validation
happen afterwards, row by row, in :mod:`ingest.mapping`, which quarantines what it cannot parse.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import os
import re
import shutil
import tempfile
import zipfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

CHUNK = 16 * 1024 * 1024
BOM = codecs.BOM_UTF8
# A text column that a reader fills for a record it could not read whole (a cut last line, a JSON
# record that is not an object): :func:`ingest.mapping.apply_mapping` quarantines such a row with it.
READ_ERROR = "_read_error"
# Share of control bytes (other than tab, CR, LF) in the first 4 KiB above which a file is binary.
BINARY_CONTROL_SHARE = 0.05
# XLSX bounds checked before a workbook is opened (a zip bomb or a huge used range would exhaust
# memory inside the XLSX library, which aborts the process rather than raising).
ENV_XLSX_MAX_MB = "CHANGEBOARD_XLSX_MAX_MB"
ENV_XLSX_MAX_CELLS = "CHANGEBOARD_XLSX_MAX_CELLS"
DEFAULT_XLSX_MAX_MB = 256
DEFAULT_XLSX_MAX_CELLS = 20_000_000
_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 13)) + b"\x7f"


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
    controls = len(head) - len(head.translate(None, _CONTROL))
    if controls > BINARY_CONTROL_SHARE * len(head):
        raise ReadError(
            f"{path}: binary content ({controls} control or NUL bytes in the first {len(head)}) where a text "
            "export was expected (a CSV, XLSX or JSON export; a UTF-16 text file must be saved as UTF-8 CSV)"
        )
    return "csv"


def detect_encoding(path: Path) -> str:
    """``utf-8-sig`` (BOM), ``utf-8`` when every byte decodes strictly, else ServiceNow's cp1252."""
    return _scan(path)[0]


def _scan(path: Path, *, stop_if_not_utf8: bool = False) -> tuple[str, bool | None, bool]:
    """The encoding (as :func:`detect_encoding`), whether the file holds NUL bytes, and whether it
    ends with a line break, in one streamed pass.

    With ``stop_if_not_utf8`` the pass ends at the first chunk that is not UTF-8 and the NUL answer
    is None: the transcoder, which reads the whole file anyway, tells it (see :func:`csv_batches`).
    """
    with path.open("rb") as f:
        bom = f.read(3) == BOM
        f.seek(0, os.SEEK_END)
        if f.tell():
            f.seek(-1, os.SEEK_END)
        last = f.read(1)
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    utf8 = True
    has_nul: bool | None = False
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            has_nul = has_nul or b"\x00" in chunk
            if utf8 and not bom:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False
                    if stop_if_not_utf8:
                        has_nul = None
                        break
        if utf8 and not bom:
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                utf8 = False
    encoding = "utf-8-sig" if bom else ("utf-8" if utf8 else "cp1252")
    return encoding, has_nul, last in (b"\n", b"\r")


def _transcode(path: Path, encoding: str, tmpdir: Path) -> Path:
    """A UTF-8 copy of a file in another encoding (streamed; undecodable bytes become U+FFFD)."""
    out = tmpdir / (path.name + ".utf8")
    with (
        path.open("r", encoding=encoding, errors="replace", newline="") as src,
        out.open("w", encoding="utf-8", newline="") as dst,
    ):
        shutil.copyfileobj(src, dst, CHUNK)
    return out


_BAD_LINE = re.compile(r"(?m)^[^\n\udc80-\udcff]*[\udc80-\udcff][^\n]*")
_NON_ASCII_UTF8 = re.compile(r"[\u0080-\udc7f\udd00-\U0010ffff]")
# Each byte as UTF-8 text when read as cp1252 (undefined bytes become U+FFFD, as the codec's "replace").
_CP1252_UTF8 = [bytes([b]).decode("cp1252", errors="replace").encode("utf-8") for b in range(256)]
# Above one high byte in this many, a chunk is decoded by the codec rather than byte by byte.
_SPARSE_HIGH = 256


def _cp1252_to_utf8(data: bytes, high: np.ndarray) -> bytes:
    """``data`` decoded as cp1252 (errors replaced) and encoded as UTF-8; ``high`` are the offsets of
    its bytes above 0x7F. A chunk of a cp1252 export is mostly ASCII: only its few high bytes are
    looked up, the ASCII runs between them are copied as they are."""
    if high.size * _SPARSE_HIGH > len(data):
        return data.decode("cp1252", errors="replace").encode("utf-8")
    view = memoryview(data)
    pieces: list[bytes | memoryview] = []
    pos = 0
    for i in high.tolist():
        pieces.append(view[pos:i])
        pieces.append(_CP1252_UTF8[data[i]])
        pos = i + 1
    pieces.append(view[pos:])
    return b"".join(pieces)


def _has_utf8_pair(arr: np.ndarray, high: np.ndarray) -> bool:
    """Whether the bytes hold a UTF-8 lead byte (C2-F4) followed by a continuation byte (80-BF)."""
    if high.size < 2:
        return False
    adjacent = np.flatnonzero(np.diff(high) == 1)
    lead = arr[high[adjacent]]
    cont = arr[high[adjacent + 1]]
    return bool(((lead >= 0xC2) & (lead <= 0xF4) & (cont <= 0xBF)).any())


def _transcode_mixed(path: Path, tmpdir: Path) -> tuple[Path, int, int, bool, bool]:
    """A UTF-8 copy of a file that is not valid UTF-8: each line that is valid UTF-8 stays as it is,
    each other line is decoded as cp1252 (a UTF-8 export with a few pasted Windows-1252 lines).

    Returns the copy, the number of chunks with lines decoded as cp1252, the first such line (1-based,
    physical), whether other lines held non-ASCII UTF-8 text (a mixed file, not a cp1252 one), and
    whether the file holds NUL bytes.
    """
    out = tmpdir / (path.name + ".utf8")
    fallback = 0
    first_bad = 0
    utf8_text = False
    has_nul = False
    line_no = 1  # counted until the first line decoded as cp1252 is known
    with path.open("rb") as src, out.open("wb") as dst:
        rest = b""
        while True:
            chunk = src.read(CHUNK)
            data = rest + chunk
            if chunk:
                cut = data.rfind(b"\n") + 1
                if cut == 0:
                    rest = data
                    continue
                data, rest = data[:cut], data[cut:]
            has_nul = has_nul or b"\x00" in data
            arr = np.frombuffer(data, dtype=np.uint8)
            high = np.flatnonzero(arr >= 0x80)
            if not high.size:  # plain ASCII: nothing to decode
                dst.write(data)
            elif not _has_utf8_pair(arr, high):
                # no UTF-8 multi-byte text in this chunk (a cp1252 file): decode it whole
                fallback += 1
                first_bad = first_bad or line_no + data.count(b"\n", 0, int(high[0]))
                dst.write(_cp1252_to_utf8(data, high))
            else:
                text = data.decode("utf-8", errors="surrogateescape")
                bad = list(_BAD_LINE.finditer(text))
                if bad:
                    fallback += len(bad)
                    first_bad = first_bad or line_no + text.count("\n", 0, bad[0].start())
                    pieces, pos = [], 0
                    for m in bad:
                        pieces.append(text[pos : m.start()])
                        raw = m.group(0).encode("utf-8", errors="surrogateescape")
                        pieces.append(raw.decode("cp1252", errors="replace"))
                        pos = m.end()
                    pieces.append(text[pos:])
                    utf8_text = utf8_text or bool(_NON_ASCII_UTF8.search(_BAD_LINE.sub("", text)))
                    text = "".join(pieces)
                else:
                    utf8_text = True
                dst.write(text.encode("utf-8"))
            if not first_bad:
                line_no += data.count(b"\n")  # decoding keeps every line break: the bytes' count
            if not chunk:
                break
    return out, fallback, first_bad, utf8_text, has_nul


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
    with csv_batches(path, encoding=encoding, delimiter=delimiter, null_values=null_values) as text:
        frames = list(text.batches)
    frame = frames[0] if len(frames) == 1 else pl.concat(frames, how="diagonal_relaxed")
    return TextTable(
        frame=frame,
        headers=text.headers,
        encoding=text.encoding,
        delimiter=text.delimiter,
        warnings=text.warnings,
    )


@dataclass
class TextBatches:
    """An export being read as text in batches of rows (see :func:`csv_batches`).

    ``warnings`` grows while ``batches`` is consumed: read it after the last batch.
    """

    headers: list[str]
    encoding: str
    delimiter: str
    warnings: list[str]
    batches: Iterator[pl.DataFrame]


@contextmanager
def csv_batches(
    path: Path,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    null_values: list[str] | None = None,
    batch_rows: int | None = None,
) -> Iterator[TextBatches]:
    """Read a CSV export as text in batches of about ``batch_rows`` rows (None: one batch).

    Every batch has unique column names, ``_source_row`` (the physical line of a one-line record)
    and, when the reader could not read some record whole, ``_read_error`` with the reason. A large
    export is never held whole as text: only the batch being mapped is.

    Raises:
        ReadError: the file is empty, has no header or cannot be parsed as CSV (also while iterating).
    """
    # Undeclared and not UTF-8: the scan stops there, the transcoder reads the rest (and finds NULs).
    detected, has_nul, ends_with_eol = _scan(path, stop_if_not_utf8=encoding is None)
    declared = encoding
    encoding = encoding or detected
    warnings: list[str] = []
    with tempfile.TemporaryDirectory(prefix="changeboard-") as tmp:
        source = path
        if encoding not in ("utf-8", "utf-8-sig", "utf8"):
            if declared:
                source = _transcode(path, encoding, Path(tmp))
                warnings.append(f"decoded as {encoding} (not UTF-8)")
            else:
                source, _lines, first_bad, utf8_text, has_nul = _transcode_mixed(path, Path(tmp))
                if utf8_text:
                    warnings.append(
                        f"mixed encodings: lines that are not UTF-8 (the first is line {first_bad}) were decoded as "
                        "cp1252, the other lines as UTF-8"
                    )
                else:
                    warnings.append(f"decoded as {encoding} (not UTF-8)")
        with source.open("r", encoding="utf-8-sig", errors="replace", newline="") as f:
            first = f.readline()
        if not first.strip():
            raise ReadError(f"{path}: no header line (expected a CSV export with column names)")
        delimiter = delimiter or sniff_delimiter(first)
        # One column more than the header has: a record with more fields than the header (an unquoted
        # delimiter in a value) shows there instead of losing its extra values without a trace.
        header_width = _header_width(first, delimiter)
        spare = (
            {
                "schema": {f"column_{i}": pl.String for i in range(header_width + 1)},
                "missing_columns": "insert",
            }
            if header_width
            else {}
        )
        scan = pl.scan_csv(
            source,
            has_header=False,
            infer_schema=False,
            separator=delimiter,
            quote_char='"',
            encoding="utf8-lossy",
            empty_string_is_null=True,
            truncate_ragged_lines=True,
            raise_if_empty=False,
            **spare,
        )
        cut_fields = None if ends_with_eol else _last_line_fields(source, delimiter)
        raw_frames = _raw_batches(path, source, delimiter, scan, batch_rows)
        first_frame = next(raw_frames, None)
        if first_frame is None or first_frame.height == 0:
            raise ReadError(f"{path}: no header line (expected a CSV export with column names)")
        shape = _TextShape.of(first_frame, header_width)
        reading = _BatchReader(
            shape=shape,
            has_nul=bool(has_nul),
            cut_fields=cut_fields,
            null_values=null_values or [],
            warnings=warnings,
        )
        yield TextBatches(
            headers=shape.raw_headers,
            encoding=encoding,
            delimiter=delimiter,
            warnings=warnings,
            batches=reading.run(first_frame.slice(1), raw_frames),
        )


def _raw_batches(
    path: Path, source: Path, delimiter: str, scan: pl.LazyFrame, batch_rows: int | None
) -> Iterator[pl.DataFrame]:
    """The file's rows as polars reads them, header row first; parse errors as ReadError."""
    try:
        if batch_rows is None:
            yield scan.collect()
        else:
            yield from scan.collect_batches(chunk_size=batch_rows)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as exc:
        raise ReadError(_parse_error(path, source, delimiter, exc)) from exc


@dataclass
class _TextShape:
    """The header of a CSV export: names as written, unique names, the spare column."""

    raw_headers: list[str]
    headers: list[str]
    spare: str | None  # the extra column that catches fields beyond the header

    @classmethod
    def of(cls, first: pl.DataFrame, header_width: int | None) -> _TextShape:
        spare = first.columns[-1] if header_width and first.width == header_width + 1 else None
        row = first.drop(spare).row(0) if spare else first.row(0)
        raw = [("" if v is None else str(v)).removeprefix("\ufeff") for v in row]
        return cls(raw_headers=raw, headers=unique_headers(raw), spare=spare)


@dataclass
class _BatchReader:
    """Turns polars' raw batches into text batches: names, row numbers, long / blank / cut rows."""

    shape: _TextShape
    has_nul: bool
    cut_fields: int | None
    null_values: list[str]
    warnings: list[str]
    next_row: int = 2
    long_rows: int = 0
    first_long: int | None = None
    nul_rows: list[int] = field(default_factory=list)

    def run(self, first: pl.DataFrame, rest: Iterator[pl.DataFrame]) -> Iterator[pl.DataFrame]:
        pending = first
        for raw in rest:
            if raw.height == 0:
                continue
            yield self._batch(pending, last=False)
            pending = raw
        yield self._batch(pending, last=True)
        self._close()

    def _batch(self, raw: pl.DataFrame, *, last: bool) -> pl.DataFrame:
        shape = self.shape
        long_rows = None
        if shape.spare is not None:
            long_rows = raw[shape.spare].is_not_null()
            raw = raw.drop(shape.spare)
        frame = raw.rename(dict(zip(raw.columns, shape.headers, strict=True)))
        frame = frame.with_row_index("_source_row", offset=self.next_row)
        self.next_row += raw.height
        # Empty trailing columns (a trailing delimiter) and blank trailing lines are tolerated.
        empty_cols = [
            h
            for h, name in zip(shape.headers, shape.raw_headers, strict=True)
            if not name.strip() and frame[h].null_count() == frame.height
        ]
        if empty_cols:
            frame = frame.drop(empty_cols)
        if long_rows is not None and long_rows.any():
            frame = frame.with_columns(
                pl.when(long_rows)
                .then(
                    pl.format(
                        "row {}: more fields than the header's {} (an unquoted delimiter in a value?); "
                        "the record is not loaded",
                        pl.col("_source_row"),
                        pl.lit(len(shape.raw_headers)),
                    )
                )
                .otherwise(pl.lit(None, dtype=pl.String))
                .alias(READ_ERROR)
            )
            self.long_rows += int(long_rows.sum())
            if self.first_long is None:
                self.first_long = int(frame.filter(long_rows)["_source_row"][0])
        data_cols = [c for c in frame.columns if c not in ("_source_row", READ_ERROR)]
        if data_cols and (blank := _blank_rows(frame, data_cols)) is not None:
            frame = frame.filter(~blank)
        if self.has_nul and data_cols:
            frame, nul_rows = _replace_nul(frame, data_cols)
            self.nul_rows.extend(nul_rows)
        width = len(shape.raw_headers)
        if last and self.cut_fields is not None and self.cut_fields < width and frame.height:
            last_row = int(frame["_source_row"][-1])
            message = (
                f"row {last_row}: {self.cut_fields} of {width} fields and the file ends without a line break: "
                "the export was cut here (expected a complete last line)"
            )
            frame = frame.with_columns(
                pl.when(pl.col("_source_row") == last_row)
                .then(pl.lit(message))
                .otherwise(
                    pl.col(READ_ERROR) if READ_ERROR in frame.columns else pl.lit(None, dtype=pl.String)
                )
                .alias(READ_ERROR)
            )
            self.warnings.append(f"WARNING: {message}; that row is quarantined")
        return normalise_nulls(frame, self.null_values)

    def _close(self) -> None:
        if self.long_rows:
            self.warnings.append(
                f"WARNING: {self.long_rows:,} row(s) have more fields than the header's {len(self.shape.raw_headers)} "
                f"(the first is row {self.first_long}); they are quarantined"
            )
        if self.nul_rows:
            rows = self.nul_rows
            self.warnings.append(
                f"NUL bytes in {len(rows):,} row(s) (row {', '.join(map(str, rows[:5]))}"
                f"{'...' if len(rows) > 5 else ''}) were replaced by U+FFFD"
            )


def _blank_rows(frame: pl.DataFrame, cols: list[str]) -> pl.Series | None:
    """Which rows have every one of ``cols`` empty or blank; None when no row has. Column by column:
    in an export almost no row is blank, so the first column usually settles it."""
    blank: pl.Series | None = None
    for c in cols:
        values = frame[c]
        empty = values.is_null() | (values.str.strip_chars() == "")
        blank = empty if blank is None else blank & empty
        if not blank.any():
            return None
    return blank


def _header_width(first_line: str, delimiter: str) -> int | None:
    """Fields of the header line (None when it is not a whole record: a quoted line break in a name)."""
    line = first_line.rstrip("\r\n")
    if line.count('"') % 2:
        return None
    return len(next(csv.reader([line], delimiter=delimiter), [])) or None


def _last_line_fields(source: Path, delimiter: str) -> int | None:
    """Fields of the last physical line when it is a whole record (None when it is not: a multi-line
    quoted field); only asked when the file does not end with a line break."""
    with source.open("rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - 1024 * 1024))
        tail = f.read()
    line = tail.rsplit(b"\n", 1)[-1].decode("utf-8", errors="replace")
    if not line.strip() or line.count('"') % 2:
        return None
    try:
        fields = next(csv.reader([line], delimiter=delimiter, strict=True))
    except (csv.Error, StopIteration):
        return None
    return len(fields)


def _replace_nul(frame: pl.DataFrame, cols: list[str]) -> tuple[pl.DataFrame, list[int]]:
    has = pl.any_horizontal([pl.col(c).str.contains("\x00", literal=True).fill_null(False) for c in cols])
    rows = frame.filter(has)["_source_row"].to_list()
    if not rows:
        return frame, []
    frame = frame.with_columns(pl.col(c).str.replace_all("\x00", "\ufffd", literal=True) for c in cols)
    return frame, [int(r) for r in rows]


def _parse_error(path: Path, source: Path, delimiter: str, exc: Exception) -> str:
    """A CSV parse error in plain words: which row and column, and what was expected."""
    text = str(exc)
    column = re.search(r"column number (\d+)", text)
    col_no = int(column.group(1)) if column else None
    row = None
    with source.open("r", encoding="utf-8", errors="replace", newline="") as f:
        reader = csv.reader(f, delimiter=delimiter, strict=True)
        header: list[str] = []
        n = 0
        try:
            for n, rec in enumerate(reader, start=1):
                if n == 1:
                    header = rec
        except csv.Error:
            row = n + 1
    where = []
    if row is not None:
        where.append(f"row {row}")
    if col_no is not None:
        name = header[col_no - 1] if header and col_no <= len(header) else f"#{col_no}"
        where.append(f"column {name!r}")
    what = "a quoted field is not closed" if "not properly escaped" in text else text.splitlines()[0][:200]
    return (
        f"{path}: cannot be parsed as CSV with delimiter {delimiter!r}: {what}"
        f"{' (' + ', '.join(where) + ')' if where else ''}; the file may have been cut "
        "(expected every quoted field to be closed); nothing was loaded from it"
    )


def check_xlsx_bounds(path: Path) -> None:
    """Refuse a workbook whose sheets expand beyond the configured size or cell count, before any
    XLSX library opens it (a few MB of zip can expand to GBs of XML, and one cell at XFD1048576 makes
    a 17-billion-cell range).

    Raises:
        ReadError: not a zip, or over ``CHANGEBOARD_XLSX_MAX_MB`` of sheet XML or
            ``CHANGEBOARD_XLSX_MAX_CELLS`` cells in a sheet's used range.
    """
    max_bytes = int(float(os.environ.get(ENV_XLSX_MAX_MB, DEFAULT_XLSX_MAX_MB)) * 1024 * 1024)
    max_cells = int(os.environ.get(ENV_XLSX_MAX_CELLS, DEFAULT_XLSX_MAX_CELLS))
    advice = f"export it as CSV, or raise {ENV_XLSX_MAX_MB} / {ENV_XLSX_MAX_CELLS} if it is genuine"
    try:
        with zipfile.ZipFile(path) as z:
            parts = [
                i
                for i in z.infolist()
                if (i.filename.startswith("xl/worksheets/") and i.filename.endswith(".xml"))
                or i.filename == "xl/sharedStrings.xml"
            ]
            declared = sum(i.file_size for i in parts)
            if declared > max_bytes:
                raise ReadError(
                    f"{path}: the XLSX workbook expands to {declared / 2**20:,.0f} MB of sheet XML "
                    f"({path.stat().st_size / 2**20:,.1f} MB on disk); the limit is {max_bytes / 2**20:,.0f} MB: "
                    f"nothing was loaded ({advice})"
                )
            total = 0
            for info in parts:
                if not info.filename.startswith("xl/worksheets/"):
                    continue
                rows, cols, read = _sheet_extent(z, info, max_bytes - total)
                total += read
                if total > max_bytes:
                    raise ReadError(
                        f"{path}: the XLSX workbook expands beyond {max_bytes / 2**20:,.0f} MB of sheet XML "
                        f"(its zip directory claims {declared / 2**20:,.1f} MB): nothing was loaded ({advice})"
                    )
                if rows * cols > max_cells:
                    raise ReadError(
                        f"{path}: sheet {info.filename.rsplit('/', 1)[-1]} spans {rows:,} rows x {cols:,} columns "
                        f"({rows * cols:,} cells; the limit is {max_cells:,}): nothing was loaded ({advice})"
                    )
    except zipfile.BadZipFile as exc:
        raise ReadError(f"{path}: not a readable XLSX workbook (BadZipFile: {exc})") from exc


_ROW_REF = re.compile(rb"<row\b[^>]*?\br=\"(\d+)\"")
_CELL_REF = re.compile(rb"<c\b[^>]*?\br=\"([A-Z]+)\d+\"")


def _col_number(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ch - 64)
    return n


def _sheet_extent(z: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> tuple[int, int, int]:
    """(rows, columns, bytes read) of a sheet's cell range, streamed; stops once ``budget`` bytes of
    XML were read. Cells and rows without an ``r`` attribute count from the previous one."""
    max_row = 0
    max_col = 0
    rows_seen = 0
    widest = 0
    read = 0
    rest = b""
    with z.open(info) as f:
        while True:
            chunk = f.read(CHUNK)
            read += len(chunk)
            data = rest + chunk
            if chunk:
                cut = data.rfind(b"</row>")
                if cut < 0:
                    rest = data
                    if read > budget:
                        break
                    continue
                data, rest = data[: cut + 6], data[cut + 6 :]
            explicit = [int(r) for r in _ROW_REF.findall(data)]
            max_row = max([max_row, *explicit])
            rows_seen += data.count(b"<row")
            cols = set(_CELL_REF.findall(data))
            if cols:
                max_col = max(max_col, max(_col_number(c) for c in cols))
            cells = data.count(b"<c ") + data.count(b"<c>") + data.count(b"<c/>")
            if cells:
                # cells without a reference: bound the width by the longest row
                widest = max(
                    widest,
                    max(p.count(b"<c ") + p.count(b"<c>") + p.count(b"<c/>") for p in data.split(b"</row>")),
                )
            if read > budget or not chunk:
                break
    return max(max_row, rows_seen), max(max_col, widest), read


def normalise_nulls(frame: pl.DataFrame, null_values: list[str]) -> pl.DataFrame:
    """Empty or blank strings and the declared placeholders (``?``, ``#N/B``...), with any white space
    around them, become null. One anchored regex per column: it rejects a value at its first other
    character, where stripping every value first copied them all (a third slower)."""
    alternatives = "|".join(re.escape(v) for v in null_values if v)
    pattern = rf"^\s*(?:{alternatives})?\s*$" if alternatives else r"^\s*$"
    cols = [c for c, t in frame.schema.items() if t == pl.String]
    return frame.with_columns(
        pl.when(pl.col(c).str.contains(pattern)).then(None).otherwise(pl.col(c)).alias(c) for c in cols
    )


def read_text_bytes(data: bytes, name: str = "<memory>") -> TextTable:
    """Read CSV text from bytes (tests and in-memory callers)."""
    with tempfile.TemporaryDirectory(prefix="changeboard-") as tmp:
        p = Path(tmp) / name
        p.write_bytes(data)
        return read_csv_text(p)


__all__ = [
    "READ_ERROR",
    "ReadError",
    "TextTable",
    "check_xlsx_bounds",
    "detect_encoding",
    "io",
    "normalise_nulls",
    "read_csv_text",
    "read_text_bytes",
    "sha256_file",
    "sniff_kind",
    "unique_headers",
]
