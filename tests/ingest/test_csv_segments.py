"""A CSV export that is not UTF-8 is transcoded on a background thread into segment files that
polars parses one by one: the reading equals the same file read as one segment, row for row
(``_source_row``, read errors, quarantine reasons, warnings and parse errors), however the segment
ends fall (inside quoted multi-line fields of a chunk, at a chunk's start); a reader that stops early
or fails leaves no thread and no temp file behind."""

from __future__ import annotations

import random
import re
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from changeboard.ingest import readers, registry
from changeboard.ingest.readers import ReadError
from changeboard.ingest.registry import read_file
from changeboard.ingest.sources import servicenow_files

HEADER = [
    "sys_id",
    "number",
    "short_description",
    "description",
    "state",
    "risk",
    "opened_at",
    "sys_updated_on",
    "close_notes",
]
RECORDS = 300


def _field(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _record(i: int, rng: random.Random) -> list[str]:
    lines = [f"Step {k} of change {i}: café, Größe – 5 € “quoted” ™" for k in range(rng.randint(1, 4))]
    if i % 7 == 0:
        lines.append('He said "stop", then "go"')
    opened = "2025-13-45 99:00:00" if i % 11 == 0 else f"2025-06-{1 + i % 28:02d} 10:{i % 60:02d}:00"
    return [
        f"{i:032x}",
        f"CHG{30000 + i:07d}",
        f"Patch “server” {i} – Größe",
        "\n".join(lines),
        rng.choice(["New", "Closed", "Implement"]),
        rng.choice(["Low", "Moderate", "High"]),
        opened,
        f"2025-07-{1 + i % 28:02d} 11:00:00",
        "" if i % 5 else "Done;\nno issues",
    ]


def _lines(records: int = RECORDS, *, eol: str = "\r\n", every_long: int = 9) -> list[str]:
    """The header and one line per record (quoted fields hold line breaks); every ``every_long``-th
    record has two fields more than the header, a few are blank."""
    rng = random.Random(7)
    out = [",".join(_field(h) for h in HEADER)]
    for i in range(1, records + 1):
        fields = _record(i, rng)
        if every_long and i % every_long == 0:
            fields += ["extra", "more"]
        out.append(",".join(_field(f) for f in fields))
        if i % 37 == 0:
            out.append("" if i % 2 else " , ,")
    return out


def _write(folder: Path, text: str | bytes, *, manifest: str = 'system = "servicenow"\n') -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "_export.toml").write_text(manifest, encoding="utf-8")
    path = folder / "change_request.csv"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("cp1252"))
    return path


@pytest.fixture
def small(monkeypatch: pytest.MonkeyPatch) -> Callable[[int | None], None]:
    """Small chunks, so that chunk ends fall inside quoted fields; ``segments(n)`` sets the size."""
    monkeypatch.setattr(readers, "CHUNK", 1024)
    monkeypatch.setattr(servicenow_files, "CSV_BATCH_ROWS", 7)

    def segments(size: int | None) -> None:
        monkeypatch.setattr(readers, "SEGMENT_BYTES", size)

    return segments


class Splits:
    """How often the writer ended a segment inside a chunk (the record search) and how many segments
    it wrote, and the most segment files that existed at once."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.inside = 0
        self.opened = 0
        self.most_on_disk = 0
        record_end = readers._record_end
        open_segment = readers._SegmentWriter._open

        def counted_end(data: bytes) -> int:
            cut = record_end(data)
            self.inside += bool(cut)
            return cut

        def counted_open(writer: readers._SegmentWriter, number: int) -> object:
            opened = open_segment(writer, number)
            self.opened += opened is not None
            self.most_on_disk = max(self.most_on_disk, len(list(writer.tmpdir.glob("*.utf8"))))
            return opened

        monkeypatch.setattr(readers, "_record_end", counted_end)
        monkeypatch.setattr(readers._SegmentWriter, "_open", counted_open)


def _text(path: Path, batch_rows: int | None, encoding: str | None = None) -> tuple[pl.DataFrame, list[str]]:
    with readers.csv_batches(path, encoding=encoding, batch_rows=batch_rows) as text:
        frames = list(text.batches)
    return pl.concat(frames, how="diagonal_relaxed"), text.warnings


def _assert_same_reading(path: Path, segments: Callable[[int | None], None], size: int) -> None:
    """The text batches (whole and in batches of 5 rows) and the mapped reading (frames, quarantine,
    warnings) with segments of ``size`` bytes equal those of one segment."""
    segments(None)
    whole = read_file(path)
    whole_text = {rows: _text(path, rows) for rows in (None, 5)}
    segments(size)
    parts = read_file(path)
    for rows, (frame, warnings) in whole_text.items():
        got, got_warnings = _text(path, rows)
        assert got.equals(frame), rows
        assert got_warnings == warnings
    assert parts.warnings == whole.warnings
    assert (parts.table, len(parts.frames)) == (whole.table, len(whole.frames))
    for got, expected in zip(parts.frames, whole.frames, strict=True):
        assert got.frame.equals(expected.frame)
        assert got.quarantine.equals(expected.quarantine)


def test_quoted_multiline_fields_straddle_segment_ends(
    tmp_path: Path, small: Callable[[int | None], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path / "in", "\r\n".join(_lines()) + "\r\n")
    splits = Splits(monkeypatch)
    small(4096)
    reading = read_file(path)
    assert splits.opened > 10, "the file is read in many segments"
    assert 0 < splits.inside < splits.opened - 1, "segments end inside chunks and at chunk starts"
    assert splits.most_on_disk <= readers.SEGMENTS_ON_DISK
    reasons = pl.concat([f.quarantine for f in reading.frames])["reasons"].explode().to_list()
    assert any("more fields than the header" in r for r in reasons), reasons
    assert reading.warnings[0] == "decoded as cp1252 (not UTF-8)"
    _assert_same_reading(path, small, 4096)


@pytest.mark.parametrize("size", [1, 2048, 5000])
def test_segment_sizes_read_alike(tmp_path: Path, small: Callable[[int | None], None], size: int) -> None:
    path = _write(tmp_path / "in", "\n".join(_lines(120, eol="\n")) + "\n")
    _assert_same_reading(path, small, size)


def test_every_record_longer_than_the_header(tmp_path: Path, small: Callable[[int | None], None]) -> None:
    # every segment starts with a record two fields longer than the header (polars would take its
    # width from that first line)
    path = _write(tmp_path / "in", "\r\n".join(_lines(every_long=1)) + "\r\n")
    _assert_same_reading(path, small, 3000)


def test_nul_bytes_in_a_late_segment(tmp_path: Path, small: Callable[[int | None], None]) -> None:
    lines = _lines()
    lines[-3] = lines[-3].replace("Step 0", "Step\x000")
    path = _write(tmp_path / "in", "\r\n".join(lines) + "\r\n")
    _assert_same_reading(path, small, 4096)
    small(4096)
    reading = read_file(path)
    assert any(w.startswith("NUL bytes in 1 row(s) (row ") for w in reading.warnings), reading.warnings


def test_cut_last_line(tmp_path: Path, small: Callable[[int | None], None]) -> None:
    lines = _lines()
    lines[-1] = ",".join(lines[-1].split('","')[:3]) + '"'
    path = _write(tmp_path / "in", "\r\n".join(lines))
    _assert_same_reading(path, small, 4096)
    small(4096)
    warnings = read_file(path).warnings
    assert any("the export was cut here" in w for w in warnings), warnings


def test_mixed_utf8_and_cp1252_lines(tmp_path: Path, small: Callable[[int | None], None]) -> None:
    lines = _lines()
    data = b"\r\n".join(
        line.encode("cp1252") if i in (150, 260) else line.encode("utf-8") for i, line in enumerate(lines)
    )
    path = _write(tmp_path / "in", data + b"\r\n")
    _assert_same_reading(path, small, 4096)
    small(4096)
    warnings = read_file(path).warnings
    first_bad = data[: data.index(lines[150].encode("cp1252"))].count(b"\n") + 1
    assert warnings[0].startswith(
        f"mixed encodings: lines that are not UTF-8 (the first is line {first_bad})"
    )


def test_declared_encoding(tmp_path: Path, small: Callable[[int | None], None]) -> None:
    manifest = 'system = "servicenow"\nencoding = "cp1252"\n'
    path = _write(tmp_path / "in", "\r\n".join(_lines()) + "\r\n", manifest=manifest)
    _assert_same_reading(path, small, 4096)


def test_header_with_a_quoted_line_break_stays_one_segment(
    tmp_path: Path, small: Callable[[int | None], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = _lines()
    lines[0] = lines[0].replace('"state"', '"state\nnow"')
    path = _write(
        tmp_path / "in",
        "\r\n".join(lines) + "\r\n",
        manifest='system = "servicenow"\ntable = "change_request"\n',
    )
    splits = Splits(monkeypatch)
    small(4096)
    _text(path, 5)
    assert splits.opened == 1
    _assert_same_reading(path, small, 4096)


def _error(path: Path) -> str:
    with pytest.raises(ReadError) as info:
        _consume(path)
    return str(info.value)


def _row(message: str) -> str | None:
    found = re.search(r"\(row (\d+)", message)
    return found.group(1) if found else None


DAMAGE = {
    "bad field": lambda line: re.sub(r'("CHG\d+")', r"\1x", line, count=1),
    "unclosed quote": lambda line: line[:-1],
    "stray quote": lambda line: re.sub(r'"CHG(\d+)"', r'CH"G\1', line, count=1),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_parse_error_in_a_late_segment_names_the_row(
    tmp_path: Path, small: Callable[[int | None], None], monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    lines = _lines(every_long=0)
    bad = 250  # one line per record (a blank line is a record too): the row is the index + 1
    assert lines[bad].startswith('"')
    assert lines[bad].endswith('"')
    lines[bad] = DAMAGE[damage](lines[bad])
    path = _write(tmp_path / "in", "\r\n".join(lines) + "\r\n")
    small(None)
    whole = _error(path)
    splits = Splits(monkeypatch)
    small(4096)
    parts = _error(path)
    assert splits.opened > 5, "the error is in a late segment"
    head = f"{path}: cannot be parsed as CSV with delimiter ','"
    assert parts.startswith(head)
    assert whole.startswith(head)
    if damage == "bad field":
        assert parts == whole
        assert f"(row {bad + 1}, column 'number')" in parts, parts
    else:
        # After a quote that never closes, polars words its error after its own chunks of the
        # file ("CSV malformed ... in chunk starting at row_offset ..." or "a quoted field is not
        # closed"): the previous code gave either for the same file, from run to run (and, now and
        # then, a first batch that was not the file's first rows). The row, told from the whole
        # file's text, is the same.
        assert _row(parts) == _row(whole)
    if damage == "unclosed quote":
        assert _row(parts) == str(bad + 1)


def _consume(path: Path, fail_after: int | None = None) -> int:
    """Read every batch (or fail in the reader's place after ``fail_after`` batches)."""
    rows = 0
    with readers.csv_batches(path, batch_rows=5) as text:
        for n, batch in enumerate(text.batches, start=1):
            rows += batch.height
            if n == fail_after:
                raise RuntimeError("the consumer failed")
    return rows


def _export_with_own_temp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """The test export, and an empty directory that the reader's temporary files go to."""
    path = _write(tmp_path / "in", "\r\n".join(_lines()) + "\r\n")
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    return path, temp


def _no_thread_and_no_temp_file(temp: Path) -> None:
    assert not [t for t in threading.enumerate() if t.name.startswith("transcode ")]
    assert list(temp.iterdir()) == []


def test_a_reader_that_stops_early_stops_the_transcoder(
    tmp_path: Path, small: Callable[[int | None], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, temp = _export_with_own_temp_dir(tmp_path, monkeypatch)
    splits = Splits(monkeypatch)
    small(4096)
    with readers.csv_batches(path, batch_rows=5) as text:
        first = next(iter(text.batches))
    assert first["_source_row"].to_list()[0] == 2
    _no_thread_and_no_temp_file(temp)
    assert registry._headers_of(path) == HEADER
    _no_thread_and_no_temp_file(temp)
    with pytest.raises(RuntimeError, match="the consumer failed"):
        _consume(path, fail_after=1)
    _no_thread_and_no_temp_file(temp)
    early = splits.opened
    assert _consume(path) == RECORDS
    # each early stop: at most the first segment (one chunk), the one after it and two written ahead
    assert early <= 3 * 4 < splits.opened - early, "the transcoder stopped early each time"


def test_an_error_of_the_transcoder_surfaces(
    tmp_path: Path, small: Callable[[int | None], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, temp = _export_with_own_temp_dir(tmp_path, monkeypatch)
    small(4096)
    decode = readers._MixedDecoder.decode
    calls = iter(range(1_000_000))

    def failing(decoder: readers._MixedDecoder, data: bytes) -> bytes:
        if next(calls) == 60:
            raise OSError("the disk went away")
        return decode(decoder, data)

    monkeypatch.setattr(readers._MixedDecoder, "decode", failing)
    with pytest.raises(OSError, match="the disk went away"):
        _consume(path)
    _no_thread_and_no_temp_file(temp)
