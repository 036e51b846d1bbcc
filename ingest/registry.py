"""Which connector reads a file: explicit choice, the folder's ``_export.toml``, or the content.

A source system is a module in ``ingest/sources/`` that declares a :class:`~changeboard.ingest.base.Source`
against :mod:`changeboard.ingest.base`; this registry is the explicit list of those declarations (a
missing source is a visible diff, not a discovery bug) and dispatches to them. Sources never import it.
"""

from __future__ import annotations

import tempfile
from contextlib import ExitStack
from pathlib import Path

from changeboard.ingest.base import MANIFEST, ExportSettings, Reader, Reading, Sample, Source
from changeboard.ingest.mapping import MappedFrame
from changeboard.ingest.readers import (
    ReadError,
    check_document_bounds,
    csv_batches,
    gunzip_to,
    is_gzip,
    json_shape,
    scans_remembered,
    sniff_kind,
)
from changeboard.ingest.sources import delivery, jira, mapped, native, servicenow_files
from changeboard.ingest.sources.common import concat_mapped

# Files the directory walker never treats as exports.
IGNORED_SUFFIXES = {".toml", ".md", ".txt", ".part", ".lock"}

# Every source system, in the order detection asks them (see detect_system). A source's module
# declares it; a new one is added here.
SOURCES: tuple[Source, ...] = (
    servicenow_files.SOURCE,
    jira.SOURCE,
    native.SOURCE,
    delivery.DEPLOYMENTS_SOURCE,
    delivery.GITHUB_SOURCE,
    mapped.SOURCE,
)
BY_SYSTEM: dict[str, Source] = {source.system: source for source in SOURCES}
# system -> container kind -> reader.
READERS: dict[str, dict[str, Reader]] = {source.system: dict(source.readers) for source in SOURCES}


def _headers_of(path: Path) -> list[str]:
    # A file that cannot be parsed says so (row and column), not "cannot tell which tool wrote it".
    with csv_batches(path, batch_rows=10) as text:  # the headers come with the first batch
        return text.headers


def sample_of(path: Path, kind: str) -> Sample:
    """What the sources' recognisers look at: a CSV's headers, a JSON document's record shape."""
    if kind == "csv":
        return Sample(path, kind, headers=frozenset(h.strip().lower() for h in _headers_of(path)))
    if kind == "json":
        return Sample(path, kind, json=json_shape(path))
    return Sample(path, kind)


def detect_system(path: Path, kind: str) -> tuple[str, str]:
    """The source system of a file without a manifest, from its headers or JSON shape; and how it
    was told (reported with every reading).

    The first source (in :data:`SOURCES` order) that recognises the file by its own signature wins;
    failing that, the first generic match (ServiceNow's label headers, any workbook).
    """
    sample = sample_of(path, kind)
    generic: tuple[str, str] | None = None
    for source in SOURCES:
        found = source.recognise(sample) if source.recognise else None
        if found is None:
            continue
        if not found.generic:
            return source.system, found.how
        generic = generic or (source.system, found.how)
    if generic is not None:
        return generic
    raise ReadError(
        f"{path}: cannot tell which tool wrote this {kind} file (expected a ServiceNow or Jira export, GitHub releases, "
        "a deployments CSV, a changeboard window file, or a folder with an _export.toml / a --mapping file)"
    )


def open_file(path: Path, override: ExportSettings | None = None) -> Reading:
    """Open one export with the right connector: its source and table are told at once, its frames
    may come as they are read (see :class:`Reading`). The caller closes the reading."""
    settings = ExportSettings.for_file(path, override)
    export = path
    with ExitStack() as unpacked:
        if is_gzip(path):  # a compressed export: read its decompressed copy (the manifest is the export's)
            tmp = Path(unpacked.enter_context(tempfile.TemporaryDirectory(prefix="changeboard-gz-")))
            path = gunzip_to(path, tmp)
        with scans_remembered():  # detection and the reader scan the file once
            reading = _open_plain(path, settings)
        if path.parent != export.parent:
            reading.detected_by += "; gzip-compressed"
        reading.resources.push(unpacked.pop_all())
        return reading


def _open_plain(path: Path, settings: ExportSettings) -> Reading:
    kind = sniff_kind(path)
    check_document_bounds(path, kind)  # JSON / XML size and nesting, before any parser
    system = settings.system
    how = "declared"
    if system is None:
        system, how = detect_system(path, kind)
    source = BY_SYSTEM.get(system)
    if source is None:
        raise ReadError(f"{path}: unknown source system {system!r} (known: {', '.join(sorted(BY_SYSTEM))})")
    readers = source.readers
    reader = readers.get(kind)
    if reader is None:
        raise ReadError(
            f"{path}: {system} {kind} files are not supported (supported: {', '.join(sorted(readers))})"
        )
    reading = reader(path, settings)
    reading.detected_by = f"{how}; {reading.detected_by}"
    return reading


def read_file(path: Path, override: ExportSettings | None = None) -> Reading:
    """Read one export whole: every frame of the reading, the batches of an entity as one frame."""
    reading = open_file(path, override)
    try:
        if isinstance(reading.frames, list):
            return reading
        parts: dict[str, list[MappedFrame]] = {}
        for frame in reading.frames:
            parts.setdefault(frame.entity, []).append(frame)
    finally:
        reading.close()
    reading.frames = [p[0] if len(p) == 1 else concat_mapped(p, entity) for entity, p in parts.items()]
    return reading


def expand_paths(paths: list[Path]) -> list[Path]:
    """Files given, and every export file under folders given (sorted, manifests skipped)."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(
                sorted(
                    f
                    for f in p.rglob("*")
                    if f.is_file()
                    and f.suffix.lower() not in IGNORED_SUFFIXES
                    and not f.name.startswith((".", "_"))
                )
            )
        elif p.exists():
            out.append(p)
        else:
            raise ReadError(f"{p}: no such file or folder")
    return out


__all__ = [
    "MANIFEST",
    "READERS",
    "SOURCES",
    "ExportSettings",
    "Reading",
    "detect_system",
    "expand_paths",
    "open_file",
    "read_file",
]
