"""Reading export files into all-text polars frames, whatever their encoding or header quirks.

Everything is read as text so that one bad value can never abort a file: typing and validation
happen afterwards, row by row, in :mod:`ingest.mapping`, which quarantines what it cannot parse.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import itertools
import json
import os
import queue
import re
import tempfile
import threading
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO

import numpy as np
import polars as pl

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

CHUNK = 16 * 1024 * 1024
# A file that is not UTF-8 is transcoded on a background thread into segment files of about this
# size, each ending at a record boundary, and polars parses each one while the next is written
# (see :class:`_SegmentWriter`). None: one segment, the whole copy.
SEGMENT_BYTES: int | None = 96 * 1024 * 1024
# Segment files on disk at a time: one being parsed, one being written.
SEGMENTS_ON_DISK = 2
# Once a segment is full, how far into the next chunk a record boundary is looked for.
RECORD_SEARCH = 64 * 1024
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
_NOT_CONTROL = bytes(b for b in range(256) if b not in _CONTROL)
# Characters no export means to hold, replaced by U+FFFD at ingest (with a warning counting the rows):
# C0 controls but tab, LF and CR (ESC and BEL drive a terminal), DEL, C1 controls (U+0080-U+009F;
# U+009B is a terminal's CSI) and the bidirectional embeddings, overrides and isolates
# (U+202A-U+202E, U+2066-U+2069: "Trojan Source" reordering). NUL has its own warning (below).
# The marks U+200E/U+200F/U+061C stay: right-to-left text uses them and they reorder nothing.
CONTROL_PATTERN = r"[\x01-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F\x{202A}-\x{202E}\x{2066}-\x{2069}]"
# JSON and XML nesting and size (see check_document_bounds).
ENV_DOCUMENT_MAX_DEPTH = "CHANGEBOARD_JSON_XML_MAX_DEPTH"
ENV_DOCUMENT_MAX_MB = "CHANGEBOARD_JSON_XML_MAX_MB"
DEFAULT_DOCUMENT_MAX_DEPTH = 64
DEFAULT_DOCUMENT_MAX_MB = 4096


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


def has_controls(data: bytes, start: int = 0, end: int | None = None) -> bool:
    """Whether UTF-8 bytes (``data[start:end]``) hold a NUL or a character of :data:`CONTROL_PATTERN`:
    a cheap gate, the text of a file without any is never searched. The C0 bytes and DEL by a
    ``translate`` that deletes every other byte, then the C1 controls (C2 80-9F) and the
    bidirectional controls by vectorised byte tests."""
    raw = data if start == 0 and end is None else data[start:end]
    arr = np.frombuffer(raw, dtype=np.uint8)
    if raw.translate(None, _NOT_CONTROL):  # what is left once every other byte is deleted
        return True
    if raw.isascii():  # no C1 or bidirectional control (a test that stops at the first high byte)
        return False
    if b"\xc2" in raw:
        follow = arr[np.flatnonzero(arr[:-1] == 0xC2) + 1]
        if ((follow >= 0x80) & (follow < 0xA0)).any():
            return True
    if b"\xe2" in raw:
        # U+202A-U+202E are E2 80 AA-AE, U+2066-U+2069 E2 81 A6-A9: one vectorised pass (nine byte
        # searches of a chunk full of typographic quotes, E2 80 9x, took ~40 x longer; a search for
        # the two bytes E2 80 is no memchr: it took half of a UTF-8 file's scan)
        lead = np.flatnonzero(arr[:-2] == 0xE2)
        second, third = arr[lead + 1], arr[lead + 2]
        return bool(
            (
                ((second == 0x80) & (third >= 0xAA) & (third <= 0xAE))
                | ((second == 0x81) & (third >= 0xA6) & (third <= 0xA9))
            ).any()
        )
    return False


def sha256_file(path: Path) -> str:
    """The sha256 of a file, streamed (into one reused buffer: 1M changes 0.9 -> 0.6 s)."""
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


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


_Scan = tuple[str, bool | None, bool]
# The scans of files done within :func:`scans_remembered` (None outside it).
_SCANS: ContextVar[dict[tuple[Path, bool], _Scan] | None] = ContextVar("scans", default=None)


@contextmanager
def scans_remembered() -> Iterator[None]:
    """Within it, each file is scanned (:func:`_scan`) once: opening an export reads it twice, for its
    headers (which source wrote it) and for its rows, and a UTF-8 file's scan is a whole pass over it
    (1M changes: ~2 s of the 615 MB change_task.csv)."""
    token = _SCANS.set({})
    try:
        yield
    finally:
        _SCANS.reset(token)


def _scan(path: Path, *, stop_if_not_utf8: bool = False) -> _Scan:
    """The encoding (as :func:`detect_encoding`), whether the file holds NUL bytes, and whether it
    ends with a line break, in one streamed pass (once within :func:`scans_remembered`).

    With ``stop_if_not_utf8`` the pass ends at the first chunk that is not UTF-8 and the NUL answer
    is None: the transcoder, which reads the whole file anyway, tells it (see :func:`csv_batches`).
    """
    remembered = _SCANS.get()
    if remembered is None:
        return _scan_file(path, stop_if_not_utf8)
    key = (path.resolve(), stop_if_not_utf8)
    if key not in remembered:
        remembered[key] = _scan_file(path, stop_if_not_utf8)
    return remembered[key]


def _scan_file(path: Path, stop_if_not_utf8: bool) -> _Scan:
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
            has_nul = has_nul or has_controls(chunk)
            # an ASCII chunk is UTF-8 (unless it completes a sequence cut at the chunk before)
            if utf8 and not (chunk.isascii() and not decoder.getstate()[0]):
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False
                    if stop_if_not_utf8:
                        has_nul = None
                        break
        if utf8:
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                utf8 = False
    # A BOM says UTF-8, but the lines after it are checked all the same: a Windows-1252 line pasted
    # into a UTF-8 file with a BOM is read as the mixed file it is (see _MixedDecoder).
    encoding = ("utf-8-sig" if bom else "utf-8") if utf8 else "cp1252"
    return encoding, has_nul, last in (b"\n", b"\r")


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
    # ASCII runs and high bytes' UTF-8 interleaved, built by comprehensions; the runs as bytes, which
    # the garbage collector does not track (memoryview slices, 30 000 a chunk, set off collections)
    offsets = high.tolist()
    pieces = [b""] * (2 * len(offsets) + 1)
    pieces[::2] = [
        data[a:b] for a, b in zip([0, *[i + 1 for i in offsets]], [*offsets, len(data)], strict=True)
    ]
    pieces[1::2] = [_CP1252_UTF8[data[i]] for i in offsets]
    return b"".join(pieces)


def _has_c0_controls(data: bytes) -> bool:
    """:func:`has_controls` of ``data`` decoded as cp1252, read off the bytes themselves: cp1252 keeps
    the ASCII bytes (the C0 controls, NUL, DEL) and decodes no byte above 0x7F to a C1 or bidirectional
    control (the five it leaves undefined become U+FFFD), so only the C0 bytes and DEL can match, and
    the decoded text (with its typographic quotes, E2 80 9x) is not searched again."""
    return bool(data.translate(None, _NOT_CONTROL))


def _has_utf8_pair(arr: np.ndarray, high: np.ndarray) -> bool:
    """Whether the bytes hold a UTF-8 lead byte (C2-F4) followed by a continuation byte (80-BF)."""
    if high.size < 2:
        return False
    adjacent = np.flatnonzero(np.diff(high) == 1)
    lead = arr[high[adjacent]]
    cont = arr[high[adjacent + 1]]
    return bool(((lead >= 0xC2) & (lead <= 0xF4) & (cont <= 0xBF)).any())


@dataclass
class _MixedDecoder:
    """Decodes a file that is not valid UTF-8, chunk by chunk: each line that is valid UTF-8 stays as
    it is, each other line is decoded as cp1252 (a UTF-8 export with a few pasted Windows-1252 lines).

    Keeps what the chunks so far showed: the number of chunks with lines decoded as cp1252, the first
    such line (1-based, physical), whether other lines held non-ASCII UTF-8 text (a mixed file, not a
    cp1252 one), and whether the file holds NUL bytes.
    """

    fallback: int = 0
    first_bad: int = 0
    utf8_text: bool = False
    has_nul: bool = False
    line_no: int = 1  # counted until the first line decoded as cp1252 is known
    last_controls: bool = True  # whether the last decoded chunk holds a NUL or control character

    def decode(self, data: bytes) -> bytes:
        """One chunk (ending with a line break, or the end of the file) as UTF-8."""
        if self.line_no == 1 and data.startswith(BOM):
            self.utf8_text = True  # the BOM says UTF-8: lines that are not are pasted cp1252 lines
        arr = np.frombuffer(data, dtype=np.uint8)
        high = np.flatnonzero(arr >= 0x80)
        controls: bool | None = None  # None: the decoded text is searched
        if not high.size:  # plain ASCII: nothing to decode
            out = data
        elif not _has_utf8_pair(arr, high):
            # no UTF-8 multi-byte text in this chunk (a cp1252 file): decode it whole
            self.fallback += 1
            self.first_bad = self.first_bad or self.line_no + data.count(b"\n", 0, int(high[0]))
            controls = _has_c0_controls(data)
            out = _cp1252_to_utf8(data, high)
        else:
            text = data.decode("utf-8", errors="surrogateescape")
            bad = list(_BAD_LINE.finditer(text))
            if bad:
                self.fallback += len(bad)
                self.first_bad = self.first_bad or self.line_no + text.count("\n", 0, bad[0].start())
                pieces, pos = [], 0
                for m in bad:
                    pieces.append(text[pos : m.start()])
                    raw = m.group(0).encode("utf-8", errors="surrogateescape")
                    pieces.append(raw.decode("cp1252", errors="replace"))
                    pos = m.end()
                pieces.append(text[pos:])
                self.utf8_text = self.utf8_text or bool(_NON_ASCII_UTF8.search(_BAD_LINE.sub("", text)))
                text = "".join(pieces)
            else:
                self.utf8_text = True
            out = text.encode("utf-8")
        if not self.first_bad:
            self.line_no += data.count(b"\n")  # decoding keeps every line break: the bytes' count
        # NUL or a control character in the decoded text (has_nul names the gate of both); kept for
        # the chunk, so that the segment writer searches its pieces only when the chunk has one
        self.last_controls = has_controls(out) if controls is None else controls
        self.has_nul = self.has_nul or self.last_controls
        return out

    def warning(self, encoding: str) -> str:
        """The reading's warning about its encoding (once every chunk was decoded)."""
        if self.utf8_text:
            return (
                f"mixed encodings: lines that are not UTF-8 (the first is line {self.first_bad}) were decoded as "
                "cp1252, the other lines as UTF-8"
            )
        return f"decoded as {encoding} (not UTF-8)"


def _line_chunks(path: Path, cr_only: bool = False) -> Iterator[bytes]:
    """The file in chunks of about :data:`CHUNK` bytes, each ending with a line break (the last one
    at the end of the file, possibly empty); with ``cr_only`` every CR becomes a LF."""
    with path.open("rb") as src:
        rest = b""
        while True:
            chunk = src.read(CHUNK)
            if cr_only:
                chunk = chunk.replace(b"\r", b"\n")
            if not chunk:
                yield rest
                break
            # cut at the last line break (the rest holds none): one copy of the chunk at most
            cut = chunk.rfind(b"\n") + 1
            if cut == 0:
                rest += chunk
                continue
            data = chunk if not rest and cut == len(chunk) else b"".join((rest, memoryview(chunk)[:cut]))
            rest = chunk[cut:]
            yield data


def _declared_chunks(path: Path, encoding: str, cr_only: bool = False) -> Iterator[bytes]:
    """A file in a declared encoding as UTF-8 (undecodable bytes become U+FFFD), in chunks of about
    :data:`CHUNK` characters, each ending with a line break (the last one at the end of the file);
    with ``cr_only`` every CR becomes a LF."""
    with path.open("r", encoding=encoding, errors="replace", newline="") as src:
        rest = ""
        while True:
            chunk = src.read(CHUNK)
            if cr_only:
                chunk = chunk.replace("\r", "\n")
            text = rest + chunk
            if chunk:
                cut = text.rfind("\n") + 1
                if cut == 0:
                    rest = text
                    continue
                text, rest = text[:cut], text[cut:]
            yield text.encode("utf-8")
            if not chunk:
                break


def _utf8_chunks(
    path: Path, declared: str | None, decoder: _MixedDecoder | None = None, cr_only: bool = False
) -> Iterator[bytes]:
    """A file that is not UTF-8 (or has CR-only line breaks) as UTF-8 chunks ending with line breaks:
    decoded as the declared encoding, or line by line as UTF-8 or cp1252 (``decoder`` keeps what it
    saw)."""
    if declared:
        yield from _declared_chunks(path, declared, cr_only)
        return
    decoder = decoder or _MixedDecoder()
    for data in _line_chunks(path, cr_only):
        yield decoder.decode(data)


def _is_cr_only(path: Path) -> bool:
    """Whether a file's line breaks are bare CRs (classic Mac OS; polars reads LF and CRLF only):
    CRs and no LF in its first :data:`CHUNK` bytes."""
    with path.open("rb") as f:
        head = f.read(CHUNK)
    return b"\r" in head and b"\n" not in head


CR_ONLY_WARNING = "line breaks are CR only (classic Mac OS): each CR was read as a line break"


def _transcode_mixed(path: Path, tmpdir: Path) -> tuple[Path, int, int, bool, bool]:
    """A UTF-8 copy of a file that is not valid UTF-8, whole (see :class:`_MixedDecoder`).

    Returns the copy, the number of chunks with lines decoded as cp1252, the first such line (1-based,
    physical), whether other lines held non-ASCII UTF-8 text (a mixed file, not a cp1252 one), and
    whether the file holds NUL bytes.
    """
    out = tmpdir / (path.name + ".utf8")
    decoder = _MixedDecoder()
    with out.open("wb") as dst:
        for data in _line_chunks(path):
            dst.write(decoder.decode(data))
    return out, decoder.fallback, decoder.first_bad, decoder.utf8_text, decoder.has_nul


class _ChunkStream(io.RawIOBase):
    """A read-only byte stream over an iterator of byte chunks (a transcoded file never written)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        while not self._buf:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._buf = memoryview(chunk)
        target = memoryview(buffer).cast("B")
        n = min(len(target), len(self._buf))
        target[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


@dataclass
class _Segment:
    """A complete segment file of a transcoded copy (it ends at a record boundary)."""

    path: Path
    has_nul: bool
    last: bool


class _SegmentWriter:
    """Writes the UTF-8 copy of a file that is not UTF-8 as segment files, on a background thread,
    while the reading thread parses the segments already written (:meth:`segments`).

    A segment ends at a record boundary: a line break where the ``"`` bytes since the start of the
    file are even (RFC 4180: escaped quotes come in pairs, so the line break is not inside a quoted
    field). Once a segment holds :data:`SEGMENT_BYTES` (the first one: its first chunk) it ends at the next chunk's start if that is
    a boundary, else at the first boundary in the chunk's first :data:`RECORD_SEARCH` bytes. A file
    with an unclosed quote thus stays one segment from there on, and so does a file whose header line
    holds a quoted line break (polars takes such a file's columns from its first line). At most
    :data:`SEGMENTS_ON_DISK` segments exist: one being parsed, one being written. An error of the
    thread is raised by :meth:`segments`; :meth:`close` stops the thread (the reader is done, stopped
    early or failed).
    """

    def __init__(self, path: Path, declared: str | None, tmpdir: Path, cr_only: bool = False) -> None:
        self.path = path
        self.declared = declared
        self.cr_only = cr_only
        self.tmpdir = tmpdir
        self.decoder = _MixedDecoder()
        self._queue: queue.SimpleQueue[_Segment | BaseException] = queue.SimpleQueue()
        self._slots = threading.Semaphore(SEGMENTS_ON_DISK)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"transcode {path.name}", daemon=True)

    def __enter__(self) -> _SegmentWriter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def chunks(self) -> Iterator[bytes]:
        """The file as UTF-8 again, from its start, with a decoder of its own (an error report)."""
        return _utf8_chunks(self.path, self.declared, cr_only=self.cr_only)

    def warning(self) -> str:
        """The encoding warning of the reading (once the last segment was received); empty for a
        UTF-8 file copied only for its CR line breaks."""
        if self.cr_only and not self.declared and not self.decoder.fallback:
            return ""
        return self.decoder.warning(self.declared or "cp1252")

    def segments(self) -> Iterator[_Segment]:
        """The segments in order, each once it is complete; the last one has ``last`` set. Each must
        be given back to :meth:`parsed` once parsed (the thread writes the next one meanwhile)."""
        while True:
            item = self._get()
            if isinstance(item, BaseException):
                raise item
            yield item
            if item.last:
                return

    def parsed(self, segment: _Segment) -> None:
        """Delete a segment that was parsed: its room goes to the next one."""
        segment.path.unlink(missing_ok=True)
        self._slots.release()

    def close(self) -> None:
        """Stop the thread and wait for it (it checks between chunks and while it waits for room)."""
        self._stop.set()
        self._thread.join()

    def _get(self) -> _Segment | BaseException:
        while True:
            try:
                return self._queue.get(timeout=0.1)
            except queue.Empty:
                if not self._thread.is_alive() and self._queue.empty():
                    return RuntimeError(f"{self.path}: the transcoding thread ended without a result")

    def _open(self, number: int) -> tuple[Path, BinaryIO] | None:
        while not self._slots.acquire(timeout=0.05):
            if self._stop.is_set():
                return None
        seg_path = self.tmpdir / f"{self.path.name}.{number:05d}.utf8"
        return seg_path, seg_path.open("wb")

    def _run(self) -> None:
        try:
            self._write()
        except BaseException as exc:  # handed to the reading thread, which raises it
            self._queue.put(exc)

    def _write(self) -> None:
        number = 0
        current: tuple[Path, BinaryIO] | None = None
        size = 0
        has_nul = False
        done: _Segment | None = None  # closed, handed over once more data (or the end) comes
        odd_quotes = False
        splittable: bool | None = None
        try:
            for out in _utf8_chunks(self.path, self.declared, self.decoder, self.cr_only):
                if self._stop.is_set():
                    return
                if not out:
                    continue
                if splittable is None:
                    splittable = _header_is_whole(out)
                chunk_odd = bool(np.count_nonzero(np.frombuffer(out, dtype=np.uint8) == 0x22) & 1)
                # the decoder searched this chunk already: none in it, none in its pieces
                maybe_controls = bool(self.declared) or self.decoder.last_controls
                start = 0
                # the first segment ends after its first chunk: the headers (which source wrote the
                # file) and the first rows are parsed without waiting for a whole segment
                full = number == 1 or size >= SEGMENT_BYTES if SEGMENT_BYTES is not None else False
                if current is not None and full and splittable:
                    start = _record_end(out) if odd_quotes else 0
                    if start or not odd_quotes:
                        current[1].write(out[:start])
                        current[1].close()
                        done = _Segment(
                            current[0],
                            has_nul or (maybe_controls and has_controls(out, 0, start)),
                            last=False,
                        )
                        current = None
                if start < len(out):
                    if current is None:
                        if done is not None:
                            self._queue.put(done)
                            done = None
                        number += 1
                        current = self._open(number)
                        if current is None:
                            return
                        size = 0
                        has_nul = False
                    current[1].write(out[start:] if start else out)
                    size += len(out) - start
                    has_nul = has_nul or (maybe_controls and has_controls(out, start))
                odd_quotes ^= chunk_odd
            if current is not None:
                current[1].close()
                if done is not None:
                    self._queue.put(done)
                done = _Segment(current[0], has_nul, last=True)
                current = None
            elif done is None:  # no data (cannot happen: the file is not UTF-8, so not empty)
                opened = self._open(1)
                if opened is None:
                    return
                opened[1].close()
                done = _Segment(opened[0], False, last=True)
            done.last = True
            self._queue.put(done)
        finally:
            if current is not None:
                current[1].close()


def _record_end(data: bytes) -> int:
    """The offset after the first line break in ``data`` that ends a record, when ``data`` starts
    inside a quoted field (an odd number of quotes before it); 0 when there is none in the first
    :data:`RECORD_SEARCH` bytes."""
    pos = 0
    odd = True
    limit = min(len(data), RECORD_SEARCH)
    while (nl := data.find(b"\n", pos, limit)) >= 0:
        odd ^= data.count(b'"', pos, nl) & 1 == 1
        pos = nl + 1
        if not odd:
            return pos
    return 0


def _header_is_whole(data: bytes) -> bool:
    """Whether the first line of a UTF-8 copy (as :func:`csv_batches` reads it) is a whole record:
    an even number of quotes."""
    with io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", errors="replace", newline="") as f:
        first = f.readline()
    return first.count('"') % 2 == 0


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
    export is never held whole as text: only the batch being mapped is. A file that is not UTF-8 is
    transcoded on a background thread into segment files that are parsed as they come (see
    :class:`_SegmentWriter`); a batch may span segments.

    Raises:
        ReadError: the file is empty, has no header or cannot be parsed as CSV (also while iterating).
    """
    # Undeclared and not UTF-8: the scan stops there, the transcoder reads the rest (and finds NULs).
    detected, has_nul, ends_with_eol = _scan(path, stop_if_not_utf8=encoding is None)
    declared = encoding
    encoding = encoding or detected
    warnings: list[str] = []
    with tempfile.TemporaryDirectory(prefix="changeboard-") as tmp, ExitStack() as stack:
        writer: _SegmentWriter | None = None
        segments: Iterator[_Segment] = iter(())
        first_segment: _Segment | None = None
        source = path
        cr_only = _is_cr_only(path)
        if cr_only:
            warnings.append(CR_ONLY_WARNING)
        if encoding not in ("utf-8", "utf-8-sig", "utf8") or cr_only:
            if declared and encoding not in ("utf-8", "utf-8-sig", "utf8"):
                warnings.append(f"decoded as {encoding} (not UTF-8)")
            writer = stack.enter_context(_SegmentWriter(path, declared, Path(tmp), cr_only))
            segments = writer.segments()
            first_segment = next(segments)
            source = first_segment.path
        # The header line as polars reads it: up to the first LF (Python's readline also ends a line
        # at a bare CR, and a header counted that way is narrower than the line polars parses).
        with source.open("r", encoding="utf-8-sig", errors="replace", newline="\n") as f:
            first = f.readline()
        if not first.strip():
            raise ReadError(f"{path}: no header line (expected a CSV export with column names)")
        if "\r" in first.rstrip("\r\n"):
            raise ReadError(
                f"{path}: line 1 ends with a bare CR but later lines end with LF (mixed line breaks): "
                "nothing was loaded (expected one kind of line break: save the file again as CSV)"
            )
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
        options = {
            "has_header": False,
            "infer_schema": False,
            "separator": delimiter,
            "quote_char": '"',
            "encoding": "utf8-lossy",
            "empty_string_is_null": True,
            "truncate_ragged_lines": True,
            "raise_if_empty": False,
            **spare,
        }
        if writer is None or first_segment is None:
            facts = _Facts(
                has_nul=bool(has_nul),
                cut_fields=None if ends_with_eol else _last_line_fields(path, delimiter),
            )
            raw_frames = _raw_batches(path, delimiter, pl.scan_csv(path, **options), batch_rows)
        else:
            facts = _Facts()  # told segment by segment
            raw_frames = _segment_batches(
                path,
                writer,
                itertools.chain([first_segment], segments),
                _SegmentParse(delimiter, options, batch_rows, ends_with_eol, declared, warnings),
                facts,
            )
            stack.callback(raw_frames.close)
        first_frame = next(raw_frames, None)
        if first_frame is None or first_frame.height == 0:
            raise ReadError(f"{path}: no header line (expected a CSV export with column names)")
        shape = _TextShape.of(first_frame, header_width)
        reading = _BatchReader(
            shape=shape,
            facts=facts,
            null_values=null_values or [],
            warnings=warnings,
            look_ahead=not ends_with_eol,
            count_fields=_count_fields(
                (lambda: _file_chunks(path)) if writer is None else writer.chunks, delimiter
            ),
        )
        yield TextBatches(
            headers=shape.raw_headers,
            encoding=encoding,
            delimiter=delimiter,
            warnings=warnings,
            batches=reading.run(first_frame.slice(1), raw_frames),
        )


def _raw_batches(
    path: Path, delimiter: str, scan: pl.LazyFrame, batch_rows: int | None
) -> Iterator[pl.DataFrame]:
    """The rows of a UTF-8 file as polars reads them, header row first; parse errors as ReadError."""
    try:
        if batch_rows is None:
            yield scan.collect()
        else:
            yield from scan.collect_batches(chunk_size=batch_rows)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as exc:
        raise ReadError(
            _parse_error(
                path,
                lambda: path.open("r", encoding="utf-8", errors="replace", newline=""),
                delimiter,
                exc,
            )
        ) from exc


@dataclass
class _Facts:
    """What a reading learns of the file's bytes only as they are read: whether NUL bytes were seen
    so far, and the fields of a last line that ends without a line break (None: whole or unknown)."""

    has_nul: bool = False
    cut_fields: int | None = None


@dataclass
class _SegmentParse:
    """How :func:`_segment_batches` parses each segment and reports the reading."""

    delimiter: str
    options: dict[str, object]
    batch_rows: int | None
    ends_with_eol: bool
    declared: str | None
    warnings: list[str]


def _segment_batches(
    path: Path,
    writer: _SegmentWriter,
    segments: Iterator[_Segment],
    parse: _SegmentParse,
    facts: _Facts,
) -> Iterator[pl.DataFrame]:
    """The rows of a transcoded file as polars reads them, segment after segment (each deleted once
    parsed), header row first, in batches of about ``batch_rows`` rows. ``facts`` learn the NUL bytes of
    each segment before its rows come, and the cut last line with the last segment; the encoding
    warning goes first in the warnings once the transcoder has seen every line."""
    pending: list[pl.DataFrame] = []  # parsed rows not yet given (up to a batch, or the whole file)
    rows = 0
    for number, segment in enumerate(segments):
        try:
            facts.has_nul = facts.has_nul or segment.has_nul
            if segment.last:
                if not parse.ends_with_eol:
                    facts.cut_fields = _last_line_fields(segment.path, parse.delimiter)
                if not parse.declared and (encoding_warning := writer.warning()):
                    parse.warnings.insert(0, encoding_warning)
            # A later segment may start with a record longer than the header: the columns polars
            # takes from its first line beyond the schema are cut as a ragged line's are.
            extra = {"extra_columns": "ignore"} if number and "schema" in parse.options else {}
            scan = pl.scan_csv(segment.path, **parse.options, **extra)
            if parse.batch_rows is None:
                pending.append(scan.collect())
            else:
                # a batch spans segments: a segment holds about half a batch's rows, and each batch
                # costs the loader a few statements
                for frame in scan.collect_batches(chunk_size=parse.batch_rows):
                    pending.append(frame)
                    rows += frame.height
                    if rows >= parse.batch_rows:
                        yield _joined(pending)
                        pending, rows = [], 0
        except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as exc:

            def open_text() -> IO[str]:
                stream = io.BufferedReader(_ChunkStream(writer.chunks()), CHUNK)
                return io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline="")

            raise ReadError(_parse_error(path, open_text, parse.delimiter, exc)) from exc
        finally:
            writer.parsed(segment)
    if pending:
        yield _joined(pending)


def _joined(frames: list[pl.DataFrame]) -> pl.DataFrame:
    return frames[0] if len(frames) == 1 else pl.concat(frames, rechunk=True)


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
    facts: _Facts
    null_values: list[str]
    warnings: list[str]
    next_row: int = 2
    long_rows: int = 0
    first_long: int | None = None
    nul_rows: list[int] = field(default_factory=list)
    control_rows: list[int] = field(default_factory=list)
    short_rows: int = 0
    first_short: int | None = None
    # counts the fields of every record of the UTF-8 text (the file, or its transcoding again) and
    # returns the _source_row of those with fewer than the fields asked for (None: not counted)
    count_fields: Callable[[int], set[int]] | None = None
    short_records: set[int] | None = None
    # Whether a batch is the last one must be known when it is given (a file that ends without a
    # line break: its last line may be cut): each batch then waits for the next one to be read.
    look_ahead: bool = True

    def run(self, first: pl.DataFrame, rest: Iterator[pl.DataFrame]) -> Iterator[pl.DataFrame]:
        if not self.look_ahead:
            yield self._batch(first, last=False)
            for raw in rest:
                if raw.height:
                    yield self._batch(raw, last=False)
            self._close()
            return
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
        frame = self._short_rows(frame)
        if self.facts.has_nul and data_cols:
            frame, nul_rows = _replace_nul(frame, data_cols)
            self.nul_rows.extend(nul_rows)
            frame, control_rows = replace_controls(frame, data_cols)
            self.control_rows.extend(control_rows)
        width = len(shape.raw_headers)
        cut_fields = self.facts.cut_fields
        if last and cut_fields is not None and cut_fields < width and frame.height:
            last_row = int(frame["_source_row"][-1])
            message = (
                f"row {last_row}: {cut_fields} of {width} fields and the file ends without a line break: "
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
            if self.short_records is not None and last_row in self.short_records:
                self.short_rows -= 1  # told once, as the cut last line
        return normalise_nulls(frame, self.null_values)

    def _short_rows(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Records with fewer fields than the header up to its last named column get a read error:
        quarantined like a record with too many fields. polars fills an absent field like an empty
        one, so a row whose last named field is empty is only a candidate; the fields of every
        record are then counted once (:class:`FieldCounter`) and the candidates checked."""
        named = [h for h, raw in zip(self.shape.headers, self.shape.raw_headers, strict=True) if raw.strip()]
        if self.count_fields is None or not named or named[-1] not in frame.columns or not frame.height:
            return frame
        needed = self.shape.headers.index(named[-1]) + 1
        candidates = frame[named[-1]].is_null()
        if READ_ERROR in frame.columns:
            candidates = candidates & frame[READ_ERROR].is_null()
        if not candidates.any():
            return frame
        if self.short_records is None:
            self.short_records = self.count_fields(needed)
        short = candidates & frame["_source_row"].is_in(list(self.short_records))
        if not short.any():
            return frame
        message = pl.format(
            "row {}: fewer fields than the header's {} (a record cut short, or a line break in an unquoted "
            "value?); the record is not loaded",
            pl.col("_source_row"),
            pl.lit(len(self.shape.raw_headers)),
        )
        frame = frame.with_columns(
            pl.when(short)
            .then(message)
            .otherwise(pl.col(READ_ERROR) if READ_ERROR in frame.columns else pl.lit(None, dtype=pl.String))
            .alias(READ_ERROR)
        )
        self.short_rows += int(short.sum())
        if self.first_short is None:
            self.first_short = int(frame.filter(short)["_source_row"][0])
        return frame

    def _close(self) -> None:
        if self.short_rows:
            self.warnings.append(
                f"WARNING: {self.short_rows:,} row(s) have fewer fields than the header's {len(self.shape.raw_headers)} "
                f"(the first is row {self.first_short}); they are quarantined"
            )
        if self.control_rows:
            self.warnings.append(control_warning(self.control_rows))
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


class FieldCounter:
    """Counts the fields of each record of CSV text fed in chunks (RFC 4180: a delimiter or a line
    break between an odd number of quotes is inside a quoted field; escaped quotes come in pairs) and
    keeps the records with fewer than ``needed`` fields, as ``_source_row`` numbers (record + 1)."""

    def __init__(self, delimiter: str, needed: int) -> None:
        self.delimiter = ord(delimiter)
        self.needed = needed
        self.odd = False  # inside a quoted field where the next chunk starts
        self.fields = 1  # fields so far of the record being read
        self.record = 0  # its index (0: the header)
        self.open = False  # whether bytes came after the last line break (a record without one)
        self.short: set[int] = set()

    def feed(self, data: bytes) -> None:
        arr = np.frombuffer(data, dtype=np.uint8)
        quotes = np.flatnonzero(arr == 0x22)
        base = int(self.odd)
        breaks = np.flatnonzero(arr == 0x0A)
        breaks = breaks[((np.searchsorted(quotes, breaks) + base) & 1) == 0]
        delims = np.flatnonzero(arr == self.delimiter)
        delims = delims[((np.searchsorted(quotes, delims) + base) & 1) == 0]
        self.odd = bool((base + quotes.size) & 1)
        if not breaks.size:
            self.fields += delims.size
            self.open = self.open or len(data) > 0
            return
        before = np.searchsorted(delims, breaks)  # delimiters before each record's line break
        counts = np.diff(before, prepend=0) + 1
        counts[0] += self.fields - 1
        short = np.flatnonzero(counts < self.needed) + self.record
        self.short.update(int(r) + 1 for r in short if r > 0)
        self.record += breaks.size
        self.fields = delims.size - int(before[-1]) + 1
        self.open = int(breaks[-1]) + 1 < len(data)

    def finish(self) -> set[int]:
        """The short records, the last one included when the text does not end with a line break."""
        if self.open and self.fields < self.needed and self.record > 0:
            self.short.add(self.record + 1)
        return self.short


def _count_fields(chunks: Callable[[], Iterator[bytes]], delimiter: str) -> Callable[[int], set[int]]:
    def count(needed: int) -> set[int]:
        counter = FieldCounter(delimiter, needed)
        for chunk in chunks():
            counter.feed(chunk)
        return counter.finish()

    return count


def _file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            yield chunk


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


def replace_controls(frame: pl.DataFrame, cols: list[str] | None = None) -> tuple[pl.DataFrame, list[int]]:
    """Replace the characters of :data:`CONTROL_PATTERN` in the text columns by U+FFFD; returns the
    frame and the ``_source_row`` of the rows that held any (every reader calls it: CSV, XLSX, JSON,
    XML)."""
    cols = cols or [
        c for c, t in frame.schema.items() if t == pl.String and c not in ("_source_row", READ_ERROR)
    ]
    if not cols or not frame.height:
        return frame, []
    has = pl.any_horizontal([pl.col(c).str.contains(CONTROL_PATTERN).fill_null(False) for c in cols])
    rows = frame.filter(has)["_source_row"].to_list() if "_source_row" in frame.columns else []
    if not rows:
        return frame, []
    frame = frame.with_columns(pl.col(c).str.replace_all(CONTROL_PATTERN, "\ufffd") for c in cols)
    return frame, [int(r) for r in rows]


def control_warning(rows: list[int]) -> str:
    """The warning of a reading whose rows held control characters (see :func:`replace_controls`)."""
    return (
        f"control characters (C0/C1 controls such as ESC or BEL, or bidirectional overrides) in {len(rows):,} "
        f"row(s) (row {', '.join(map(str, rows[:5]))}{'...' if len(rows) > 5 else ''}) were replaced by U+FFFD"
    )


def _replace_nul(frame: pl.DataFrame, cols: list[str]) -> tuple[pl.DataFrame, list[int]]:
    has = pl.any_horizontal([pl.col(c).str.contains("\x00", literal=True).fill_null(False) for c in cols])
    rows = frame.filter(has)["_source_row"].to_list()
    if not rows:
        return frame, []
    frame = frame.with_columns(pl.col(c).str.replace_all("\x00", "\ufffd", literal=True) for c in cols)
    return frame, [int(r) for r in rows]


def _parse_error(path: Path, open_text: Callable[[], IO[str]], delimiter: str, exc: Exception) -> str:
    """A CSV parse error in plain words: which row and column, and what was expected. ``open_text``
    opens the whole file as UTF-8 text (the file, or its transcoding streamed again)."""
    text = str(exc)
    column = re.search(r"column number (\d+)", text)
    col_no = int(column.group(1)) if column else None
    row = None
    with open_text() as f:
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


def document_limits() -> tuple[int, int]:
    """(nesting depth, bytes) a JSON or XML export may have (the settings, or their defaults)."""
    depth = int(os.environ.get(ENV_DOCUMENT_MAX_DEPTH, DEFAULT_DOCUMENT_MAX_DEPTH))
    size = int(float(os.environ.get(ENV_DOCUMENT_MAX_MB, DEFAULT_DOCUMENT_MAX_MB)) * 1024 * 1024)
    return depth, size


def check_document_bounds(path: Path, kind: str) -> None:
    """Refuse a JSON or XML export beyond the size limit, and a JSON export nested deeper than the
    depth limit, before any parser sees it (XML depth is bounded while it is parsed: see
    :func:`ingest.sources.servicenow_files.iter_xml_records`).

    ijson (like every JSON parser that gives the path of each value) keeps the path to the current
    value: its memory grows with the square of the nesting (20,000 levels took 1 GB, 200,000 levels,
    a 396 KB file, went past 16 GB). Exports nest a few levels (ServiceNow 3, Jira's changelog 7).
    The depth is found by a streamed scan of the brackets outside JSON strings (:class:`JsonDepth`),
    about 1/20 of the parsing time.

    Raises:
        ReadError: over ``CHANGEBOARD_JSON_XML_MAX_MB`` or ``CHANGEBOARD_JSON_XML_MAX_DEPTH``.
    """
    if kind not in ("json", "xml"):
        return
    max_depth, max_bytes = document_limits()
    advice = f"raise {ENV_DOCUMENT_MAX_MB} / {ENV_DOCUMENT_MAX_DEPTH} if the export is genuine"
    size = path.stat().st_size
    if size > max_bytes:
        raise ReadError(
            f"{path}: the {kind.upper()} export is {size / 2**20:,.0f} MB; the limit is {max_bytes / 2**20:,.0f} MB: "
            f"nothing was loaded (expected a smaller export: split it by date range, or {advice})"
        )
    if kind != "json":
        return
    scan = JsonDepth(max_depth)
    with path.open("rb") as f:
        while chunk := f.read(JSON_SCAN_CHUNK):
            if scan.feed(chunk):
                raise ReadError(
                    f"{path}: the JSON document nests deeper than {max_depth} levels (at byte {scan.where:,}); "
                    f"the limit is {max_depth}: nothing was loaded (expected an export nested a few levels: "
                    f"records in a list; {advice})"
                )


JSON_SCAN_CHUNK = 4 * 1024 * 1024


class JsonDepth:
    """The nesting depth of JSON text fed in chunks: ``[`` and ``{`` outside strings open a level,
    ``]`` and ``}`` close one. A ``"`` preceded by an odd run of backslashes is escaped (inside a
    string). Not a validator: the parser finds malformed JSON afterwards."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.depth = 0
        self.in_string = False
        self.tail_backslashes = 0  # backslashes at the end of the previous chunk
        self.offset = 0
        self.where = 0

    def feed(self, data: bytes) -> bool:
        """Read one more chunk; True once the depth went beyond the limit (``where``: its offset)."""
        arr = np.frombuffer(data, dtype=np.uint8)
        quotes = np.flatnonzero(arr == 0x22)
        if quotes.size and (self.tail_backslashes or (arr[quotes[quotes > 0] - 1] == 0x5C).any()):
            quotes = quotes[~self._escaped(arr, quotes)]
        brackets = np.flatnonzero((arr == 0x5B) | (arr == 0x7B) | (arr == 0x5D) | (arr == 0x7D))
        if brackets.size:
            outside = ((np.searchsorted(quotes, brackets) + int(self.in_string)) & 1) == 0
            brackets = brackets[outside]
        if brackets.size:
            steps = np.where((arr[brackets] == 0x5B) | (arr[brackets] == 0x7B), 1, -1)
            depths = self.depth + np.cumsum(steps)
            over = np.flatnonzero(depths > self.limit)
            if over.size:
                self.where = self.offset + int(brackets[over[0]])
                return True
            self.depth = int(depths[-1])
        self.in_string = bool((int(self.in_string) + quotes.size) & 1)
        run = len(data) - len(data.rstrip(b"\\"))
        self.tail_backslashes = run + (self.tail_backslashes if run == len(data) else 0)
        self.offset += len(data)
        return False

    def _escaped(self, arr: np.ndarray, quotes: np.ndarray) -> np.ndarray:
        """Which quotes follow an odd run of backslashes (the run may start in the previous chunk)."""
        run = np.zeros(quotes.size, dtype=np.int64)
        active = np.ones(quotes.size, dtype=bool)
        k = 1
        while active.any():
            pos = quotes - k
            at_start = active & (pos < 0)
            run[at_start] += self.tail_backslashes
            active &= pos >= 0
            hit = np.zeros(quotes.size, dtype=bool)
            hit[active] = arr[pos[active]] == 0x5C
            run[hit] += 1
            active &= hit
            k += 1
        odd: np.ndarray = (run & 1) == 1
        return odd


def check_xlsx_bounds(path: Path) -> None:
    """Refuse a workbook whose parts expand beyond the configured size or whose sheets span more than
    the configured cell count, before any XLSX library opens it (a few MB of zip can expand to GBs of
    XML: a sheet, the shared strings, or any other part such as ``xl/styles.xml``, which the XLSX
    library parses whole; and one cell at XFD1048576 makes a 17-billion-cell range).

    Every zip member counts: its declared size first (the zip directory), then the bytes it really
    inflates to, streamed and stopped at the limit (a directory can lie).

    Raises:
        ReadError: not a zip, or over ``CHANGEBOARD_XLSX_MAX_MB`` of XML in all its parts together
            (the error names the part that crossed it) or ``CHANGEBOARD_XLSX_MAX_CELLS`` cells in a
            sheet's used range.
    """
    max_bytes = int(float(os.environ.get(ENV_XLSX_MAX_MB, DEFAULT_XLSX_MAX_MB)) * 1024 * 1024)
    max_cells = int(os.environ.get(ENV_XLSX_MAX_CELLS, DEFAULT_XLSX_MAX_CELLS))
    advice = f"export it as CSV, or raise {ENV_XLSX_MAX_MB} / {ENV_XLSX_MAX_CELLS} if it is genuine"
    on_disk = path.stat().st_size / 2**20
    try:
        with zipfile.ZipFile(path) as z:
            parts = [i for i in z.infolist() if not i.is_dir()]
            declared = sum(i.file_size for i in parts)
            if declared > max_bytes:
                biggest = max(parts, key=lambda i: i.file_size)
                raise ReadError(
                    f"{path}: the XLSX workbook expands to {declared / 2**20:,.0f} MB ({on_disk:,.1f} MB on disk; "
                    f"the largest part, {biggest.filename}, {biggest.file_size / 2**20:,.0f} MB); the limit is "
                    f"{max_bytes / 2**20:,.0f} MB: nothing was loaded ({advice})"
                )
            total = 0
            for info in parts:
                if info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml"):
                    rows, cols, read = _sheet_extent(z, info, max_bytes - total)
                    if rows * cols > max_cells:
                        raise ReadError(
                            f"{path}: sheet {info.filename.rsplit('/', 1)[-1]} spans {rows:,} rows x {cols:,} columns "
                            f"({rows * cols:,} cells; the limit is {max_cells:,}): nothing was loaded ({advice})"
                        )
                else:
                    read = _inflated_size(z, info, max_bytes - total)
                total += read
                if total > max_bytes:
                    raise ReadError(
                        f"{path}: the XLSX workbook expands beyond {max_bytes / 2**20:,.0f} MB (part {info.filename} "
                        f"crossed it; its zip directory claims {declared / 2**20:,.1f} MB in all): nothing was "
                        f"loaded ({advice})"
                    )
    except zipfile.BadZipFile as exc:
        raise ReadError(f"{path}: not a readable XLSX workbook (BadZipFile: {exc})") from exc


def _inflated_size(z: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> int:
    """The bytes a zip member inflates to, streamed; stops once past ``budget``."""
    read = 0
    with z.open(info) as f:
        while chunk := f.read(CHUNK):
            read += len(chunk)
            if read > budget:
                break
    return read


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


# Gzip-compressed exports (``.csv.gz``, ``.json.gz``...) are decompressed, streamed, into a temporary
# file beside which nothing else changes; the decompressed size is bounded (a decompression bomb: a
# few KB that expand to terabytes) by CHANGEBOARD_GZIP_MAX_MB.
ENV_GZIP_MAX_MB = "CHANGEBOARD_GZIP_MAX_MB"
DEFAULT_GZIP_MAX_MB = 20 * 1024
GZIP_MAGIC = b"\x1f\x8b"


def is_gzip(path: Path) -> bool:
    """Whether a file is gzip-compressed (by its first bytes, whatever its name)."""
    try:
        with path.open("rb") as f:
            return f.read(2) == GZIP_MAGIC
    except OSError:
        return False


def gunzip_to(path: Path, tmpdir: Path, *, max_bytes: int | None = None) -> Path:
    """Decompress a gzip export into ``tmpdir`` (streamed, in chunks), named as the export without
    its ``.gz``; a ReadError when it is not valid gzip or expands beyond ``max_bytes``."""
    import gzip
    import zlib

    limit = (
        max_bytes
        if max_bytes is not None
        else int(float(os.environ.get(ENV_GZIP_MAX_MB, DEFAULT_GZIP_MAX_MB)) * 2**20)
    )
    name = path.name[: -len(".gz")] if path.name.lower().endswith(".gz") else path.name + ".out"
    out = tmpdir / (name or "export")
    written = 0
    try:
        with gzip.open(path, "rb") as src, out.open("wb") as dst:
            while chunk := src.read(CHUNK):
                written += len(chunk)
                if written > limit:
                    raise ReadError(
                        f"{path}: decompresses to more than {limit / 2**20:,.0f} MB (a decompression bomb, "
                        f"or an export larger than {ENV_GZIP_MAX_MB} allows); nothing was read"
                    )
                dst.write(chunk)
    except (OSError, EOFError, zlib.error) as exc:
        out.unlink(missing_ok=True)
        raise ReadError(f"{path}: not a valid gzip file ({exc}); expected a gzip-compressed export") from exc
    except ReadError:
        out.unlink(missing_ok=True)
        raise
    return out


def read_text_bytes(data: bytes, name: str = "<memory>") -> TextTable:
    """Read CSV text from bytes (tests and in-memory callers)."""
    with tempfile.TemporaryDirectory(prefix="changeboard-") as tmp:
        p = Path(tmp) / name
        p.write_bytes(data)
        return read_csv_text(p)


def xlsx_text(
    path: Path, nulls: list[str], *, sentinel: str | None = None, sheets: list[str] | None = None
) -> tuple[pl.DataFrame, list[str], list[str]]:
    """Every sheet (or the named ones) of a workbook as one all-text frame with unique headers.

    ``_source_row`` counts data rows across sheets (a warning tells which rows are which sheet). A
    cell starting with ``sentinel`` (ServiceNow's truncation message) makes the file an error.
    """
    import fastexcel  # loaded when a workbook is read: a compiled extension the other paths never need

    check_xlsx_bounds(path)
    try:
        reader = fastexcel.read_excel(path)
    except Exception as exc:
        raise ReadError(f"{path}: not a readable XLSX workbook ({type(exc).__name__}: {exc})") from exc
    frames: list[pl.DataFrame] = []
    warnings: list[str] = []
    offset = 0
    headers: list[str] = []
    names = sheets or list(reader.sheet_names)
    for name in names:
        if name not in reader.sheet_names:
            raise ReadError(f"{path}: no sheet {name!r} (sheets: {', '.join(reader.sheet_names)})")
        raw = reader.load_sheet(name, header_row=None, dtypes="string").to_polars()
        if raw.height == 0:
            continue
        sheet_headers = unique_headers([("" if v is None else str(v)) for v in raw.row(0)])
        body = raw.slice(1).rename(dict(zip(raw.columns, sheet_headers, strict=True)))
        if sentinel:
            for col in body.columns:
                hits = body.with_row_index("_i").filter(pl.col(col).str.starts_with(sentinel))
                if hits.height:
                    row = int(hits["_i"][0]) + 2
                    raise ReadError(
                        f"{path}: sheet {name!r} row {row}, column {col!r}: '{sentinel}...': the tool cut this "
                        "XLSX export (ServiceNow's 500,000-cell limit); nothing was loaded from it. Export as CSV instead."
                    )
        if not headers:
            headers = sheet_headers
        body = body.with_columns(
            pl.int_range(offset + 2, offset + 2 + body.height, dtype=pl.Int64).alias("_source_row")
        )
        if len(names) > 1:
            warnings.append(f"sheet {name!r}: rows {offset + 2}-{offset + 1 + body.height} of this file")
        offset += body.height
        frames.append(body)
    if not frames:
        raise ReadError(f"{path}: the workbook has no rows (expected an export with a header row)")
    text = pl.concat(frames, how="diagonal_relaxed")
    data_cols = [c for c in text.columns if c != "_source_row"]
    blank = pl.all_horizontal([pl.col(c).is_null() | (pl.col(c).str.strip_chars() == "") for c in data_cols])
    text, controlled = replace_controls(text.filter(~blank))
    if controlled:
        warnings.append(control_warning(controlled))
    text = normalise_nulls(text, nulls)
    return text, headers, warnings


@dataclass
class JsonShape:
    """Where the records of a JSON export are and what the first one holds."""

    prefix: str  # ijson prefix of the records: "result.item", "records.item", "item"
    container: str  # "result", "records", "" (top-level array), or another key
    first_keys: list[str]
    single: bool = False  # {"result": {...}}: one record


def json_shape(path: Path, max_events: int = 200_000) -> JsonShape | None:
    """The location of the record array in a JSON file and the keys of its first record (streamed)."""
    import ijson  # loaded when a JSON export is read

    keys: list[str] = []
    with path.open("rb") as f:
        try:
            events = ijson.parse(f)
            container: str | None = None
            item_prefix: str | None = None
            single = False
            for n, (prefix, event, value) in enumerate(events):
                if n > max_events:
                    break
                if container is None:
                    if prefix == "" and event == "start_array":
                        container, item_prefix = "", "item"
                    elif event == "start_array" and "." not in prefix and prefix:
                        container, item_prefix = prefix, f"{prefix}.item"
                    elif event == "start_map" and prefix == "result":
                        container, item_prefix, single = "result", "result", True
                    continue
                if prefix == item_prefix and event == "map_key":
                    keys.append(str(value))
                elif (prefix == item_prefix and event == "end_map") or (
                    prefix == (container or "") and event == "end_array"
                ):
                    break
        except ijson.JSONError as exc:
            raise ReadError(f"{path}: not valid JSON ({exc})") from exc
    if container is None or item_prefix is None:
        return None
    return JsonShape(prefix=item_prefix, container=container, first_keys=keys, single=single)


def load_json_document(path: Path) -> Any:
    """A whole JSON export (``utf-8-sig``) with each object's keys checked: a key given twice is
    refused (``json`` keeps the last value without a trace). Through ``object_pairs_hook``, the
    ``json`` module's hook for exactly this.

    Raises:
        ReadError: not valid JSON, or an object holding a key twice (named, with the file).
    """

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                raise ReadError(
                    f"{path}: a JSON object holds the key {key!r} more than once (JSON parsers keep only the "
                    f"last value, {str(out[key])[:60]!r} or {str(value)[:60]!r}?): nothing was loaded "
                    "(expected each key once per object)"
                )
            out[key] = value
        return out

    try:
        return json.loads(path.read_text(encoding="utf-8-sig"), object_pairs_hook=pairs)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ReadError(f"{path}: not valid JSON ({exc})") from exc


def scalar_text(path: Path, where: str, value: Any) -> Any:
    """``value`` when it is a JSON scalar; a ReadError naming ``where`` when it is an object or array
    (an identity such as an issue key or a tag must not become the text of ``{"a": 1}``)."""
    if isinstance(value, (dict, list)):
        raise ReadError(
            f"{path}: {where} is a JSON {'object' if isinstance(value, dict) else 'array'}, not a value: "
            "nothing was loaded (expected a string or number)"
        )
    return value


__all__ = [
    "READ_ERROR",
    "JsonShape",
    "ReadError",
    "TextTable",
    "check_xlsx_bounds",
    "detect_encoding",
    "gunzip_to",
    "io",
    "is_gzip",
    "json_shape",
    "load_json_document",
    "normalise_nulls",
    "read_csv_text",
    "read_text_bytes",
    "scalar_text",
    "sha256_file",
    "sniff_kind",
    "unique_headers",
    "xlsx_text",
]


class JsonObject(dict):  # type: ignore[type-arg]
    """A JSON object that notes a key it is given twice (ijson builds objects with ``map_type``;
    a plain dict keeps the last value without a trace). The note is kept on the object itself:
    ijson's C backend builds records ahead of the one it yields, so a note kept aside (per thread)
    was read against the wrong record (an earlier one quarantined, the repeating one loaded)."""

    __slots__ = ("repeats",)

    def __setitem__(self, key: str, value: Any) -> None:
        if key in self:
            if not hasattr(self, "repeats"):
                self.repeats: list[str] = []
            self.repeats.append(key)
        dict.__setitem__(self, key, value)


def repeated_keys(value: Any) -> list[str]:
    """The keys repeated in ``value``'s objects, at any level (objects built as :class:`JsonObject`)."""
    out: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            out.extend(getattr(item, "repeats", ()))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return out
