"""The transcoder of files that are not UTF-8 gives, byte for byte, what decoding each chunk with
Python's codecs gives (the reference below is the transcoder as it was before the fast cp1252 path):
the same UTF-8 copy, chunk count, first cp1252 line and mixed-encoding flag."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from changeboard.ingest import readers
from hypothesis import given, settings
from hypothesis import strategies as st

_UTF8_SEQ = re.compile(rb"[\xc2-\xf4][\x80-\xbf]")
_HIGH_BYTE = re.compile(rb"[\x80-\xff]")


def _reference(path: Path, out: Path, chunk_size: int) -> tuple[bytes, int, int, bool]:
    fallback = first_bad = 0
    utf8_text = False
    line_no = 1
    result = []
    with path.open("rb") as src:
        rest = b""
        while True:
            chunk = src.read(chunk_size)
            data = rest + chunk
            if chunk:
                cut = data.rfind(b"\n") + 1
                if cut == 0:
                    rest = data
                    continue
                data, rest = data[:cut], data[cut:]
            if _HIGH_BYTE.search(data) is None:
                result.append(data)
            elif _UTF8_SEQ.search(data) is None:
                high = _HIGH_BYTE.search(data)
                assert high is not None
                fallback += 1
                first_bad = first_bad or line_no + data.count(b"\n", 0, high.start())
                result.append(data.decode("cp1252", errors="replace").encode("utf-8"))
            else:
                text = data.decode("utf-8", errors="surrogateescape")
                bad = list(readers._BAD_LINE.finditer(text))
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
                    utf8_text = utf8_text or bool(
                        readers._NON_ASCII_UTF8.search(readers._BAD_LINE.sub("", text))
                    )
                    text = "".join(pieces)
                else:
                    utf8_text = True
                result.append(text.encode("utf-8"))
            line_no += data.count(b"\n")
            if not chunk:
                break
    return b"".join(result), fallback, first_bad, utf8_text


def _both(tmp_path: Path, data: bytes, chunk_size: int, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "export.csv"
    src.write_bytes(data)
    monkeypatch.setattr(readers, "CHUNK", chunk_size)
    out_dir = tmp_path / "out"
    out_dir.mkdir(exist_ok=True)
    copy, fallback, first_bad, utf8_text, has_nul = readers._transcode_mixed(src, out_dir)
    expected = _reference(src, out_dir, chunk_size)
    assert (copy.read_bytes(), fallback, first_bad, utf8_text) == expected
    # the gate of the NUL and control-character replacement: any in the UTF-8 copy (issue #20)
    controls = "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"
    assert has_nul == bool(re.search(controls, copy.read_bytes().decode("utf-8")))


LINE = st.one_of(
    st.binary(max_size=40).map(lambda b: b.replace(b"\n", b" ")),
    st.text(max_size=20).map(lambda t: t.replace("\n", " ").encode("utf-8", errors="surrogatepass")),
    st.text(alphabet='aé–’€Ž\u0081 ,"', max_size=20).map(lambda t: t.encode("cp1252", errors="replace")),
    st.sampled_from([b"plain ascii", b"caf\xe9", b"caf\xc3\xa9", b"\xc3\x28", b"\x96\x81\x8d\x9d\xff"]),
)


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(LINE, max_size=30), chunk_size=st.sampled_from([7, 64, 1 << 16]), eol=st.booleans())
def test_transcode_matches_the_codec_reference(
    tmp_path_factory: pytest.TempPathFactory, lines: list[bytes], chunk_size: int, eol: bool
) -> None:
    tmp = tmp_path_factory.mktemp("transcode")
    data = b"\n".join(lines) + (b"\n" if eol else b"")
    with pytest.MonkeyPatch.context() as mp:
        _both(tmp, data, chunk_size, mp)


@pytest.mark.parametrize("high_share", [0.0005, 0.02, 0.5])
def test_sparse_and_dense_cp1252_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, high_share: float
) -> None:
    import random

    rng = random.Random(7)
    high = bytes(range(0x80, 0x100))
    data = bytearray()
    for _ in range(2000):
        line = bytes(
            rng.choice(high) if rng.random() < high_share else rng.choice(b'abc ,"') for _ in range(60)
        )
        data += line + b"\r\n"
    _both(tmp_path, bytes(data), 4096, monkeypatch)


def test_every_cp1252_byte_as_the_codec_reads_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    data = bytes(range(256)) * 3
    arr = np.frombuffer(data, dtype=np.uint8)
    high = np.flatnonzero(arr >= 0x80)
    monkeypatch.setattr(readers, "_SPARSE_HIGH", 0)  # the byte-by-byte path, however dense
    assert readers._cp1252_to_utf8(data, high) == data.decode("cp1252", errors="replace").encode("utf-8")


def test_utf8_pair_test_matches_the_pattern() -> None:
    import numpy as np

    for a in range(0x80, 0x100):
        for b in (0x7F, 0x80, 0xBF, 0xC0, 0xC2, 0xF4, 0xF5):
            for data in (bytes([a, b]), bytes([b, a]), bytes([a, 0x41, b])):
                arr = np.frombuffer(data, dtype=np.uint8)
                high = np.flatnonzero(arr >= 0x80)
                assert readers._has_utf8_pair(arr, high) == (_UTF8_SEQ.search(data) is not None), data


def _controls_reference(raw: bytes) -> bool:
    """What has_controls answers, by definition: a NUL or a CONTROL_PATTERN character in the text."""
    text = raw.decode("utf-8", errors="surrogateescape")
    return (
        "\x00" in text
        or re.search(readers.CONTROL_PATTERN.replace(r"\x{", r"\u").replace("}", ""), text) is not None
    )


_CONTROL_PIECES = [
    b"a",
    b"\n",
    b"\r",
    b"\t",
    b"\x00",
    b"\x1b",
    b"\x7f",
    "\u2018".encode(),  # E2 80 98: a typographic quote, the bidi controls' neighbour
    "\u2013".encode(),
    "\u202a".encode(),
    "\u202e".encode(),
    "\u202f".encode(),
    "\u2066".encode(),
    "\u2069".encode(),
    "\u2065".encode(),
    "\u206a".encode(),
    "\u0085".encode(),
    "\u00a0".encode(),
    b"\xe2",
    b"\xe2\x80",
    b"\xe2\x81",
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_CONTROL_PIECES), max_size=12))
def test_control_gate_matches_the_pattern(pieces: list[bytes]) -> None:
    raw = b"".join(pieces)
    assert readers.has_controls(raw) == _controls_reference(raw)
    padded = b"x" * 5 + raw + b"y" * 3
    assert readers.has_controls(padded, 5, 5 + len(raw)) == _controls_reference(raw)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=255), max_size=12))
def test_cp1252_control_gate_reads_the_bytes_as_has_controls_reads_the_text(values: list[int]) -> None:
    """A cp1252 chunk's control gate is taken from its bytes: what has_controls says of its decoding."""
    raw = bytes(values)
    decoded = raw.decode("cp1252", errors="replace").encode("utf-8")
    assert readers._has_c0_controls(raw) == readers.has_controls(decoded) == _controls_reference(decoded)


def test_no_cp1252_byte_above_ascii_decodes_to_a_control() -> None:
    for b in range(0x80, 0x100):
        assert not readers.has_controls(bytes([b]).decode("cp1252", errors="replace").encode("utf-8")), hex(b)
