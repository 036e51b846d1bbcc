"""Which connector reads a file: explicit choice, the folder's ``_export.toml``, or the content.

A source system is a module in ``ingest/sources/`` that declares its tables as mappings; this
registry is the explicit list of them (a missing source is a visible diff, not a discovery bug).
"""

from __future__ import annotations

import tempfile
import tomllib
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path

import polars as pl
from changeboard.ingest.mapping import MappedFrame, TableMapping, apply_mapping
from changeboard.ingest.readers import (
    ReadError,
    TextTable,
    csv_batches,
    gunzip_to,
    is_gzip,
    read_csv_text,
    sniff_kind,
)
from changeboard.ingest.sources import delivery, jira, mapped, native, servicenow, servicenow_files
from changeboard.ingest.sources.common import concat_mapped

MANIFEST = "_export.toml"
# Files the directory walker never treats as exports.
IGNORED_SUFFIXES = {".toml", ".md", ".txt", ".part", ".lock"}


@dataclass
class ExportSettings:
    """What a source declares about its exports (``_export.toml`` or command-line options)."""

    system: str | None = None
    table: str | None = None
    timezone: str | None = None
    date_format: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @classmethod
    def for_file(cls, path: Path, override: ExportSettings | None = None) -> ExportSettings:
        """Settings from the file's folder manifest, overridden by explicit options."""
        base = cls()
        data: dict[str, object] = {}
        manifest = path.parent / MANIFEST
        if manifest.exists():
            try:
                data = tomllib.loads(manifest.read_text(encoding="utf-8"))
            except tomllib.TOMLDecodeError as exc:
                raise ReadError(f"{manifest}: not valid TOML: {exc}") from exc
            known = {
                k: data.pop(k)
                for k in ("system", "table", "timezone", "date_format", "encoding", "delimiter")
                if k in data
            }
            base = cls(**known, extra=data)
        if override:
            for k in ("system", "table", "timezone", "date_format", "encoding", "delimiter"):
                if getattr(override, k) is not None:
                    setattr(base, k, getattr(override, k))
            base.extra = {**base.extra, **override.extra}
            if "null_values" in override.extra and manifest.exists():
                # the command line's placeholders add to the manifest's, they do not replace them
                base.extra["null_values"] = list(
                    dict.fromkeys(
                        [*_as_list(data.get("null_values")), *_as_list(override.extra["null_values"])]
                    )
                )
        if base.system is None and base.extra.get("mapping"):
            base.system = mapped.SYSTEM
            mapping_file = Path(str(base.extra["mapping"]))
            if (
                not mapping_file.is_absolute()
                and manifest.exists()
                and not (override and override.extra.get("mapping"))
            ):
                base.extra["mapping"] = str(manifest.parent / mapping_file)
        return base


def _as_list(value: object) -> list[str]:
    if value is None:
        return []
    return [str(value)] if isinstance(value, str) else [str(v) for v in value]  # type: ignore[union-attr]


@dataclass
class Reading:
    """A file opened by a connector: what was detected, the canonical frames and warnings.

    ``frames`` may be produced as they are asked for (a large export, batch by batch: several frames
    of one entity, one after another); ``warnings`` is complete once they all were. :meth:`close`
    releases what the reading holds (temporary files, a transcoding thread) whether or not every
    frame was taken.
    """

    system: str
    table: str
    frames: Iterable[MappedFrame]
    warnings: list[str]
    detected_by: str
    resources: ExitStack = field(default_factory=ExitStack)
    # The one entity of a reading whose frames are batches of a single entity, as they are read:
    # the loader streams its new rows into one insert statement (see load.StreamLoad).
    stream_entity: str | None = None

    def close(self) -> None:
        closer = getattr(self.frames, "close", None)  # a generator: its own finally blocks run now
        if closer is not None:
            closer()
        self.resources.close()


Reader = Callable[[Path, ExportSettings], Reading]


def _first_number(text: TextTable) -> str | None:
    for col in ("number", "Number"):
        if col in text.frame.columns and text.frame.height:
            v = text.frame[col].drop_nulls().head(1).to_list()
            return str(v[0]) if v else None
    return None


def _with_settings(mapping: TableMapping, settings: ExportSettings) -> TableMapping:
    changes: dict[str, object] = {}
    if settings.timezone:
        changes["timezone"] = settings.timezone
    if settings.date_format:
        changes["date_formats"] = (settings.date_format, *mapping.date_formats)
    return replace(mapping, **changes) if changes else mapping  # type: ignore[arg-type]


def read_servicenow_csv(path: Path, settings: ExportSettings) -> Reading:
    """A ServiceNow list CSV export of any supported table (audit logs give state history too);
    its batches are read as the reading's frames are asked for."""
    resources = ExitStack()
    try:
        text = resources.enter_context(
            csv_batches(
                path,
                encoding=settings.encoding,
                delimiter=settings.delimiter,
                null_values=servicenow_files.null_values(settings),
                batch_rows=CSV_BATCH_ROWS,
            )
        )
        reading = servicenow_files.read_csv_batches(path, settings, text)
    except BaseException:
        resources.close()
        raise
    reading.resources = resources
    return reading


def read_native_csv(path: Path, settings: ExportSettings) -> Reading:
    """changeboard's own CSV formats (blackout / maintenance windows)."""
    text = read_csv_text(path, encoding=settings.encoding, delimiter=settings.delimiter)
    mapping = _with_settings(native.TABLES["change_windows"], settings)
    mapped = apply_mapping(text.frame, mapping, file_label=str(path))
    return Reading(
        system=native.SYSTEM,
        table="change_windows",
        frames=[mapped],
        warnings=text.warnings,
        detected_by="headers",
    )


# Rows of a ServiceNow CSV read, mapped and loaded at a time (D22): a large export is never held whole,
# and a batch loads while the next is read. Two DuckDB row groups: fewer rows per batch make more,
# slower insert statements; more rows make the first load start later.
CSV_BATCH_ROWS = 245_760

# system -> container kind -> reader. Other sources register here.
READERS: dict[str, dict[str, Reader]] = {
    servicenow.SYSTEM: {
        "csv": read_servicenow_csv,
        "xlsx": servicenow_files.read_xlsx,
        "json": servicenow_files.read_json,
        "xml": servicenow_files.read_xml,
    },
    native.SYSTEM: {"csv": read_native_csv},
    jira.SYSTEM: {"csv": jira.read_csv, "json": jira.read_json},
    delivery.GITHUB: {"json": delivery.read_github_json, "csv": delivery.read_release_mining_csv},
    delivery.DELIVERY: {"csv": delivery.read_deployments_csv},
    mapped.SYSTEM: {"csv": mapped.read_mapped, "xlsx": mapped.read_mapped, "json": mapped.read_mapped},
}


def _headers_of(path: Path) -> list[str]:
    # A file that cannot be parsed says so (row and column), not "cannot tell which tool wrote it".
    with csv_batches(path, batch_rows=10) as text:  # the headers come with the first batch
        return text.headers


def detect_system(path: Path, kind: str) -> tuple[str, str]:
    """The source system of a file without a manifest, from its headers or JSON shape; and how it
    was told (reported with every reading)."""
    if kind == "csv":
        raw_headers = _headers_of(path)
        headers = {h.strip().lower() for h in raw_headers}
        if {"issue key", "summary"} <= headers:
            return jira.SYSTEM, "Jira CSV headers (Issue key, Summary)"
        if {"version id", "version name"} <= headers or ({"key", "fixed version"} <= headers):
            return jira.SYSTEM, "Jira version / ticket list headers"
        if {"kind", "start_at", "end_at"} <= headers:
            return native.SYSTEM, "changeboard window headers"
        if set(delivery.DEPLOYMENT_HEADERS) <= headers:
            return delivery.DELIVERY, "deployments CSV headers (deploy_id, environment, status)"
        if set(delivery.RELEASE_MINING_HEADERS) <= headers:
            return delivery.GITHUB, "release-mining CSV headers (project, name, head, time)"
        if headers & {"number", "sys_id", "short_description", "sys_updated_on", "sys_class_name"}:
            return servicenow.SYSTEM, "ServiceNow field-name headers"
        labels = {h.lower() for sig in servicenow.SIGNATURES.values() for h in sig if h[:1].isupper()}
        if "number" in headers or headers & labels:
            return servicenow.SYSTEM, "ServiceNow label headers"
    if kind == "xlsx":
        return servicenow.SYSTEM, "XLSX workbook (ServiceNow Excel export)"
    if kind == "xml":
        return servicenow.SYSTEM, "XML document (ServiceNow unload)"
    if kind == "json":
        shape = servicenow_files.json_shape(path)
        if shape is not None:
            keys = set(shape.first_keys)
            if shape.container in ("result", "records"):
                return servicenow.SYSTEM, f'ServiceNow JSON ({{"{shape.container}": [...]}})'
            if shape.container == "issues" or {"key", "fields"} <= keys:
                return jira.SYSTEM, 'Jira REST search JSON ({"issues": [...]})'
            if "tag_name" in keys or ({"sha", "environment"} <= keys):
                return delivery.GITHUB, "GitHub releases / deployments JSON"
            if {"id", "name"} <= keys and keys & {"released", "releaseDate", "archived", "projectId"}:
                return jira.SYSTEM, "Jira project versions JSON"
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
        reading = _open_plain(path, settings)
        if path.parent != export.parent:
            reading.detected_by += "; gzip-compressed"
        reading.resources.push(unpacked.pop_all())
        return reading


def _open_plain(path: Path, settings: ExportSettings) -> Reading:
    kind = sniff_kind(path)
    system = settings.system
    how = "declared"
    if system is None:
        system, how = detect_system(path, kind)
    readers = READERS.get(system)
    if readers is None:
        raise ReadError(f"{path}: unknown source system {system!r} (known: {', '.join(sorted(READERS))})")
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
        for mapped in reading.frames:
            parts.setdefault(mapped.entity, []).append(mapped)
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


__all__ = ["READERS", "ExportSettings", "Reading", "expand_paths", "open_file", "pl", "read_file"]
