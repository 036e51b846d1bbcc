"""A corpus of bad exports, generated into a folder by the tests (nothing here is a committed file).

Each :class:`Item` is one export in its own folder (so that a folder manifest can declare settings
for it alone), named ``change_request_<item>.<ext>`` so that ServiceNow's table detection picks
``change_request``. The records an item holds are counted here, independently of the readers:
``records`` is the number of data records written (what ``rows_read`` must equal when the run
succeeds), ``None`` when the file is not meant to be readable at all.
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HEADERS = ["number", "sys_id", "short_description", "state", "type", "sys_updated_on"]
UPDATED = "2026-03-01 10:00:00"

FORMULAS = ['=HYPERLINK("http://x","click")', "+cmd|' /C calc'!A0", "@SUM(1)", "-2+3", "=1+1"]
SQL = ["'); drop table raw.change; --", "1; DELETE FROM meta.ingest_run WHERE 1=1; --", "' OR '1'='1"]
HTML = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "</td></tr><b>bold</b>"]

# Change titles re-used by the escaping tests (tests/hostile/conftest.py builds a warehouse with them).
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
HOSTILE_TITLES = [SCRIPT, IMG, '=HYPERLINK("http://x","click")', "+cmd|' /C calc'!A0", "@SUM(1)", SQL[0]]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet runs as a formula (OWASP)

# Outcomes an item may end in.
SUCCEEDED = "succeeded"
FAILED = "failed"


@dataclass
class Item:
    """One hostile export and what a correct ingest of it looks like."""

    name: str
    path: Path
    records: int | None  # data records written; None when the file is not a readable export
    expect: tuple[str, ...]  # allowed statuses
    quarantined: int | None = None  # exact quarantined rows expected when it succeeds (None: any)
    verbatim: list[str] = field(default_factory=list)  # titles that must be stored as written
    error_words: tuple[str, ...] = ()  # words the error must contain when it fails (besides the file)
    note: str = ""
    warning_words: tuple[str, ...] = ()  # words the reading's warnings must contain when it succeeds


def row(i: int, title: str | None = None, *, updated: str = UPDATED, state: str = "New") -> list[str]:
    return [
        f"CHG{9_000_000 + i}",
        f"hostile{i:028d}",
        title or f"Hostile change {i}",
        state,
        "Normal",
        updated,
    ]


def csv_text(
    rows: list[list[str]], *, headers: list[str] = HEADERS, delimiter: str = ",", eol: str = "\n"
) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator=eol, quoting=csv.QUOTE_MINIMAL)
    w.writerow(headers)
    w.writerows(rows)
    return buf.getvalue()


def _folder(root: Path, name: str) -> Path:
    d = root / name
    d.mkdir(parents=True, exist_ok=True)
    return d


def _file(root: Path, name: str, ext: str = "csv") -> Path:
    return _folder(root, name) / f"change_request_{name}.{ext}"


# ----------------------------------------------------------------------------------------- the items


def truncated_mid_quoted_field(root: Path) -> Item:
    rows = [row(i) for i in range(4)] + [row(4, "Cut here, inside a quoted field that never ends")]
    text = csv_text(rows)
    cut = text.index("inside a quoted")
    p = _file(root, "truncated_quoted")
    p.write_text(text[:cut], encoding="utf-8")
    # The last record is cut: 5 records were (partly) written; the cut one must not load silently.
    return Item(
        "truncated_quoted",
        p,
        5,
        (FAILED,),
        error_words=("row 6", "short_description"),
        note="cut inside a quoted field",
    )


def truncated_mid_row(root: Path) -> Item:
    rows = [row(i) for i in range(5)]
    text = csv_text(rows)
    cut = text.rindex("Hostile change 4") + len("Hostile")
    p = _file(root, "truncated_row")
    p.write_text(text[:cut], encoding="utf-8")
    return Item("truncated_row", p, 5, (SUCCEEDED,), quarantined=1, note="cut mid-row, no final newline")


def unquoted_delimiter_in_a_value(root: Path) -> Item:
    """A record with more fields than the header (a hand-edited export): quarantined, not truncated."""
    rows = [row(i) for i in range(5)]
    rows[2] = [*rows[2][:2], "Patch web01", " then reboot", *rows[2][3:]]
    p = _file(root, "unquoted_delimiter")
    p.write_text(csv_text(rows), encoding="utf-8")
    return Item(
        "unquoted_delimiter", p, 5, (SUCCEEDED,), quarantined=1, note="7 fields under a 6-field header"
    )


def wrong_delimiter(root: Path) -> Item:
    p = _file(root, "wrong_delimiter")
    p.write_text(csv_text([row(i) for i in range(3)], delimiter=";"), encoding="utf-8")
    (p.parent / "_export.toml").write_text('system = "servicenow"\ndelimiter = ","\n', encoding="utf-8")
    return Item(
        "wrong_delimiter", p, None, (FAILED,), error_words=("column",), note="semicolon file declared comma"
    )


def semicolon_sniffed_as_comma(root: Path) -> Item:
    """Header names with commas in them: more commas than semicolons on the header line."""
    headers = ["number", "sys_id", "short_description", "state", "type", "sys_updated_on"]
    quoted = ";".join(headers) + ';"Notes, comments, remarks, and more"\n'
    body = "".join(";".join(r) + ";x\n" for r in (row(i) for i in range(3)))
    p = _file(root, "semicolon_as_comma")
    p.write_text(quoted + body, encoding="utf-8")
    return Item(
        "semicolon_as_comma", p, 3, (SUCCEEDED,), quarantined=0, note="header with commas in a quoted name"
    )


def binary_garbage(root: Path) -> Item:
    rnd = random.Random(8)
    p = _file(root, "binary")
    p.write_bytes(b"\x7fELF" + bytes(rnd.randrange(256) for _ in range(64 * 1024)))
    return Item("binary", p, None, (FAILED,), error_words=("binary",), note="random bytes")


def high_bytes_garbage(root: Path) -> Item:
    """Garbage without a NUL byte: reads as cp1252 text, and no tool wrote it."""
    rnd = random.Random(9)
    p = _file(root, "high_bytes")
    p.write_bytes(bytes(rnd.randrange(0x80, 0x100) for _ in range(16 * 1024)))
    return Item("high_bytes", p, None, (FAILED,), note="random bytes 0x80-0xff")


def zip_bomb_xlsx(root: Path, rows: int = 400_000, cols: int = 20) -> Item:
    """A tiny XLSX whose one sheet expands to ``rows`` x ``cols`` identical inline-string cells
    (about 300 MB of XML from 2 MB of zip, 8 million cells): the reader must refuse it before any
    XLSX library loads it."""
    p = _file(root, "zip_bomb", "xlsx")
    refs = [chr(ord("A") + c) for c in range(cols)]
    last = f"{refs[-1]}{rows}"
    with zipfile.ZipFile(p, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            "</Types>",
        )
        z.writestr(
            "_rels/.rels",
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
            "</Relationships>",
        )
        z.writestr(
            "xl/workbook.xml",
            '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            '<sheets><sheet name="Page 1" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        z.writestr(
            "xl/_rels/workbook.xml.rels",
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
            "</Relationships>",
        )
        head = (
            '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            f'<dimension ref="A1:{last}"/><sheetData>'
        )
        cell = '<c t="inlineStr"><is><t>x</t></is></c>'
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as f:
            f.write(head.encode())
            header = "".join(f'<c t="inlineStr"><is><t>{h}</t></is></c>' for h in HEADERS)
            f.write(f'<row r="1">{header}</row>'.encode())
            body = ("<row>" + cell * cols + "</row>").encode()
            block = body * 10_000
            for _ in range((rows - 1) // 10_000):
                f.write(block)
            f.write(b"</sheetData></worksheet>")
    return Item(
        "zip_bomb", p, None, (FAILED,), error_words=("XLSX", "MB"), note=f"{p.stat().st_size:,} B zip"
    )


def huge_dimension_xlsx(root: Path) -> Item:
    """A small XLSX that claims the whole 1,048,576 x 16,384 grid as its used range."""
    import xlsxwriter

    p = _file(root, "huge_dimension", "xlsx")
    wb = xlsxwriter.Workbook(str(p))
    ws = wb.add_worksheet("Page 1")
    for c, h in enumerate(HEADERS):
        ws.write_string(0, c, h)
    for r in range(3):
        for c, v in enumerate(row(r)):
            ws.write_string(r + 1, c, v)
    ws.write_string(1_048_575, 16_383, "")  # an empty string at the last cell: the used range is the grid
    wb.close()
    return Item("huge_dimension", p, None, (FAILED,), error_words=("cells",), note="used range A1:XFD1048576")


def mixed_encodings(root: Path) -> Item:
    rows = [
        row(i, t) for i, t in enumerate(["Café déploiement", "Überwachung", "Ordinary", "Größe", "naïve"])
    ]
    lines = csv_text(rows).splitlines(keepends=True)
    out = b"".join(
        line.encode("cp1252") if i in (2, 4) else line.encode("utf-8") for i, line in enumerate(lines)
    )
    p = _file(root, "mixed_encodings")
    p.write_bytes(out)
    titles = [r[2] for r in rows]
    return Item(
        "mixed_encodings", p, 5, (SUCCEEDED,), quarantined=0, verbatim=titles, note="UTF-8 + cp1252 lines"
    )


def ten_mb_field(root: Path) -> Item:
    big = "A" * (10 * 1024 * 1024)
    p = _file(root, "ten_mb_field")
    p.write_text(csv_text([row(0, big), row(1)]), encoding="utf-8")
    return Item("ten_mb_field", p, 2, (SUCCEEDED,), quarantined=0, verbatim=[big], note="a 10 MB title")


def header_only(root: Path) -> Item:
    p = _file(root, "header_only")
    p.write_text(csv_text([]), encoding="utf-8")
    return Item("header_only", p, 0, (SUCCEEDED,), quarantined=0)


def header_only_no_newline(root: Path) -> Item:
    p = _file(root, "header_only_no_eol")
    p.write_text(",".join(HEADERS), encoding="utf-8")
    return Item("header_only_no_eol", p, 0, (SUCCEEDED,), quarantined=0)


def duplicated_keys(root: Path) -> Item:
    rows = [row(0, "First version"), row(0, "Second version, same updated_at"), row(1), row(1)]
    p = _file(root, "duplicated_keys")
    p.write_text(csv_text(rows), encoding="utf-8")
    # key 0: two rows tie with different content -> the last one loaded, the other superseded (D30);
    # key 1: identical twins -> one loaded, one superseded.
    return Item("duplicated_keys", p, 4, (SUCCEEDED,), quarantined=0)


def extreme_dates(root: Path) -> Item:
    dates = ["0001-01-01 00:00:00", "9999-12-31 23:59:59", "1899-12-30 00:00:00", "2200-01-01 00:00:00"]
    rows = [row(i, updated=d) for i, d in enumerate(dates)] + [row(9)]
    p = _file(root, "extreme_dates")
    p.write_text(csv_text(rows), encoding="utf-8")
    return Item("extreme_dates", p, 5, (SUCCEEDED,), quarantined=4, note="years 0001, 9999, 1899, 2200")


def numbers_for_dates(root: Path) -> Item:
    values = ["45123.5", "1700000000", "-1", "20260301", "1e308"]
    rows = [row(i, updated=v) for i, v in enumerate(values)] + [row(9)]
    p = _file(root, "numbers_for_dates")
    p.write_text(csv_text(rows), encoding="utf-8")
    return Item("numbers_for_dates", p, 6, (SUCCEEDED,), quarantined=5)


def injection_text(root: Path) -> Item:
    titles = [*FORMULAS, *SQL, *HTML]
    p = _file(root, "injection")
    p.write_text(csv_text([row(i, t) for i, t in enumerate(titles)]), encoding="utf-8")
    return Item("injection", p, len(titles), (SUCCEEDED,), quarantined=0, verbatim=titles)


def nul_in_field(root: Path) -> Item:
    rows = [row(0, "before\x00after"), row(1), row(2, "x" * 5000 + "\x00late")]
    p = _file(root, "nul_in_field")
    p.write_text(csv_text(rows), encoding="utf-8")
    return Item(
        "nul_in_field",
        p,
        3,
        (SUCCEEDED,),
        quarantined=0,
        verbatim=["before\ufffdafter", "x" * 5000 + "\ufffdlate"],
        note="NUL bytes inside a title (kept as U+FFFD, with a warning)",
    )


def bom_in_middle(root: Path) -> Item:
    """Two exports concatenated (the second with its BOM and header), and a BOM inside a field."""
    first = csv_text([row(0), row(1, "inner \ufeff BOM")])
    second = csv_text([row(2), row(3)])
    p = _file(root, "bom_in_middle")
    p.write_bytes(b"\xef\xbb\xbf" + first.encode() + b"\xef\xbb\xbf" + second.encode())
    # 5 data lines: the repeated header is a record too (it must be quarantined, not loaded or lost).
    return Item("bom_in_middle", p, 5, (SUCCEEDED,), quarantined=1, verbatim=["inner \ufeff BOM"])


def crlf_lf_mix(root: Path) -> Item:
    rows = [row(i, "multi\r\nline" if i == 1 else ("lf\nline" if i == 2 else None)) for i in range(5)]
    text = csv_text(rows, eol="\r\n")
    lines = text.split("\r\n")
    mixed = "".join(line + ("\n" if i % 2 else "\r\n") for i, line in enumerate(lines[:-1]))
    p = _file(root, "crlf_lf")
    p.write_bytes(mixed.encode())
    return Item("crlf_lf", p, 5, (SUCCEEDED,), quarantined=0, verbatim=["lf\nline"])


def cr_header_lf_rows(root: Path) -> Item:
    """A header ended by a bare CR, rows by LF (a hand-edited classic Mac OS file): polars reads the
    header and the first row as one line; refused with the reason, not a polars SchemaError."""
    lines = csv_text([row(i) for i in range(5)]).split("\n")
    p = _file(root, "cr_header")
    p.write_bytes((lines[0] + "\r" + "\n".join(lines[1:])).encode())
    return Item("cr_header", p, None, (FAILED,), error_words=("line 1", "bare CR"), note="CR header, LF rows")


def empty_header_trailing_delimiters(root: Path) -> Item:
    headers = ["number", "", "sys_id", "short_description", "state", "type", "sys_updated_on", "", ""]
    rows = [[r[0], "", *r[1:], "", ""] for r in (row(i) for i in range(3))]
    text = csv_text(rows, headers=headers)
    text = "".join(line + ",,\n" for line in text.splitlines())
    p = _file(root, "empty_header")
    p.write_text(text, encoding="utf-8")
    return Item("empty_header", p, 3, (SUCCEEDED,), quarantined=0)


def _json_record(i: int) -> str:
    r = row(i)
    return json.dumps({"number": r[0], "sys_id": r[1], "short_description": "t", "sys_updated_on": UPDATED})


def truncated_json(root: Path) -> Item:
    p = _file(root, "truncated", "json")
    records = ",".join(_json_record(i) for i in range(3))
    p.write_text('{"result": [' + records + ', {"number": "CHG90', encoding="utf-8")
    return Item("truncated_json", p, None, (FAILED,), error_words=("JSON",))


def json_not_a_list(root: Path) -> Item:
    p = _file(root, "not_a_list", "json")
    p.write_text('{"result": "not a list"}', encoding="utf-8")
    return Item("json_not_a_list", p, None, (FAILED,), error_words=("expected",))


def json_records_not_objects(root: Path) -> Item:
    """Two good records and three that are not objects: the good ones load, the others are
    quarantined with their reason."""
    p = _file(root, "scalars", "json")
    good = ",".join(_json_record(i) for i in range(2))
    p.write_text('{"result": [' + good + ', 1, "two", [3]]}', encoding="utf-8")
    return Item("json_not_objects", p, 5, (SUCCEEDED,), quarantined=3, note="records that are not objects")


def json_empty_records(root: Path) -> Item:
    p = _file(root, "empty_records", "json")
    p.write_text('{"result": [{}, {}]}', encoding="utf-8")
    return Item("json_empty_records", p, None, (FAILED,), error_words=("column",), note="[{}, {}]")


def empty_file(root: Path) -> Item:
    p = _file(root, "empty")
    p.write_bytes(b"")
    return Item("empty", p, None, (FAILED,), error_words=("empty",))


# --- issue #20: inputs that got past the readers before ------------------------------------------------


def deep_json(root: Path, depth: int = 200_000) -> Item:
    """A 400 KB Table API document nested 200,000 deep: ijson's memory grows with the square of the
    nesting (20,000 levels took 1 GB); the depth is refused before any parser sees it."""
    p = _file(root, "deep_json", "json")
    p.write_bytes(b'{"result": [' + b"[" * depth + b"]" * depth + b"]}")
    return Item(
        "deep_json",
        p,
        None,
        (FAILED,),
        error_words=("JSON", "deeper than 64"),
        note=f"{depth:,} levels",
    )


def deep_xml(root: Path, depth: int = 100_000) -> Item:
    p = _file(root, "deep_xml", "xml")
    p.write_bytes(b"<unload>" + b"<a>" * depth + b"</a>" * depth + b"</unload>")
    return Item(
        "deep_xml",
        p,
        None,
        (FAILED,),
        error_words=("XML", "deeper than 64"),
        note=f"{depth:,} levels",
    )


def styles_bomb_xlsx(root: Path, inflated_mb: int = 300) -> Item:
    """A valid workbook whose ``xl/styles.xml`` inflates to ``inflated_mb`` MB (a few hundred KB of zip):
    a part other than the sheets, which the old bound did not count."""
    p = _file(root, "styles_bomb", "xlsx")
    write_styles_bomb(p, inflated_mb)
    return Item(
        "styles_bomb",
        p,
        None,
        (FAILED,),
        error_words=("XLSX", "xl/styles.xml", "MB"),
        note=f"xl/styles.xml inflates to {inflated_mb} MB; {p.stat().st_size:,} B on disk",
    )


def write_styles_bomb(p: Path, inflated_mb: int) -> None:
    """A small xlsxwriter workbook whose ``xl/styles.xml`` holds a number format ``inflated_mb`` MB
    long (an attribute the XLSX library reads into memory whole; measured: a 200 MB one took the
    reading from ~100 MB to 427 MB)."""
    import xlsxwriter

    plain = p.with_name(p.name + ".plain.xlsx")
    wb = xlsxwriter.Workbook(str(plain))
    ws = wb.add_worksheet("Page 1")
    for c, h in enumerate(HEADERS):
        ws.write_string(0, c, h)
    for r in range(3):
        for c, v in enumerate(row(r)):
            ws.write_string(r + 1, c, v)
    wb.close()
    block = b"0" * (1024 * 1024)
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename != "xl/styles.xml":
                dst.writestr(info.filename, data)
                continue
            head, tail = data.split(b"<fonts", 1)
            with dst.open("xl/styles.xml", "w", force_zip64=True) as f:
                f.write(head + b'<numFmts count="1"><numFmt numFmtId="164" formatCode="')
                for _ in range(inflated_mb):
                    f.write(block)
                f.write(b'"/></numFmts><fonts' + tail)
    plain.unlink()


def bom_with_cp1252_lines(root: Path) -> Item:
    """A UTF-8 file with a BOM and two pasted Windows-1252 lines: read as mixed, not as U+FFFD."""
    rows = [
        row(i, t) for i, t in enumerate(["Café déploiement", "Überwachung", "Ordinary", "Größe", "naïve"])
    ]
    lines = csv_text(rows).splitlines(keepends=True)
    body = b"".join(
        line.encode("cp1252") if i in (2, 4) else line.encode("utf-8") for i, line in enumerate(lines)
    )
    p = _file(root, "bom_mixed")
    p.write_bytes(b"\xef\xbb\xbf" + body)
    return Item(
        "bom_mixed",
        p,
        5,
        (SUCCEEDED,),
        quarantined=0,
        verbatim=[r[2] for r in rows],
        warning_words=("mixed encodings", "line 3"),
        note="BOM + UTF-8 + cp1252 lines",
    )


def short_row(root: Path) -> Item:
    """A record with fewer fields than the header in the middle: quarantined like a long one."""
    rows = [row(i) for i in range(5)]
    rows[2] = rows[2][:3]
    p = _file(root, "short_row")
    p.write_text(csv_text(rows), encoding="utf-8")
    return Item(
        "short_row",
        p,
        5,
        (SUCCEEDED,),
        quarantined=1,
        warning_words=("fewer fields", "row 4"),
        note="3 fields under a 6-field header",
    )


CONTROL_TITLES = ["retitle \x1b]0;pwned\x07 me", "bell\x07", "rlo \u202egnp.exe", "c1 \x9b31m red", "del\x7f"]


def control_characters(root: Path) -> Item:
    """ESC/BEL terminal sequences, a right-to-left override, a C1 CSI and DEL: replaced by U+FFFD at
    ingest (RLM/LRM marks, tab and line breaks are kept)."""
    titles = [*CONTROL_TITLES, "kept \u200f mark\tand tab"]
    p = _file(root, "control_chars")
    p.write_text(csv_text([row(i, t) for i, t in enumerate(titles)]), encoding="utf-8")
    stored = [
        re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", "\ufffd", t) for t in titles
    ]
    return Item(
        "control_chars",
        p,
        len(titles),
        (SUCCEEDED,),
        quarantined=0,
        verbatim=stored,
        warning_words=("control characters", "5 row(s)", "U+FFFD"),
        note="ESC, BEL, RLO, CSI, DEL",
    )


def cr_only(root: Path) -> Item:
    p = _file(root, "cr_only")
    p.write_bytes(csv_text([row(i) for i in range(4)], eol="\r").encode())
    return Item(
        "cr_only",
        p,
        4,
        (SUCCEEDED,),
        quarantined=0,
        warning_words=("CR only",),
        note="classic Mac line breaks",
    )


def json_object_as_key(root: Path) -> Item:
    """A JSON object where sys_id is: the record is refused, not keyed by the object's text."""
    good = [json.loads(_json_record(i)) for i in range(3)]
    good[1]["sys_id"] = {"a": 1}
    p = _file(root, "object_key", "json")
    p.write_text(json.dumps({"result": good}), encoding="utf-8")
    return Item("json_object_key", p, 3, (SUCCEEDED,), quarantined=1, note="sys_id is {'a': 1}")


def json_duplicate_keys(root: Path) -> Item:
    """A record holding a key twice: parsers keep the last value silently; it is quarantined."""
    records = [_json_record(i) for i in range(3)]
    records[1] = records[1][:-1] + ', "short_description": "the second value"}'
    p = _file(root, "duplicate_keys", "json")
    p.write_text('{"result": [' + ",".join(records) + "]}", encoding="utf-8")
    return Item("json_duplicate_keys", p, 3, (SUCCEEDED,), quarantined=1, note="short_description twice")


BUILDERS: list[Callable[[Path], Item]] = [
    truncated_mid_quoted_field,
    truncated_mid_row,
    unquoted_delimiter_in_a_value,
    wrong_delimiter,
    semicolon_sniffed_as_comma,
    binary_garbage,
    high_bytes_garbage,
    zip_bomb_xlsx,
    huge_dimension_xlsx,
    mixed_encodings,
    ten_mb_field,
    header_only,
    header_only_no_newline,
    duplicated_keys,
    extreme_dates,
    numbers_for_dates,
    injection_text,
    nul_in_field,
    bom_in_middle,
    crlf_lf_mix,
    cr_header_lf_rows,
    empty_header_trailing_delimiters,
    truncated_json,
    json_not_a_list,
    json_records_not_objects,
    json_empty_records,
    empty_file,
    deep_json,
    deep_xml,
    styles_bomb_xlsx,
    bom_with_cp1252_lines,
    short_row,
    control_characters,
    cr_only,
    json_object_as_key,
    json_duplicate_keys,
]


def good_export(root: Path) -> tuple[Path, int]:
    """A clean change_request export loaded in the same run as a hostile one (it must still load)."""
    d = _folder(root, "good")
    p = d / "change_request_good.csv"
    p.write_text(csv_text([row(100 + i) for i in range(7)]), encoding="utf-8")
    return p, 7
